// SPDX-License-Identifier: Apache-2.0
// Depth-first walk of a manifest with an explicit stack, so a deep tree
// cannot exhaust the C++ stack.
#include "fs/mkfs/image_walk.h"

#include <sys/stat.h>

#include <unordered_set>
#include <utility>
#include <vector>

namespace sealfs::mkfs {

Status WalkImage(
    const Manifest& manifest,
    const std::function<Status(const std::string& path, const Inode& inode)>&
        visit) {
  std::vector<std::pair<std::string, uint64_t>> stack;
  stack.emplace_back("/", kRootIno);
  std::unordered_set<uint64_t> dirs_seen;
  while (!stack.empty()) {
    auto [path, ino] = std::move(stack.back());
    stack.pop_back();
    SEALFS_ASSIGN_OR_RETURN(Inode inode, manifest.GetInode(ino));
    SEALFS_RETURN_IF_ERROR(visit(path, inode));
    if (!S_ISDIR(inode.mode)) continue;
    if (!dirs_seen.insert(ino).second) {
      return Status::Corrupt("manifest: directory inode " +
                             std::to_string(ino) + " reached twice");
    }
    // Pushed in reverse so the smallest name is visited first.
    for (uint64_t i = inode.size; i > 0; --i) {
      SEALFS_ASSIGN_OR_RETURN(DirEntry e, manifest.GetDirEntry(ino, i - 1));
      std::string child = path == "/" ? "/" : path + "/";
      child.append(e.name);
      stack.emplace_back(std::move(child), e.ino);
    }
  }
  return Status();
}

bool CanonicalPathLess(std::string_view a, std::string_view b) {
  size_t n = a.size() < b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; ++i) {
    auto ca = static_cast<unsigned char>(a[i]);
    auto cb = static_cast<unsigned char>(b[i]);
    if (ca == cb) continue;
    if (ca == '/') return true;
    if (cb == '/') return false;
    return ca < cb;
  }
  return a.size() < b.size();
}

}  // namespace sealfs::mkfs
