// SPDX-License-Identifier: Apache-2.0
// A path for an inode, for failure reports ("/usr/lib/libc.so.6" says more
// than "inode 4711"). The manifest records parents of directories only, so
// the first report builds a map from every inode to one directory entry
// naming it: O(inodes) once, 12 bytes per inode, then O(depth) per path.
// Thread-safety: PathOf may be called from many threads.
#ifndef SEALFS_FS_FUSE_INODE_PATHS_H_
#define SEALFS_FS_FUSE_INODE_PATHS_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sealfs/manifest_reader.h"

namespace sealfs::fuse {

class InodePaths {
 public:
  explicit InodePaths(std::shared_ptr<const Manifest> manifest)
      : manifest_(std::move(manifest)) {}

  // "/" for the root; for a hard-linked file, one of its paths; "inode N"
  // if the inode is not reachable from the root.
  std::string PathOf(uint64_t ino);

 private:
  struct Link {
    uint64_t dir = 0;    // 0: not found
    uint32_t index = 0;  // entry index in `dir`
  };
  void BuildLocked();

  std::shared_ptr<const Manifest> manifest_;
  std::mutex mu_;
  std::vector<Link> links_;  // by inode number; built on first use
};

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_INODE_PATHS_H_
