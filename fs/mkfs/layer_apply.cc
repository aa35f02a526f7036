// SPDX-License-Identifier: Apache-2.0
// OCI layer semantics on an ImageTree: path checks, implicit parents,
// replacement, directory merge, whiteouts, opaque directories, hard links.
#include "fs/mkfs/layer_apply.h"

#include <sys/stat.h>

#include <utility>

#include "fs/mkfs/image_file.h"
#include "sealfs/format.h"

namespace sealfs::mkfs {
namespace {

constexpr char kMetaWhiteoutPrefix[] = ".wh..wh.";

std::string JoinPath(const std::string& dir_path, const std::string& name) {
  return dir_path.empty() ? name : dir_path + "/" + name;
}

// "a/b/c" of parts[0, count).
std::string JoinParts(const std::vector<std::string>& parts, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) out = JoinPath(out, parts[i]);
  return out;
}

bool IsDir(const InodeSpec& spec) { return S_ISDIR(spec.mode); }

}  // namespace

Result<std::vector<std::string>> SplitEntryPath(std::string_view path) {
  if (path.size() > kMaxEntryPathLen) {
    return Status::FromErrno(EINVAL, "path longer than " +
                                         std::to_string(kMaxEntryPathLen) +
                                         " bytes");
  }
  if (path.find('\0') != std::string_view::npos) {
    return Status::FromErrno(EINVAL, "path contains a NUL byte");
  }
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      return Status::FromErrno(EINVAL, "path has a '..' component");
    }
    if (part.size() > kMaxNameLen) {
      return Status::FromErrno(ENAMETOOLONG,
                               "name longer than " +
                                   std::to_string(kMaxNameLen) + " bytes");
    }
    parts.emplace_back(part);
  }
  return parts;
}

InodeSpec ImplicitDirSpec() {
  InodeSpec spec;
  spec.mode = S_IFDIR | 0755;
  return spec;
}

Result<NodeId> LayerApplier::MakeParents(
    const std::vector<std::string>& parts) {
  // A whiteout name is a marker, never a directory: refused before any
  // change, so "x/.wh.y/z" cannot smuggle a ".wh.y" directory into the image.
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i].starts_with(kWhiteoutPrefix)) {
      return Status::FromErrno(EINVAL, "whiteout name " +
                                           EscapeName(parts[i]) +
                                           " used as a directory");
    }
  }
  NodeId dir = ImageTree::kRoot;
  std::string path;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    path = JoinPath(path, parts[i]);
    Result<NodeId> child = tree_.Lookup(dir, parts[i]);
    if (child.ok()) {
      if (!IsDir(tree_.inode(*child))) {
        return Status::FromErrno(ENOTDIR, "parent " + EscapeName(path) +
                                              " is not a directory");
      }
      dir = *child;
    } else {
      // Only missing components are created, and everything below a created
      // one is missing too: a refusal above happens before any change.
      NodeId made = tree_.AddInode(ImplicitDirSpec());
      SEALFS_RETURN_IF_ERROR(tree_.Link(dir, parts[i], made));
      dir = made;
    }
    // A parent this layer needs is part of this layer: an opaque marker or
    // whiteout above it must not take this layer's entries away with it.
    this_layer_.emplace(path, Origin::kImplicit);
  }
  return dir;
}

Status LayerApplier::HideLower(NodeId dir, const std::string& dir_path) {
  std::vector<std::string> drop;
  std::vector<std::pair<NodeId, std::string>> keep_dirs;
  for (const auto& [name, child] : tree_.children(dir)) {
    std::string path = JoinPath(dir_path, name);
    auto it = this_layer_.find(path);
    if (it == this_layer_.end()) {
      drop.push_back(name);
    } else if (IsDir(tree_.inode(child))) {
      if (it->second == Origin::kImplicit) {
        // Had the whiteout come first, this directory would have been
        // created anew: give it the same metadata, whatever the order.
        tree_.inode(child) = ImplicitDirSpec();
      }
      keep_dirs.emplace_back(child, std::move(path));
    }
  }
  for (const std::string& name : drop) {
    SEALFS_RETURN_IF_ERROR(tree_.Unlink(dir, name));
  }
  // Depth is bounded by the path length limit (at most 2048 components).
  for (const auto& [child, path] : keep_dirs) {
    SEALFS_RETURN_IF_ERROR(HideLower(child, path));
  }
  return Status();
}

