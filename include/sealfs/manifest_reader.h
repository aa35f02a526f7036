// SPDX-License-Identifier: Apache-2.0
// Manifest: a read-only view of an image file (manifest plus optional
// signature block), held in memory and used in place. Open() validates the
// whole structure once (docs/FORMAT.md#validation), so a malformed manifest is
// refused up front with one line naming the failed check; accessors still
// bounds-check what they touch and return Status instead of crashing.
// Thread-safety: all methods are const and may be called concurrently.
#ifndef SEALFS_INCLUDE_SEALFS_MANIFEST_READER_H_
#define SEALFS_INCLUDE_SEALFS_MANIFEST_READER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sealfs/digest.h"
#include "sealfs/format.h"
#include "sealfs/status.h"

namespace sealfs {

// Decoded InodeRecord. Field meanings as in format.h.
struct Inode {
  uint64_t ino = 0;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 0;
  uint64_t size = 0;  // regular: bytes; symlink: target length; dir: entries
  int64_t mtime_sec = 0;
  uint32_t mtime_nsec = 0;
  uint32_t xattr_set = kNoXattrs;
  uint32_t rdev_major = 0;
  uint32_t rdev_minor = 0;
  uint64_t payload = 0;
  uint64_t parent = 0;  // directories only
  uint32_t flags = 0;

  bool is_inline() const { return (flags & kInodeInline) != 0; }
};

// One directory entry. `name` points into the mapping: valid as long as the
// Manifest lives.
struct DirEntry {
  std::string_view name;
  uint64_t ino = 0;
  uint8_t type = 0;  // DT_*
};

// One extended attribute; views valid as long as the Manifest lives.
struct XattrView {
  std::string_view key;
  std::string_view value;
};

class IdentityHasher;

class Manifest {
 public:
  // Reads the image file at `path` into private memory (a snapshot: later
  // changes to the file cannot reach the validated bytes) and validates it.
  // The file must be a regular file (EINVAL otherwise). kErrCorrupt with the
  // failed check for a malformed manifest; errno for I/O failures.
  // `alongside`, if given, is other work the caller wants done meanwhile
  // (a mount reads its trusted keys): it runs on the thread that hashes the
  // image, before that starts hashing (the caller's thread then hashes
  // more), or on a thread of its own when the image is too small to hash
  // beside its reading, or in line when no thread can be had. It has run
  // to its end when Open returns, whatever the outcome, unless the file
  // could not be opened or was refused from its header, before it is
  // read; then it has not run at all.
  static Result<std::shared_ptr<const Manifest>> Open(
      const std::string& path, std::function<void()> alongside = {});
  // The same over bytes in memory (tests, fuzzing, freshly written images).
  static Result<std::shared_ptr<const Manifest>> FromBytes(
      std::vector<uint8_t> bytes);
  ~Manifest();
  Manifest(const Manifest&) = delete;
  Manifest& operator=(const Manifest&) = delete;

  // The fs-verity digest of the manifest bytes: the image's identity.
  const Digest& identity() const { return identity_; }
  // The manifest bytes [0, manifest_size) and the bytes after them (the
  // signature block, empty if unsigned). Valid as long as the Manifest lives.
  std::span<const uint8_t> manifest_bytes() const;
  std::span<const uint8_t> trailer_bytes() const;

  uint16_t version() const;
  uint64_t inode_count() const;
  uint64_t dirent_count() const;
  uint64_t digest_count() const;
  uint64_t xattr_set_count() const;
  uint64_t strings_size() const;
  uint64_t inline_size() const;
  // The OCI image config the image was built from (section OCI_CONFIG, at
  // most kMaxOciConfigSize bytes), or empty if it has none. The bytes are
  // not interpreted by validation: parse them as hostile JSON. Valid as
  // long as the Manifest lives.
  std::span<const uint8_t> oci_config() const;

  // ENOENT for an inode number out of range (0 or > inode_count()).
  Result<Inode> GetInode(uint64_t ino) const;
  // Binary search in a directory. ENOTDIR if `dir` is not a directory,
  // ENOENT if the name is absent.
  Result<uint64_t> Lookup(uint64_t dir, std::string_view name) const;
  // Entry `index` (0-based, in sorted order) of a directory; ENOENT past the
  // end, ENOTDIR for a non-directory.
  Result<DirEntry> GetDirEntry(uint64_t dir, uint64_t index) const;
  // Target of a symlink; EINVAL if not a symlink.
  Result<std::string_view> ReadLink(uint64_t ino) const;
  // Content of an inline regular file; EINVAL if not inline.
  Result<std::span<const uint8_t>> InlineData(uint64_t ino) const;
  // Digest of a regular file whose content is in the store; EINVAL if the
  // file is inline or not regular.
  Result<Digest> FileDigest(uint64_t ino) const;
  // All xattrs of an inode, sorted by key.
  Result<std::vector<XattrView>> ListXattrs(uint64_t ino) const;
  // ENODATA if the inode has no such xattr.
  Result<std::string_view> GetXattr(uint64_t ino, std::string_view key) const;
  // Digest `index` of the digest table (for fsck/gc/pull: every object the
  // image references). ENOENT past the end.
  Result<Digest> DigestAt(uint64_t index) const;

 private:
  struct Impl;
  explicit Manifest(std::unique_ptr<Impl> impl);
  // `hasher`, if given, may already hold the identity; it is finished
  // before `impl` can go away.
  static Result<std::shared_ptr<const Manifest>> Validate(
      std::unique_ptr<Impl> impl, IdentityHasher* hasher = nullptr);
  std::unique_ptr<Impl> impl_;
  Digest identity_;
};

}  // namespace sealfs

#endif  // SEALFS_INCLUDE_SEALFS_MANIFEST_READER_H_
