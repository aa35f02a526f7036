// SPDX-License-Identifier: Apache-2.0
// OpenObject: the state shared by every open of one store object (its fd and
// its BlockVerifier, whose verified tree blocks stay cached while any open
// lasts), and OpenObjectTable, which hands out one per digest with a
// reference count. Thread-safety: the table is internally locked; an
// OpenObject is immutable after construction and VerifyBlock is thread-safe.
#ifndef SEALFS_FS_FUSE_OPEN_FILE_H_
#define SEALFS_FS_FUSE_OPEN_FILE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "fs/remote/partial_object.h"
#include "sealfs/digest.h"
#include "sealfs/status.h"
#include "sealfs/unique_fd.h"

namespace sealfs::fuse {

struct OpenObject {
  Digest digest;
  uint64_t ino = 0;   // the inode that opened it first (for reports)
  uint64_t size = 0;  // bytes; equals the object's size (checked at open)
  UniqueFd fd;
  std::unique_ptr<BlockVerifier> verifier;
  // Set while the object is still arriving from the remote: reads first
  // make their blocks present (remote::PartialObject::Ensure).
  std::shared_ptr<remote::PartialObject> partial;
  int refs = 0;  // guarded by the table's mutex
  // End of the object range already handed to posix_fadvise(WILLNEED) by
  // sequential reads; a hint only, so relaxed ordering suffices.
  std::atomic<uint64_t> prefetched_to{0};
};

class OpenObjectTable {
 public:
  using Factory = std::function<Result<std::unique_ptr<OpenObject>>()>;

  // Returns the open state for `digest`, creating it with `make` (called
  // without the lock held) if no open of that digest exists. Each successful
  // Acquire must be paired with one Release. The pointer stays valid until
  // then.
  Result<OpenObject*> Acquire(const Digest& digest, const Factory& make);
  // Drops one reference; closes the object with the last one. Returns true
  // if it was closed.
  bool Release(OpenObject* obj);
  // Detaches `obj` from its digest: later Acquires create a fresh one (the
  // store may have been repaired), while `obj` lives on for the handles
  // that still hold it and is freed by their last Release. For an object
  // found corrupt.
  void Evict(OpenObject* obj);

  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<Digest, std::unique_ptr<OpenObject>, DigestHash> open_;
  // Evicted objects still referenced by open handles; guarded by mu_.
  std::unordered_map<OpenObject*, std::unique_ptr<OpenObject>> evicted_;
};

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_OPEN_FILE_H_
