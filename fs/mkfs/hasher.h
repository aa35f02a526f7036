// SPDX-License-Identifier: Apache-2.0
// The parallel hashing stage of mkfs: a pool of threads takes regular files,
// largest first, computes each one's fs-verity Merkle tree while reading it
// once, and adds the content to the store through a StoreWriter.
// Thread-safety: HashFiles is reentrant; it runs its own threads.
#ifndef SEALFS_FS_MKFS_HASHER_H_
#define SEALFS_FS_MKFS_HASHER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "fs/mkfs/walker.h"
#include "sealfs/digest.h"
#include "sealfs/status.h"
#include "sealfs/store.h"

namespace sealfs {
class Progress;
}

namespace sealfs::mkfs {

struct HashOptions {
  int threads = 1;  // worker threads, >= 1
  // Files up to this size are read into memory once, hashed and handed to
  // StoreWriter::AddFromBytes; larger ones are hashed from the fd and then
  // copied by StoreWriter::AddFromFd (which re-hashes what it writes).
  uint64_t in_memory_max = 4 << 20;
  Progress* progress = nullptr;  // bytes hashed are added here when set
  std::string source;            // for error messages: "<source>/<rel_path>"
};

struct HashedFile {
  NodeId node = 0;
  Digest digest;
  uint64_t size = 0;
};

// Hashes every file of `files` (opened below `root_fd` with OpenBeneath and
// checked to be the same inode, still regular, with the walked size) and adds
// it to `writer`. Does not Commit. Results are in the order of `files`. The
// first failure stops the pool and is returned with the file's path; EAGAIN
// if a file changed since the walk.
Result<std::vector<HashedFile>> HashFiles(int root_fd,
                                          const std::vector<FileJob>& files,
                                          StoreWriter& writer,
                                          const HashOptions& options);

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_HASHER_H_
