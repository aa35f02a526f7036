// SPDX-License-Identifier: Apache-2.0
// Closing the descriptors the service inherited, from whoever started it,
// on the mounts it serves. Kept open, such a descriptor would be closed as
// the process exits; after a kill -9 that close waits uninterruptibly for
// the answer to the kernel's FLUSH, which only the dying process could
// give, so it never finishes exiting and no successor starts.
#ifndef SEALFS_FS_SERVE_INHERITED_FILES_H_
#define SEALFS_FS_SERVE_INHERITED_FILES_H_

#include <cstdint>
#include <span>

namespace sealfs::serve {

// Closes every descriptor >= 3 of a file on one of the mounts `mount_ids`
// (as statx's stx_mnt_id, from the kernel's cache: no request reaches a FUSE
// server); returns how many. Call once those mounts are served, so that the FLUSH of each
// close is answered.
int CloseInheritedFilesOn(std::span<const uint64_t> mount_ids);

}  // namespace sealfs::serve

#endif  // SEALFS_FS_SERVE_INHERITED_FILES_H_
