// SPDX-License-Identifier: Apache-2.0
// LayerApplier: applies the entries of OCI image layers, in order, to an
// ImageTree, with the image-spec's whiteout and replacement rules. It knows
// nothing about tar, so the rules can be tested on their own. RecordedLayer
// keeps a layer's entries to be applied later, so that layers can be read
// on threads of their own while earlier ones are applied.
// Thread-safety: not thread-safe (each mutates one object).
#ifndef SEALFS_FS_MKFS_LAYER_APPLY_H_
#define SEALFS_FS_MKFS_LAYER_APPLY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sealfs/manifest_writer.h"
#include "sealfs/status.h"

namespace sealfs::mkfs {

inline constexpr char kWhiteoutPrefix[] = ".wh.";
inline constexpr char kOpaqueWhiteout[] = ".wh..wh..opq";
// Longest archive path accepted, in bytes (PATH_MAX - 1).
inline constexpr size_t kMaxEntryPathLen = 4095;

// Splits an archive path into its components: leading '/' and "./", empty
// and "." components are dropped ("./a//b/" and "/a/b" give {a, b}; "." and
// "/" give {}, the root). EINVAL for a ".." component (refused rather than
// resolved, so no entry can name anything but the path it spells), a NUL
// byte, or a path over kMaxEntryPathLen; ENAMETOOLONG for a component over
// kMaxNameLen.
Result<std::vector<std::string>> SplitEntryPath(std::string_view path);

// The metadata of the parent directories an entry needs but the layer does
// not contain: 0755, owner 0:0, mtime 0 (what OCI runtimes use; fixed, so
// the image does not depend on when it was built).
InodeSpec ImplicitDirSpec();

// Where a layer's entries go, in the order of the archive.
class LayerSink {
 public:
  virtual ~LayerSink() = default;
  // An entry that is not a hard link (whiteouts included): LayerApplier::Apply.
  virtual Status Apply(std::string_view path, InodeSpec spec) = 0;
  // A hard link: LayerApplier::ApplyHardLink.
  virtual Status ApplyHardLink(std::string_view path,
                               std::string_view target) = 0;
};

class LayerApplier : public LayerSink {
 public:
  // REQUIRES: `tree` outlives the applier.
  explicit LayerApplier(ImageTree& tree) : tree_(tree) {}

  // Starts the next layer: whiteouts from now on hide only what earlier
  // layers put in the tree, never this layer's own entries.
  void BeginLayer() { this_layer_.clear(); }

  // Applies one entry at `path` (as in the archive: SplitEntryPath rules).
  // - A name ".wh..wh..opq" makes its directory opaque: the entries earlier
  //   layers put below it are removed, this layer's are kept (in whichever
  //   order they come). The directory is created if missing.
  // - A name ".wh.NAME" removes NAME of an earlier layer, with its subtree
  //   (when NAME is a directory this layer also has, only the earlier
  //   layers' entries below it go). Nothing to remove is not an error.
  //   `spec` is ignored for both kinds of whiteout.
  // - Anything else is added as `spec` (whose content the caller has set).
  //   A directory over a directory merges: the children stay, the metadata
  //   is the new one. Otherwise whatever is at the path (with its subtree)
  //   is replaced. The empty path is the root: it takes `spec`'s metadata.
  // Missing parents are created with ImplicitDirSpec().
  // Refusals (the tree is unchanged by the refused entry): EINVAL for a bad
  // path (see SplitEntryPath), a root that is not a directory, a whiteout
  // name that names nothing (".wh." alone) or an unknown ".wh..wh." marker,
  // an unknown file type, a whiteout name as a parent ("a/.wh.b/c");
  // ENOTDIR if a parent is not a directory (e.g. a symlink: paths are never
  // resolved through symlinks).
  Status Apply(std::string_view path, InodeSpec spec) override;

  // Adds `path` as a hard link to the inode at `target`, which is looked up
  // in the tree as it is now: an entry earlier in this layer or one of an
  // earlier layer. ENOENT if `target` does not exist, EPERM if it is a
  // directory (including the root), EINVAL for a bad path or an empty `path`
  // (the root), ENOTDIR for a non-directory parent. A `path` whose name is
  // a whiteout is applied as the whiteout (the name decides, not the type).
  Status ApplyHardLink(std::string_view path,
                       std::string_view target) override;

 private:
  // Resolves the parent directory of `parts`, creating missing ones.
  Result<NodeId> MakeParents(const std::vector<std::string>& parts);
  // Removes every entry below `dir` that this layer did not add.
  Status HideLower(NodeId dir, const std::string& dir_path);
  Status ApplyWhiteout(const std::vector<std::string>& parts);
  // Replaces (or merges into) the entry `name` of `dir` with `spec`.
  Status Place(NodeId dir, const std::string& name, const std::string& path,
               InodeSpec spec);

  // How this layer put a path in the tree: as an entry of its own, or as
  // the parent of one.
  enum class Origin { kExplicit, kImplicit };

  ImageTree& tree_;
  // Paths ("a/b") this layer added or needed as parents. Entries replaced
  // later in the same layer may leave stale paths here; they are harmless,
  // as only existing children are ever looked up.
  std::map<std::string, Origin> this_layer_;
};

// A layer's entries, kept in order to be applied once the layers before it
// have been. Recording never refuses anything: every check is the
// applier's, at Replay.
class RecordedLayer : public LayerSink {
 public:
  Status Apply(std::string_view path, InodeSpec spec) override;
  Status ApplyHardLink(std::string_view path,
                       std::string_view target) override;

  // Starts a layer in `applier` and applies the entries in the order they
  // were recorded, moving them out. Stops at the first refusal, "entry
  // PATH: reason" ("entry PATH: hard link to TARGET: reason"), as
  // ImportTarLayer words it.
  Status Replay(LayerApplier& applier);

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string path;
    std::optional<std::string> link_target;  // set for a hard link
    InodeSpec spec;                          // unused for a hard link
  };
  std::vector<Entry> entries_;
};

// How a refused hard link names its target, for ImportTarLayer and Replay.
std::string HardLinkContext(std::string_view target);

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_LAYER_APPLY_H_