Status LayerApplier::ApplyWhiteout(const std::vector<std::string>& parts) {
  const std::string& name = parts.back();
  if (name == kOpaqueWhiteout) {
    // MakeParents makes every component but the last: the directory itself.
    SEALFS_ASSIGN_OR_RETURN(NodeId dir, MakeParents(parts));
    return HideLower(dir, JoinParts(parts, parts.size() - 1));
  }
  if (name.starts_with(kMetaWhiteoutPrefix)) {
    return Status::FromErrno(EINVAL, "unknown whiteout marker");
  }
  const std::string target = name.substr(sizeof(kWhiteoutPrefix) - 1);
  if (target.empty() || target == "." || target == "..") {
    return Status::FromErrno(EINVAL, "whiteout names nothing");
  }
  // Nothing to hide when the path does not exist (OCI: not an error); a
  // whiteout never creates parents.
  NodeId dir = ImageTree::kRoot;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    Result<NodeId> child = tree_.Lookup(dir, parts[i]);
    if (!child.ok() || !IsDir(tree_.inode(*child))) return Status();
    dir = *child;
  }
  Result<NodeId> found = tree_.Lookup(dir, target);
  if (!found.ok()) return Status();
  const std::string path =
      JoinPath(JoinParts(parts, parts.size() - 1), target);
  auto it = this_layer_.find(path);
  if (it == this_layer_.end()) return tree_.Unlink(dir, target);
  // This layer's own entry stays; if it is a directory, what earlier layers
  // put below it is hidden, as if the whiteout had come first.
  if (!IsDir(tree_.inode(*found))) return Status();
  if (it->second == Origin::kImplicit) tree_.inode(*found) = ImplicitDirSpec();
  return HideLower(*found, path);
}

Status LayerApplier::Place(NodeId dir, const std::string& name,
                           const std::string& path, InodeSpec spec) {
  Result<NodeId> existing = tree_.Lookup(dir, name);
  if (existing.ok()) {
    if (IsDir(tree_.inode(*existing)) && IsDir(spec)) {
      tree_.inode(*existing) = std::move(spec);  // children stay
      this_layer_[path] = Origin::kExplicit;
      return Status();
    }
    SEALFS_RETURN_IF_ERROR(tree_.Unlink(dir, name));
  }
  NodeId node = tree_.AddInode(std::move(spec));
  SEALFS_RETURN_IF_ERROR(tree_.Link(dir, name, node));
  this_layer_[path] = Origin::kExplicit;
  return Status();
}

Status LayerApplier::Apply(std::string_view path, InodeSpec spec) {
  SEALFS_ASSIGN_OR_RETURN(std::vector<std::string> parts,
                          SplitEntryPath(path));
  if (!parts.empty() && parts.back().starts_with(kWhiteoutPrefix)) {
    return ApplyWhiteout(parts);
  }
  if (!IsKnownFileType(spec.mode) || S_ISSOCK(spec.mode)) {
    return Status::FromErrno(EINVAL, "unsupported file type");
  }
  if (parts.empty()) {
    if (!IsDir(spec)) {
      return Status::FromErrno(EINVAL, "the root must be a directory");
    }
    tree_.inode(ImageTree::kRoot) = std::move(spec);
    return Status();
  }
  SEALFS_ASSIGN_OR_RETURN(NodeId dir, MakeParents(parts));
  return Place(dir, parts.back(), JoinParts(parts, parts.size()),
               std::move(spec));
}

Status LayerApplier::ApplyHardLink(std::string_view path,
                                   std::string_view target) {
  SEALFS_ASSIGN_OR_RETURN(std::vector<std::string> parts,
                          SplitEntryPath(path));
  if (parts.empty()) {
    return Status::FromErrno(EINVAL, "the root cannot be a hard link");
  }
  if (parts.back().starts_with(kWhiteoutPrefix)) return ApplyWhiteout(parts);
  Result<std::vector<std::string>> target_parts = SplitEntryPath(target);
  if (!target_parts.ok()) {
    return target_parts.status().WithPrefix("target");
  }
  NodeId node = ImageTree::kRoot;
  for (const std::string& part : *target_parts) {
    Result<NodeId> child = tree_.Lookup(node, part);
    if (!child.ok()) {
      return Status::FromErrno(ENOENT, "target does not exist");
    }
    node = *child;
  }
  if (IsDir(tree_.inode(node))) {
    return Status::FromErrno(EPERM, "target is a directory");
  }
  SEALFS_ASSIGN_OR_RETURN(NodeId dir, MakeParents(parts));
  const std::string& name = parts.back();
  Result<NodeId> existing = tree_.Lookup(dir, name);
  if (existing.ok() && *existing != node) {
    SEALFS_RETURN_IF_ERROR(tree_.Unlink(dir, name));
  }
  if (!existing.ok() || *existing != node) {
    SEALFS_RETURN_IF_ERROR(tree_.Link(dir, name, node));
  }
  this_layer_[JoinParts(parts, parts.size())] = Origin::kExplicit;
  return Status();
}

Status RecordedLayer::Apply(std::string_view path, InodeSpec spec) {
  entries_.push_back(Entry{std::string(path), std::nullopt, std::move(spec)});
  return Status();
}

Status RecordedLayer::ApplyHardLink(std::string_view path,
                                    std::string_view target) {
  entries_.push_back(
      Entry{std::string(path), std::string(target), InodeSpec()});
  return Status();
}

Status RecordedLayer::Replay(LayerApplier& applier) {
  applier.BeginLayer();
  for (Entry& e : entries_) {
    Status st = e.link_target.has_value()
                    ? applier.ApplyHardLink(e.path, *e.link_target)
                          .WithPrefix(HardLinkContext(*e.link_target))
                    : applier.Apply(e.path, std::move(e.spec));
    if (!st.ok()) return st.WithPrefix("entry " + EscapeName(e.path));
  }
  return Status();
}

std::string HardLinkContext(std::string_view target) {
  return "hard link to " + EscapeName(target);
}

}  // namespace sealfs::mkfs
