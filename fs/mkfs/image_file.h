// SPDX-License-Identifier: Apache-2.0
// Helpers for the commands that read an image without mounting it (ls, cat,
// inspect): path resolution inside a manifest and `ls -l` style formatting.
// Thread-safety: all functions are reentrant.
#ifndef SEALFS_FS_MKFS_IMAGE_FILE_H_
#define SEALFS_FS_MKFS_IMAGE_FILE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "sealfs/manifest_reader.h"
#include "sealfs/status.h"

namespace sealfs::mkfs {

// Resolves `path` ("/", "/etc/passwd", "etc//passwd/") from the root, one
// component at a time with Manifest::Lookup; symlinks are never followed,
// "." is skipped and ".." is refused (EINVAL). ENOENT/ENOTDIR as Lookup
// gives them, with the path as context.
Result<uint64_t> ResolvePath(const Manifest& manifest, std::string_view path);

// "drwxr-xr-x", "-rwsr-xr-x", "crw-rw-rw-", ... as ls(1) prints a mode.
std::string ModeString(uint32_t mode);

// `name` with control bytes, DEL and backslash escaped as \ooo (like ls -b),
// so a hostile name cannot drive the terminal. Other bytes pass unchanged.
std::string EscapeName(std::string_view name);

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_IMAGE_FILE_H_
