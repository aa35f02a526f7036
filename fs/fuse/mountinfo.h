// SPDX-License-Identifier: Apache-2.0
// Reading /proc/self/mountinfo fields. Reentrant.
#ifndef SEALFS_FS_FUSE_MOUNTINFO_H_
#define SEALFS_FS_FUSE_MOUNTINFO_H_

#include <string>
#include <string_view>

namespace sealfs::fuse {

// Undoes mountinfo's escapes of space, tab, newline and backslash (\040,
// \011, \012, \134) in a mount point field; anything else is kept as is.
std::string UnescapeMountinfo(std::string_view field);

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_MOUNTINFO_H_
