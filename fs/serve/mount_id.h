// SPDX-License-Identifier: Apache-2.0
// Which mount a file is on, by an id the kernel never gives another mount:
// how the service tells the mount a session began on from one made at the
// same path later. Reentrant.
#ifndef SEALFS_FS_SERVE_MOUNT_ID_H_
#define SEALFS_FS_SERVE_MOUNT_ID_H_

#include <cstdint>
#include <optional>

namespace sealfs::serve {

struct MountOf {
  // STATX_MNT_ID_UNIQUE (Linux 6.8; never reused; numbered from 2^31 up,
  // apart from the old ids, on recent kernels: 6.18 here) where the
  // kernel has it; else the old id, which the next mount made may get
  // again once this one is gone.
  uint64_t id = 0;
  uint64_t dev = 0;         // st_dev of the file
  bool mount_root = false;  // the file is the root of that mount
};

// The mount of `name` under `dir` (statx: `flags` as there, with
// AT_STATX_DONT_SYNC added, so that no request reaches a FUSE server,
// which may be dead or this very process). A FUSE mount that does not let
// this process in answers only a statx that asks for nothing, which gives
// the old id; so does `old_id`, to compare with an id recorded that way
// (IsUniqueMountId false). nullopt if statx fails.
std::optional<MountOf> StatMount(int dir, const char* name, int flags,
                                 bool old_id = false);

// Whether `id` is one of the ids never reused (a kernel that numbers them
// from 1 has them taken for old ones: a session's mount is then never
// found again, and so never unmounted by the service).
inline bool IsUniqueMountId(uint64_t id) { return id >= (uint64_t{1} << 31); }

}  // namespace sealfs::serve

#endif  // SEALFS_FS_SERVE_MOUNT_ID_H_
