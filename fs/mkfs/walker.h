// SPDX-License-Identifier: Apache-2.0
// Walks a source directory into an ImageTree: every entry is examined with
// fstatat/openat relative to its parent directory's fd, symlinks are never
// followed and FIFOs and devices never opened. Regular files larger than the
// inline limit are listed for the hasher instead of being read here.
// Thread-safety: WalkTree is reentrant.
#ifndef SEALFS_FS_MKFS_WALKER_H_
#define SEALFS_FS_MKFS_WALKER_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sealfs/manifest_writer.h"
#include "sealfs/status.h"
#include "sealfs/unique_fd.h"

namespace sealfs::mkfs {

struct WalkOptions {
  // Regular files of at most this many bytes are read during the walk and
  // inlined in the manifest. REQUIRES: <= kMaxInlineSize.
  uint32_t inline_max = 64;
};

// A regular file whose content goes into the store.
struct FileJob {
  NodeId node = 0;
  std::string rel_path;  // relative to the source root, no leading '/'
  uint64_t size = 0;     // st_size at walk time
  dev_t dev = 0;         // identity at walk time: the hasher checks that the
  ino_t ino = 0;         // file it opens is still the one that was walked
};

struct WalkResult {
  ImageTree tree;
  std::vector<FileJob> files;  // one per inode (hard links listed once)
  UniqueFd root_fd;            // the source directory, for OpenBeneath
  uint64_t inode_count = 0;    // distinct inodes recorded, root included
};

// Walks `source`. ENOTDIR if it is not a directory; any failure is returned
// with the offending path as context ("/src/etc/shadow").
Result<WalkResult> WalkTree(const std::string& source,
                            const WalkOptions& options = {});

// Opens `rel_path` below `root_fd` read-only without following any symlink
// and without leaving the tree (openat2 RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH,
// falling back to one O_NOFOLLOW openat per component). O_NONBLOCK, so a
// FIFO swapped in never blocks; the caller checks what it got with fstat.
Result<UniqueFd> OpenBeneath(int root_fd, const std::string& rel_path);

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_WALKER_H_
