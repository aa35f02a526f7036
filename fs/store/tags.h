// SPDX-License-Identifier: Apache-2.0
// Tags: STORE/images/NAME holds the exact bytes of an image file (manifest
// plus signature block). Tags are the roots of gc: an object is live iff a
// tagged image references it. Names are checked before any path is built
// from them. Reentrant.
#ifndef SEALFS_FS_STORE_TAGS_H_
#define SEALFS_FS_STORE_TAGS_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fs/store/scan.h"
#include "sealfs/digest.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/status.h"
#include "sealfs/store.h"

namespace sealfs::store {

inline constexpr size_t kMaxTagNameLen = 128;
// A tag file larger than this is refused unread.
inline constexpr uint64_t kMaxTagFileSize = uint64_t{1} << 30;

// OK iff `name` is 1..128 bytes of [A-Za-z0-9._-], does not start with '.'
// and does not contain ".tmp-" (reserved for temp files of atomic writes, so
// a half-written tag is never listed). EINVAL naming the rule otherwise.
Status CheckTagName(std::string_view name);

// Writes `image` as images/NAME atomically (temp file, fsync, rename,
// directory fsync), replacing an existing tag of that name. Creates images/.
// The caller holds the store lock (shared) and has validated the image.
Status WriteTag(const Store& store, std::string_view name,
                std::span<const uint8_t> image);

// Removes images/NAME. ENOENT if there is no such tag.
Status DeleteTag(const Store& store, std::string_view name);

// One entry of images/. When `status` is not OK the entry is broken (not a
// valid name, not a regular file, unreadable, or not a valid image) and
// `manifest` is null.
struct Tag {
  std::string name;  // printable form of the name found on disk
  Status status;
  std::shared_ptr<const Manifest> manifest;
  uint64_t file_size = 0;
};

// Every tag, sorted by name; temp files of in-progress writes are skipped. An
// empty list if images/ does not exist. Fails only if images/ itself cannot
// be read (or is not a real directory: kErrCorrupt).
Result<std::vector<Tag>> ListTags(const Store& store);

// Parses and validates image file bytes: the manifest (Manifest::FromBytes)
// and the signature block after it. kErrCorrupt naming the failed check.
Result<std::shared_ptr<const Manifest>> ParseImage(std::vector<uint8_t> bytes);

// One object an image needs, with its size from the manifest.
struct ObjectRef {
  Digest digest;
  uint64_t size = 0;
};
// The distinct objects `image` references (regular files not inlined),
// sorted by digest.
Result<std::vector<ObjectRef>> ImageObjects(const Manifest& image);

// The ".tmp-" files in images/: tags being written, or left by a `tag`
// that was interrupted (kind kTemp, lstat in `st`). None if images/ is
// missing. gc removes those older than its grace period.
Result<std::vector<ScanEntry>> ScanTagTemps(const Store& store);

}  // namespace sealfs::store

#endif  // SEALFS_FS_STORE_TAGS_H_
