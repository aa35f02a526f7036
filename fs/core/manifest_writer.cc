// SPDX-License-Identifier: Apache-2.0
// ImageTree (the mutable tree builders fill) and WriteManifest, which lays it
// out as the v1 manifest of docs/FORMAT.md, byte-for-byte reproducibly.
#include "sealfs/manifest_writer.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fs/core/manifest_validate.h"
#include "sealfs/format.h"

namespace sealfs {
namespace {

bool IsDir(const InodeSpec& spec) { return S_ISDIR(spec.mode); }

Status ValidateName(std::string_view name) {
  if (name.empty()) return Status::FromErrno(EINVAL, "empty name");
  if (name == "." || name == "..") {
    return Status::FromErrno(EINVAL,
                             "name \"" + std::string(name) + "\" is reserved");
  }
  if (name.size() > kMaxNameLen) {
    return Status::FromErrno(EINVAL, "name longer than 255 bytes");
  }
  if (name.find('/') != std::string_view::npos) {
    return Status::FromErrno(EINVAL, "name contains '/'");
  }
  if (name.find('\0') != std::string_view::npos) {
    return Status::FromErrno(EINVAL, "name contains NUL");
  }
  return Status();
}

}  // namespace

// ---------------------------------------------------------------------------
// ImageTree

ImageTree::ImageTree(InodeSpec root) {
  nodes_.push_back(Node{std::move(root), {}, /*linked=*/true});
}

NodeId ImageTree::AddInode(InodeSpec spec) {
  nodes_.push_back(Node{std::move(spec), {}, false});
  return static_cast<NodeId>(nodes_.size() - 1);
}

Status ImageTree::Link(NodeId dir, std::string name, NodeId child) {
  if (dir >= nodes_.size() || child >= nodes_.size()) {
    return Status::FromErrno(EINVAL, "link: no such node");
  }
  if (!IsDir(nodes_[dir].spec)) {
    return Status::FromErrno(
        ENOTDIR, "link \"" + Printable(name) + "\": not a directory");
  }
  SEALFS_RETURN_IF_ERROR(ValidateName(name));
  Node& parent = nodes_[dir];
  if (parent.children.count(name) != 0) {
    return Status::FromErrno(EEXIST,
                             "link \"" + Printable(name) + "\": name exists");
  }
  Node& target = nodes_[child];
  if (IsDir(target.spec)) {
    // A directory has exactly one parent, so the image stays a tree.
    if (target.linked) {
      return Status::FromErrno(EMLINK, "link \"" + Printable(name) +
                                           "\": directory is already linked");
    }
    target.linked = true;
  }
  parent.children.emplace(std::move(name), child);
  return Status();
}

Status ImageTree::Unlink(NodeId dir, std::string_view name) {
  if (dir >= nodes_.size()) {
    return Status::FromErrno(EINVAL, "unlink: no such node");
  }
  if (!IsDir(nodes_[dir].spec)) {
    return Status::FromErrno(
        ENOTDIR, "unlink \"" + Printable(name) + "\": not a directory");
  }
  auto& children = nodes_[dir].children;
  auto it = children.find(std::string(name));
  if (it == children.end()) {
    return Status::FromErrno(ENOENT,
                             "unlink \"" + Printable(name) + "\": no entry");
  }
  if (IsDir(nodes_[it->second].spec)) nodes_[it->second].linked = false;
  children.erase(it);
  return Status();
}

Result<NodeId> ImageTree::Lookup(NodeId dir, std::string_view name) const {
  if (dir >= nodes_.size()) {
    return Status::FromErrno(EINVAL, "lookup: no such node");
  }
  if (!IsDir(nodes_[dir].spec)) {
    return Status::FromErrno(
        ENOTDIR, "lookup \"" + Printable(name) + "\": not a directory");
  }
  const auto& children = nodes_[dir].children;
  auto it = children.find(std::string(name));
  if (it == children.end()) {
    return Status::FromErrno(ENOENT,
                             "lookup \"" + Printable(name) + "\": no entry");
  }
  return it->second;
}

// ---------------------------------------------------------------------------
// WriteManifest

namespace {

// Appends byte strings to STRINGS once each.
class StringTable {
 public:
  Result<uint32_t> Add(std::string_view s) {
    auto it = offsets_.find(std::string(s));
    if (it != offsets_.end()) return it->second;
    if (bytes_.size() + s.size() > UINT32_MAX) {
      return Status::FromErrno(EFBIG, "string table exceeds 4 GiB");
    }
    auto off = static_cast<uint32_t>(bytes_.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    offsets_.emplace(std::string(s), off);
    return off;
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
  std::unordered_map<std::string, uint32_t> offsets_;
};

Status Invalid(const std::string& what) {
  return Status::FromErrno(EINVAL, what);
}

// Checks what the format can hold, per InodeSpec's and WriteManifest's
// contract. The caller prefixes the path.
Status ValidateSpec(const InodeSpec& spec) {
  if (!IsKnownFileType(spec.mode)) return Invalid("unknown file type");
  if ((spec.mode & ~static_cast<uint32_t>(S_IFMT | 07777)) != 0) {
    return Invalid("unknown mode bits");
  }
  if (spec.mtime_nsec >= 1000000000) {
    return Invalid("mtime nanoseconds out of range");
  }
  const uint32_t type = spec.mode & S_IFMT;
  if (type == S_IFREG) {
    if (spec.digest && spec.inline_data) {
      return Invalid("both a digest and inline data");
    }
    if (!spec.digest && !spec.inline_data && spec.size != 0) {
      return Invalid("neither a digest nor inline data");
    }
    if (spec.inline_data) {
      if (spec.inline_data->size() > kMaxInlineSize) {
        return Invalid("inline data larger than 4096 bytes");
      }
      if (spec.inline_data->size() != spec.size) {
        return Invalid("inline data length differs from size");
      }
    }
  } else if (spec.digest || spec.inline_data) {
    return Invalid("content on a non-regular file");
  }
  if (type == S_IFLNK) {
    if (spec.symlink_target.empty()) return Invalid("empty symlink target");
    if (spec.symlink_target.size() > kMaxSymlinkLen) {
      return Invalid("symlink target longer than 4095 bytes");
    }
    if (spec.symlink_target.find('\0') != std::string::npos) {
      return Invalid("symlink target contains NUL");
    }
  }
  for (const Xattr& x : spec.xattrs) {
    if (x.key.empty()) return Invalid("empty xattr name");
    if (x.key.size() > kMaxXattrNameLen) {
      return Invalid("xattr name longer than 255 bytes");
    }
    if (x.key.find('\0') != std::string::npos) {
      return Invalid("xattr name contains NUL");
    }
    if (x.value.size() > kMaxXattrValueLen) {
      return Invalid("xattr " + Printable(x.key) +
                     ": value larger than 65536 bytes");
    }
  }
  return Status();
}

void AppendPadded(std::vector<uint8_t>& out, std::span<const uint8_t> bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
  out.resize((out.size() + 7) & ~size_t{7}, 0);
}

template <typename T>
std::span<const uint8_t> AsBytes(const std::vector<T>& v) {
  return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(T)};
}

// Where each numbered inode was first reached, to name it in errors without
// keeping a path string per inode.
class PathIndex {
 public:
  PathIndex() : parent_{0}, name_{nullptr} {}  // the root
  void Add(size_t parent_index, const std::string* name) {
    parent_.push_back(parent_index);
    name_.push_back(name);
  }
  // "/a/b/c", names made printable, for inode index `i` (ino - 1), or for
  // `name` inside it if given.
  std::string Path(size_t i, const std::string* name = nullptr) const {
    std::vector<const std::string*> parts;
    if (name != nullptr) parts.push_back(name);
    for (; i != 0; i = parent_[i]) parts.push_back(name_[i]);
    if (parts.empty()) return "/";
    std::string path;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
      path += '/';
      path += Printable(**it);
    }
    return path;
  }

