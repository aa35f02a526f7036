// SPDX-License-Identifier: Apache-2.0
// Compares two images path by path from their manifests alone (no store):
// added, removed, type-changed and modified paths, with the list of fields
// that differ. Content is compared by fs-verity digest, computed for inline
// files, so an inline and a stored copy of the same bytes are equal.
// Thread-safety: reentrant.
#ifndef SEALFS_FS_MKFS_IMAGE_DIFF_H_
#define SEALFS_FS_MKFS_IMAGE_DIFF_H_

#include <cstdint>
#include <string>
#include <vector>

#include "sealfs/manifest_reader.h"
#include "sealfs/status.h"

namespace sealfs::mkfs {

enum class ChangeKind { kAdded, kRemoved, kTypeChanged, kModified };

struct PathChange {
  std::string path;
  ChangeKind kind = ChangeKind::kModified;
  // kModified: the fields that differ, in this order: "content", "target",
  // "mode", "uid", "gid", "rdev", "mtime", "xattrs", "links" (the set of
  // paths sharing the inode, hence nlink).
  std::vector<std::string> fields;
  uint32_t old_mode = 0;  // 0 when added
  uint32_t new_mode = 0;  // 0 when removed
};

// Changes from `a` to `b`, one per path, sorted as WalkImage orders paths.
// Empty when the trees are equal. Fails only on a manifest accessor error.
Result<std::vector<PathChange>> DiffImages(const Manifest& a,
                                           const Manifest& b);

// "A", "D", "T" or "M".
const char* ChangeLetter(ChangeKind kind);
// "added", "removed", "type", "modified".
const char* ChangeName(ChangeKind kind);
// "regular", "directory", "symlink", "chardev", "blockdev", "fifo", "socket".
const char* FileTypeName(uint32_t mode);

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_IMAGE_DIFF_H_
