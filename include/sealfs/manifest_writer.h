// SPDX-License-Identifier: Apache-2.0
// ImageTree: an in-memory description of a filesystem tree, filled by a
// builder (directory walker, tar or dump importer), and WriteManifest(), which
// serialises it into the binary manifest of docs/FORMAT.md.
// The output depends only on the tree's content, never on the order it was
// filled in or on the host: same tree, same bytes.
// Thread-safety: an ImageTree is not thread-safe; WriteManifest is reentrant.
#ifndef SEALFS_INCLUDE_SEALFS_MANIFEST_WRITER_H_
#define SEALFS_INCLUDE_SEALFS_MANIFEST_WRITER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sealfs/digest.h"
#include "sealfs/status.h"

namespace sealfs {

struct Xattr {
  std::string key;    // full name, e.g. "security.capability"
  std::string value;  // raw bytes
  auto operator<=>(const Xattr&) const = default;
};

// Everything recorded about one inode. For a regular file exactly one of
// `digest` (content in the store) and `inline_data` (content in the manifest,
// at most kMaxInlineSize bytes) is set, except that an empty file needs
// neither.
struct InodeSpec {
  uint32_t mode = 0;  // st_mode: type and permission bits
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t mtime_sec = 0;
  uint32_t mtime_nsec = 0;
  uint32_t rdev_major = 0;  // devices only
  uint32_t rdev_minor = 0;
  uint64_t size = 0;        // regular files only
  std::optional<Digest> digest;
  std::optional<std::string> inline_data;
  std::string symlink_target;  // symlinks only
  std::vector<Xattr> xattrs;   // any order; keys unique
};

using NodeId = uint32_t;

class ImageTree {
 public:
  static constexpr NodeId kRoot = 0;

  // The root directory gets `root` (whose type must be S_IFDIR).
  explicit ImageTree(InodeSpec root);

  // Adds an inode not yet linked anywhere.
  NodeId AddInode(InodeSpec spec);
  // Links `child` as `name` in directory `dir`. EEXIST if the name exists;
  // ENOTDIR if `dir` is not a directory; EINVAL for an invalid name (empty,
  // ".", "..", contains '/' or NUL, longer than kMaxNameLen); EMLINK if
  // `child` is a directory that is already linked (or is the root).
  Status Link(NodeId dir, std::string name, NodeId child);
  // Removes `name` from `dir` (ENOENT if absent). A removed directory's
  // subtree becomes unreachable and is not written.
  Status Unlink(NodeId dir, std::string_view name);
  // ENOENT if absent, ENOTDIR if `dir` is not a directory.
  Result<NodeId> Lookup(NodeId dir, std::string_view name) const;

  InodeSpec& inode(NodeId id) { return nodes_[id].spec; }
  const InodeSpec& inode(NodeId id) const { return nodes_[id].spec; }
  // Entries of a directory, sorted by name as unsigned bytes.
  const std::map<std::string, NodeId>& children(NodeId dir) const {
    return nodes_[dir].children;
  }
  size_t node_count() const { return nodes_.size(); }

 private:
  struct Node {
    InodeSpec spec;
    std::map<std::string, NodeId> children;  // directories only
    bool linked = false;                     // directories: has a parent
  };
  std::vector<Node> nodes_;
};

struct WriteOptions {
  // When set, mtimes later than this are clamped to it (SOURCE_DATE_EPOCH).
  std::optional<int64_t> clamp_mtime_sec;
  // When set, kept verbatim in an OCI_CONFIG section (and the manifest gets
  // kIncompatOciConfig): the OCI image config the tree was built from.
  // 1..kMaxOciConfigSize bytes.
  std::optional<std::string> oci_config;
};

// Serialises the tree reachable from the root. Inode numbers are assigned in
// breadth-first order with entries sorted by name, so they are reproducible;
// a hard-linked inode gets its number where it is first reached, and nlink
// counts the links within the image. Strings, xattr sets and digests are
// deduplicated. EINVAL for an oci_config that is empty or over
// kMaxOciConfigSize, and with the path for a spec the format cannot hold (a
// regular file with both or neither of digest and inline data, inline data
// over kMaxInlineSize or not equal to size, a symlink target empty or over
// kMaxSymlinkLen, an xattr key empty, duplicated or over its limits, an
// unknown file type).
Result<std::vector<uint8_t>> WriteManifest(const ImageTree& tree,
                                           const WriteOptions& options = {});

}  // namespace sealfs

#endif  // SEALFS_INCLUDE_SEALFS_MANIFEST_WRITER_H_
