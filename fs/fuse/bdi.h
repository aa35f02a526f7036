// SPDX-License-Identifier: Apache-2.0
// Raising the kernel readahead of a FUSE mount's backing device info, so
// that cold sequential reads arrive as fewer, larger, overlapping requests.
#ifndef SEALFS_FS_FUSE_BDI_H_
#define SEALFS_FS_FUSE_BDI_H_

#include <string>

#include "sealfs/status.h"

namespace sealfs::fuse {

// Readahead the driver asks for, in KiB (also the max_readahead it answers
// the kernel's INIT with, which caps the bdi value).
inline constexpr unsigned kReadaheadKb = 4096;

// Writes `kb` to /sys/class/bdi/<dev>/read_ahead_kb for the FUSE mount at
// `path`, which must be canonical (as mountinfo spells it): resolving it
// here would stat the new mount and wait for the INIT this thread has not
// answered yet. The device comes from /proc/self/mountinfo. Needs root
// (call it before privileges are dropped). Best effort for the caller:
// failure only costs speed.
Status SetMountReadahead(const std::string& path, unsigned kb);

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_BDI_H_
