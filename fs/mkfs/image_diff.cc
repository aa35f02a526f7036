// SPDX-License-Identifier: Apache-2.0
// DiffImages: walk both manifests in canonical order and merge the walks.
#include "fs/mkfs/image_diff.h"

#include <sys/stat.h>

#include <algorithm>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "fs/mkfs/image_walk.h"
#include "sealfs/digest.h"

namespace sealfs::mkfs {
namespace {

struct Entry {
  std::string path;
  Inode inode;
};

struct Side {
  const Manifest* manifest = nullptr;
  std::vector<Entry> entries;  // canonical order
  // Paths of each multiply-linked non-directory inode.
  std::unordered_map<uint64_t, std::vector<std::string>> links;
};

Result<Side> Collect(const Manifest& m) {
  Side side;
  side.manifest = &m;
  SEALFS_RETURN_IF_ERROR(
      WalkImage(m, [&](const std::string& path, const Inode& in) -> Status {
        side.entries.push_back(Entry{path, in});
        if (!S_ISDIR(in.mode) && in.nlink > 1) {
          side.links[in.ino].push_back(path);
        }
        return Status();
      }));
  return side;
}

// The fs-verity digest of a regular file's content, inline or stored.
Result<Digest> ContentDigest(const Manifest& m, const Inode& in) {
  if (!in.is_inline()) return m.FileDigest(in.ino);
  SEALFS_ASSIGN_OR_RETURN(std::span<const uint8_t> data, m.InlineData(in.ino));
  return ComputeMerkleTree(data).digest;
}

std::vector<std::string> LinkGroup(const Side& s, const Entry& e) {
  auto it = s.links.find(e.inode.ino);
  if (it == s.links.end()) return {e.path};
  return it->second;
}

Result<std::vector<std::string>> ChangedFields(const Side& a, const Entry& ea,
                                               const Side& b, const Entry& eb) {
  const Inode& x = ea.inode;
  const Inode& y = eb.inode;
  std::vector<std::string> fields;
  if (S_ISREG(x.mode)) {
    SEALFS_ASSIGN_OR_RETURN(Digest dx, ContentDigest(*a.manifest, x));
    SEALFS_ASSIGN_OR_RETURN(Digest dy, ContentDigest(*b.manifest, y));
    if (dx != dy || x.size != y.size) fields.emplace_back("content");
  }
  if (S_ISLNK(x.mode)) {
    SEALFS_ASSIGN_OR_RETURN(std::string_view tx, a.manifest->ReadLink(x.ino));
    SEALFS_ASSIGN_OR_RETURN(std::string_view ty, b.manifest->ReadLink(y.ino));
    if (tx != ty) fields.emplace_back("target");
  }
  if ((x.mode & 07777) != (y.mode & 07777)) fields.emplace_back("mode");
  if (x.uid != y.uid) fields.emplace_back("uid");
  if (x.gid != y.gid) fields.emplace_back("gid");
  if ((S_ISCHR(x.mode) || S_ISBLK(x.mode)) &&
      (x.rdev_major != y.rdev_major || x.rdev_minor != y.rdev_minor)) {
    fields.emplace_back("rdev");
  }
  if (x.mtime_sec != y.mtime_sec || x.mtime_nsec != y.mtime_nsec) {
    fields.emplace_back("mtime");
  }
  SEALFS_ASSIGN_OR_RETURN(std::vector<XattrView> xa,
                          a.manifest->ListXattrs(x.ino));
  SEALFS_ASSIGN_OR_RETURN(std::vector<XattrView> xb,
                          b.manifest->ListXattrs(y.ino));
  bool same_xattrs = xa.size() == xb.size() &&
                     std::equal(xa.begin(), xa.end(), xb.begin(),
                                [](const XattrView& p, const XattrView& q) {
                                  return p.key == q.key && p.value == q.value;
                                });
  if (!same_xattrs) fields.emplace_back("xattrs");
  if (!S_ISDIR(x.mode) &&
      (x.nlink != y.nlink || LinkGroup(a, ea) != LinkGroup(b, eb))) {
    fields.emplace_back("links");
  }
  return fields;
}

}  // namespace

Result<std::vector<PathChange>> DiffImages(const Manifest& a,
                                           const Manifest& b) {
  SEALFS_ASSIGN_OR_RETURN(Side sa, Collect(a));
  SEALFS_ASSIGN_OR_RETURN(Side sb, Collect(b));
  std::vector<PathChange> changes;
  size_t i = 0, j = 0;
  while (i < sa.entries.size() || j < sb.entries.size()) {
    const Entry* ea = i < sa.entries.size() ? &sa.entries[i] : nullptr;
    const Entry* eb = j < sb.entries.size() ? &sb.entries[j] : nullptr;
    if (eb == nullptr ||
        (ea != nullptr && CanonicalPathLess(ea->path, eb->path))) {
      changes.push_back(
          PathChange{ea->path, ChangeKind::kRemoved, {}, ea->inode.mode, 0});
      ++i;
      continue;
    }
    if (ea == nullptr || CanonicalPathLess(eb->path, ea->path)) {
      changes.push_back(
          PathChange{eb->path, ChangeKind::kAdded, {}, 0, eb->inode.mode});
      ++j;
      continue;
    }
    ++i;
    ++j;
    if ((ea->inode.mode & S_IFMT) != (eb->inode.mode & S_IFMT)) {
      changes.push_back(PathChange{ea->path, ChangeKind::kTypeChanged, {},
                                   ea->inode.mode, eb->inode.mode});
      continue;
    }
    SEALFS_ASSIGN_OR_RETURN(std::vector<std::string> fields,
                            ChangedFields(sa, *ea, sb, *eb));
    if (!fields.empty()) {
      changes.push_back(PathChange{ea->path, ChangeKind::kModified,
                                   std::move(fields), ea->inode.mode,
                                   eb->inode.mode});
    }
  }
  return changes;
}

const char* ChangeLetter(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kAdded: return "A";
    case ChangeKind::kRemoved: return "D";
    case ChangeKind::kTypeChanged: return "T";
    case ChangeKind::kModified: return "M";
  }
  return "?";
}

const char* ChangeName(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kAdded: return "added";
    case ChangeKind::kRemoved: return "removed";
    case ChangeKind::kTypeChanged: return "type";
    case ChangeKind::kModified: return "modified";
  }
  return "unknown";
}

const char* FileTypeName(uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "regular";
    case S_IFDIR: return "directory";
    case S_IFLNK: return "symlink";
    case S_IFCHR: return "chardev";
    case S_IFBLK: return "blockdev";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "socket";
    default: return "unknown";
  }
}

}  // namespace sealfs::mkfs
