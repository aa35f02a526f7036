// SPDX-License-Identifier: Apache-2.0
// InodePaths: one directory entry per inode, found by a single pass over
// every directory of the (validated) manifest.
#include "fs/fuse/inode_paths.h"

#include <sys/stat.h>

#include <algorithm>
#include <string_view>

namespace sealfs::fuse {

void InodePaths::BuildLocked() {
  const uint64_t count = manifest_->inode_count();
  links_.assign(count + 1, Link{});
  for (uint64_t dir = 1; dir <= count; ++dir) {
    Result<Inode> inode = manifest_->GetInode(dir);
    if (!inode.ok() || !S_ISDIR(inode->mode)) continue;
    for (uint64_t i = 0; i < inode->size && i <= UINT32_MAX; ++i) {
      Result<DirEntry> entry = manifest_->GetDirEntry(dir, i);
      if (!entry.ok() || entry->ino == 0 || entry->ino > count) continue;
      Link& link = links_[entry->ino];
      if (link.dir == 0) link = {dir, static_cast<uint32_t>(i)};
    }
  }
}

std::string InodePaths::PathOf(uint64_t ino) {
  if (ino == 1) return "/";
  std::lock_guard lock(mu_);
  if (links_.empty()) BuildLocked();
  std::vector<std::string_view> names;
  uint64_t at = ino;
  // The manifest's directory graph is a validated tree; the bound only
  // guards against a bug turning into an endless loop.
  while (at != 1 && at < links_.size() && links_[at].dir != 0 &&
         names.size() < links_.size()) {
    Result<DirEntry> entry =
        manifest_->GetDirEntry(links_[at].dir, links_[at].index);
    if (!entry.ok()) break;
    names.push_back(entry->name);
    at = links_[at].dir;
  }
  if (at != 1) return "inode " + std::to_string(ino);
  std::string path;
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    path += '/';
    path += *it;
  }
  return path;
}

}  // namespace sealfs::fuse