 private:
  std::vector<size_t> parent_;
  std::vector<const std::string*> name_;
};

}  // namespace

Result<std::vector<uint8_t>> WriteManifest(const ImageTree& tree,
                                           const WriteOptions& options) {
  const NodeId node_count = static_cast<NodeId>(tree.node_count());
  if (!IsDir(tree.inode(ImageTree::kRoot))) {
    return Invalid("/: root is not a directory");
  }

  // Number inodes breadth-first, entries in byte order (std::map's order).
  // ino_of[node] == 0 means not yet reached.
  std::vector<uint32_t> ino_of(node_count, 0);
  std::vector<NodeId> node_of{ImageTree::kRoot};  // index ino - 1
  PathIndex paths;                                // index ino - 1
  std::vector<uint32_t> nlink{2};                 // index ino - 1
  std::vector<uint32_t> parent_of{1};             // index ino - 1
  ino_of[ImageTree::kRoot] = 1;
  for (size_t i = 0; i < node_of.size(); ++i) {
    const NodeId node = node_of[i];
    const auto& children = tree.children(node);
    if (!IsDir(tree.inode(node))) {
      if (!children.empty()) {
        return Invalid(paths.Path(i) + ": non-directory has entries");
      }
      continue;
    }
    for (const auto& [name, child] : children) {
      if (child >= node_count) {
        return Invalid(paths.Path(i, &name) + ": entry to no node");
      }
      if (ino_of[child] != 0) {
        // Builders cannot link a directory twice through Link(), but a spec
        // may have been changed to a directory after linking.
        if (IsDir(tree.inode(child))) {
          return Invalid(paths.Path(i, &name) +
                         ": directory linked more than once");
        }
        uint32_t& n = nlink[ino_of[child] - 1];
        if (n == UINT32_MAX) {
          return Invalid(paths.Path(i, &name) + ": too many links");
        }
        ++n;
        continue;
      }
      if (node_of.size() >= UINT32_MAX) {
        return Status::FromErrno(EFBIG, "more than 2^32-1 inodes");
      }
      node_of.push_back(child);
      ino_of[child] = static_cast<uint32_t>(node_of.size());
      paths.Add(i, &name);
      const bool dir = IsDir(tree.inode(child));
      nlink.push_back(dir ? 2 : 1);
      parent_of.push_back(dir ? static_cast<uint32_t>(i + 1) : 0);
      if (dir) ++nlink[i];
    }
  }
  const size_t n = node_of.size();

  StringTable strings;
  std::vector<InodeRecord> inodes(n);
  std::vector<DirentRecord> dirents;
  std::vector<XattrSetRecord> xattr_sets;
  std::vector<XattrEntryRecord> xattr_entries;
  std::map<std::vector<Xattr>, uint32_t> set_index;
  std::vector<uint8_t> digests;
  std::map<Digest, uint64_t> digest_index;
  std::vector<uint8_t> inline_bytes;
  std::unordered_map<std::string, uint64_t> inline_index;

  for (size_t i = 0; i < n; ++i) {
    const InodeSpec& spec = tree.inode(node_of[i]);
    if (Status st = ValidateSpec(spec); !st.ok()) {
      return st.WithPrefix(paths.Path(i));
    }
    InodeRecord& rec = inodes[i];
    std::memset(&rec, 0, sizeof(rec));
    rec.mode.set(spec.mode);
    rec.uid.set(spec.uid);
    rec.gid.set(spec.gid);
    rec.nlink.set(nlink[i]);
    int64_t sec = spec.mtime_sec;
    uint32_t nsec = spec.mtime_nsec;
    if (options.clamp_mtime_sec &&
        (sec > *options.clamp_mtime_sec ||
         (sec == *options.clamp_mtime_sec && nsec > 0))) {
      sec = *options.clamp_mtime_sec;
      nsec = 0;
    }
    rec.mtime_sec.set(static_cast<uint64_t>(sec));
    rec.mtime_nsec.set(nsec);
    rec.xattr_set.set(kNoXattrs);

    switch (spec.mode & S_IFMT) {
      case S_IFREG:
        rec.size.set(spec.size);
        if (spec.digest) {
          auto [it, added] =
              digest_index.emplace(*spec.digest, digests.size() / kDigestSize);
          if (added) {
            digests.insert(digests.end(), spec.digest->bytes.begin(),
                           spec.digest->bytes.end());
          }
          rec.payload.set(it->second);
        } else {
          rec.flags.set(kInodeInline);
          if (spec.size != 0) {
            const std::string& data = *spec.inline_data;
            auto [it, added] = inline_index.emplace(data, inline_bytes.size());
            if (added) {
              inline_bytes.insert(inline_bytes.end(), data.begin(), data.end());
            }
            rec.payload.set(it->second);
          }
        }
        break;
      case S_IFDIR: {
        const auto& children = tree.children(node_of[i]);
        if (dirents.size() + children.size() > UINT32_MAX) {
          return Status::FromErrno(EFBIG, "more than 2^32-1 entries");
        }
        rec.size.set(children.size());
        rec.payload.set(dirents.size());
        rec.parent.set(parent_of[i]);
        for (const auto& [name, child] : children) {
          DirentRecord d;
          std::memset(&d, 0, sizeof(d));
          SEALFS_ASSIGN_OR_RETURN(uint32_t off, strings.Add(name));
          d.ino.set(ino_of[child]);
          d.name_offset.set(off);
          d.name_len.set(static_cast<uint16_t>(name.size()));
          d.type = static_cast<uint8_t>(tree.inode(child).mode >> 12);
          dirents.push_back(d);
        }
        break;
      }
      case S_IFLNK: {
        SEALFS_ASSIGN_OR_RETURN(uint32_t off, strings.Add(spec.symlink_target));
        rec.size.set(spec.symlink_target.size());
        rec.payload.set(off);
        break;
      }
      case S_IFCHR:
      case S_IFBLK:
        rec.rdev_major.set(spec.rdev_major);
        rec.rdev_minor.set(spec.rdev_minor);
        break;
      default:  // FIFO, socket: nothing beyond the common fields.
        break;
    }

    if (!spec.xattrs.empty()) {
      std::vector<Xattr> sorted = spec.xattrs;
      std::sort(sorted.begin(), sorted.end());
      for (size_t k = 1; k < sorted.size(); ++k) {
        if (sorted[k].key == sorted[k - 1].key) {
          return Invalid(paths.Path(i) + ": xattr " + Printable(sorted[k].key) +
                         " given twice");
        }
      }
      auto it = set_index.find(sorted);
      if (it == set_index.end()) {
        // kNoXattrs is not a valid index, so at most 2^32-2 sets.
        if (xattr_sets.size() >= kNoXattrs - 1 ||
            xattr_entries.size() + sorted.size() > UINT32_MAX) {
          return Status::FromErrno(EFBIG, "too many xattrs");
        }
        XattrSetRecord set;
        set.first_entry.set(static_cast<uint32_t>(xattr_entries.size()));
        set.count.set(static_cast<uint32_t>(sorted.size()));
        for (const Xattr& x : sorted) {
          XattrEntryRecord e;
          std::memset(&e, 0, sizeof(e));
          SEALFS_ASSIGN_OR_RETURN(uint32_t koff, strings.Add(x.key));
          SEALFS_ASSIGN_OR_RETURN(uint32_t voff, strings.Add(x.value));
          e.key_offset.set(koff);
          e.key_len.set(static_cast<uint16_t>(x.key.size()));
          e.value_offset.set(voff);
          e.value_len.set(static_cast<uint32_t>(x.value.size()));
          xattr_entries.push_back(e);
        }
        it = set_index
                 .emplace(std::move(sorted),
                          static_cast<uint32_t>(xattr_sets.size()))
                 .first;
        xattr_sets.push_back(set);
      }
      rec.xattr_set.set(it->second);
    }
  }

  // Header, section table, then the sections in kind order, each 8-aligned.
  std::vector<std::span<const uint8_t>> bodies = {
      AsBytes(inodes),     AsBytes(dirents),       strings.bytes(),
      AsBytes(xattr_sets), AsBytes(xattr_entries), digests,
      inline_bytes,
  };
  uint64_t features = 0;
  if (options.oci_config.has_value()) {
    const std::string& config = *options.oci_config;
    if (config.empty() || config.size() > kMaxOciConfigSize) {
      return Invalid("OCI config of " + std::to_string(config.size()) +
                     " bytes, not 1.." + std::to_string(kMaxOciConfigSize));
    }
    bodies.push_back({reinterpret_cast<const uint8_t*>(config.data()),
                      config.size()});
    features |= kIncompatOciConfig;
  }
  const auto section_count = static_cast<uint32_t>(bodies.size());
  std::vector<uint8_t> out(sizeof(ManifestHeader) +
                           section_count * sizeof(SectionEntry));
  std::vector<SectionEntry> table(section_count);
  for (uint32_t k = 0; k < section_count; ++k) {
    std::memset(&table[k], 0, sizeof(SectionEntry));
    table[k].kind.set(k + 1);
    table[k].offset.set(out.size());
    table[k].size.set(bodies[k].size());
    AppendPadded(out, bodies[k]);
  }
  ManifestHeader header;
  std::memset(&header, 0, sizeof(header));
  header.magic.set(kManifestMagic);
  header.version.set(kManifestVersion);
  header.header_size.set(sizeof(ManifestHeader));
  header.incompat_features.set(features);
  header.manifest_size.set(out.size());
  header.section_table_offset.set(sizeof(ManifestHeader));
  header.section_count.set(section_count);
  std::memcpy(out.data(), &header, sizeof(header));
  std::memcpy(out.data() + sizeof(header), table.data(),
              table.size() * sizeof(SectionEntry));
  return out;
}

}  // namespace sealfs
