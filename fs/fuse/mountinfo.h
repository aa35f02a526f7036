// SPDX-License-Identifier: Apache-2.0
// Reading /proc/self/mountinfo. Reentrant.
#ifndef SEALFS_FS_FUSE_MOUNTINFO_H_
#define SEALFS_FS_FUSE_MOUNTINFO_H_

#include <optional>
#include <string>
#include <string_view>

namespace sealfs::fuse {

// Undoes mountinfo's escapes of space, tab, newline and backslash (\040,
// \011, \012, \134) in a mount point field; anything else is kept as is.
std::string UnescapeMountinfo(std::string_view field);

struct MountEntry {
  long id = 0;         // reused by the kernel as soon as it is unmounted
  std::string device;  // "MAJ:MIN", digits and one colon
  std::string fstype;  // "fuse.sealfs" for ours
};

// The topmost mount at `path` (absolute and canonical, as mountinfo spells
// it): the last line listing it. nullopt if nothing is mounted there or
// /proc/self/mountinfo cannot be read.
std::optional<MountEntry> FindTopMount(const std::string& path);

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_MOUNTINFO_H_
