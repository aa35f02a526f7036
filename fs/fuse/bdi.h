// SPDX-License-Identifier: Apache-2.0
// Raising the kernel readahead of a FUSE mount's backing device info, so
// that cold sequential reads arrive as fewer, larger, overlapping requests.
#ifndef SEALFS_FS_FUSE_BDI_H_
#define SEALFS_FS_FUSE_BDI_H_

#include <sys/types.h>

#include <string>

#include "sealfs/status.h"

namespace sealfs::fuse {

// Readahead the driver asks for, in KiB (also the max_readahead it answers
// the kernel's INIT with, which caps the bdi value).
inline constexpr unsigned kReadaheadKb = 4096;

// Writes `kb` to /sys/class/bdi/DEVICE/read_ahead_kb, DEVICE being the
// mount's "MAJ:MIN" (MountEntry::device). Needs root (call it before
// privileges are dropped). Best effort for the caller: failure only costs
// speed.
Status SetMountReadahead(const std::string& device, unsigned kb);

// The readahead, in KiB, of the block device that holds a file whose
// st_dev is `dev` (a whole disk or a partition of one); 0 if unknown.
unsigned DeviceReadaheadKb(dev_t dev);

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_BDI_H_
