// SPDX-License-Identifier: Apache-2.0
// Visits every path of an image in canonical order: depth first, entries
// sorted by name, so paths come sorted component by component and a
// directory comes right before its contents. Used by dump and diff.
// Thread-safety: reentrant.
#ifndef SEALFS_FS_MKFS_IMAGE_WALK_H_
#define SEALFS_FS_MKFS_IMAGE_WALK_H_

#include <functional>
#include <string>
#include <string_view>

#include "sealfs/manifest_reader.h"
#include "sealfs/status.h"

namespace sealfs::mkfs {

// Calls `visit(path, inode)` for "/" and then every entry below it; a
// hard-linked inode is visited once per path. Stops at the first non-OK
// status `visit` returns. kErrCorrupt if a directory is reached twice (the
// validator already refuses that; checked again so a walk always ends).
Status WalkImage(
    const Manifest& manifest,
    const std::function<Status(const std::string& path, const Inode& inode)>&
        visit);

// Orders paths as WalkImage visits them: bytes compared as unsigned, with
// '/' before every other byte.
bool CanonicalPathLess(std::string_view a, std::string_view b);

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_IMAGE_WALK_H_
