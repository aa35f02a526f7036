// SPDX-License-Identifier: Apache-2.0
// Re-hashing an object already in the store (pull --verify): is it really
// the object its name says? Reentrant.
#ifndef SEALFS_FS_REMOTE_LOCAL_CHECK_H_
#define SEALFS_FS_REMOTE_LOCAL_CHECK_H_

#include <cstdint>
#include <optional>

#include "sealfs/digest.h"
#include "sealfs/status.h"
#include "sealfs/store.h"

namespace sealfs::remote {

// Reads the whole object `digest` and checks it is `size` bytes hashing to
// `digest`. OK if so; then a tree file that is not the tree of those bytes
// is replaced (trees are rebuildable) and `*tree_fixed` is set. kErrDigest
// ("hashes to sha256:...") or kErrCorrupt (wrong size, not a regular file)
// if the object is bad: the caller quarantines and re-fetches it; for
// kErrDigest `*actual` is what the local copy hashes to. ENOENT if missing;
// other errno for I/O errors.
Status CheckLocalObject(const Store& store, const Digest& digest, uint64_t size,
                        bool* tree_fixed, std::optional<Digest>* actual);

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_LOCAL_CHECK_H_
