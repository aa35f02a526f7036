// SPDX-License-Identifier: Apache-2.0
// Aborting a FUSE connection through the fusectl filesystem, as
// `umount -f` would: every request waiting on it ends with ENOTCONN.
#ifndef SEALFS_FS_FUSE_FUSECTL_H_
#define SEALFS_FS_FUSE_FUSECTL_H_

#include <string>

#include "sealfs/status.h"

namespace sealfs::fuse {

// Aborts the connection behind the mount of `device` ("0:MINOR", as
// mountinfo gives it; the minor is the connection's number). Where fusectl
// is not mounted, mounts it in a mount namespace of this process's own,
// which this call therefore leaves it in: for a process about to exit.
// Needs CAP_SYS_ADMIN. ENOENT: no such connection (already gone).
Status AbortFuseConnection(const std::string& device);

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_FUSECTL_H_
