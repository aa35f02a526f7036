// SPDX-License-Identifier: Apache-2.0
// A Merkle tree reader that opens the object's tree file only when a tree
// block is first needed. Small objects are normally verified whole from
// their data (BlockVerifier::VerifyObject), so their tree file is opened
// only to find which block of a corrupt object is bad.
// Thread-safety: the returned reader may be called concurrently.
#ifndef SEALFS_FS_FUSE_LAZY_TREE_H_
#define SEALFS_FS_FUSE_LAZY_TREE_H_

#include <cstdint>
#include <memory>

#include "sealfs/digest.h"
#include "sealfs/store.h"

namespace sealfs::fuse {

// Reads tree blocks of object `digest` (`data_size` bytes, open as
// `object_fd`, which must outlive the reader) through store->OpenTree(),
// called once, at the first read. Its failure is every read's failure.
TreeBlockReader LazyTreeReader(std::shared_ptr<const Store> store,
                               const Digest& digest, uint64_t data_size,
                               int object_fd);

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_LAZY_TREE_H_
