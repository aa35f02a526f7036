// SPDX-License-Identifier: Apache-2.0
// IdentityHasher: computes an image's identity (the fs-verity digest of
// bytes [0, manifest_size)) on a thread of its own while the image file is
// still being read, so that reading, validating and hashing a large manifest
// overlap instead of following one another. Once the caller has validated,
// it hashes what the thread has not reached yet, alongside it.
#ifndef SEALFS_FS_CORE_IDENTITY_HASHER_H_
#define SEALFS_FS_CORE_IDENTITY_HASHER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "fs/util/mapped_file.h"
#include "sealfs/digest.h"

namespace sealfs {

// Pass to MappedFile::ReadPrivate, then call Finish() before the bytes can
// go away.
class IdentityHasher : public MappedFile::ReadObserver {
 public:
  // `alongside`: work to run on the hashing thread before it hashes, or on
  // a thread of its own if the file is too small to hash beside its read
  // (in line if no thread can be had); it has ended when Finish() or
  // Failed() returns. So the caller's other work takes no third thread
  // beside reading and hashing (on two CPUs, a third runnable thread only
  // waited for its turn).
  explicit IdentityHasher(std::function<void()> alongside = {})
      : alongside_(std::move(alongside)) {}
  ~IdentityHasher() override;  // stops the thread if Finish() was not called
  IdentityHasher(const IdentityHasher&) = delete;
  IdentityHasher& operator=(const IdentityHasher&) = delete;

  // Starts the thread if the file is large enough to be worth one, or if
  // there is work to do alongside.
  void Started(size_t size) override;
  void Ready(std::span<const uint8_t> ready) override;
  void Failed() override;

  // No more bytes will come. Hashes, alongside the thread, the blocks it
  // has not reached yet, waits for it, and returns the digest of the first
  // `manifest_size` bytes; or nothing if that is not what was hashed: no
  // thread was worth starting, the read failed or stopped short, or the
  // header's manifest_size (read before validation) says otherwise. The
  // caller then hashes the bytes itself.
  std::optional<Digest> Finish(uint64_t manifest_size);

 private:
  void Stop(bool failed);
  // Once the header is in, sizes the work by its manifest_size; false until
  // then, or if the hasher gives up (failed_). REQUIRES: mu_ held.
  bool PlanLocked();
  // Takes chunks of blocks to hash until none is left. The thread waits for
  // each chunk's bytes to arrive; Finish finds them all there.
  void HashChunks(bool wait);

  std::function<void()> alongside_;
  bool hashing_ = false;  // the thread hashes; set before it starts
  BlockHashing how_ = BlockHashing::kOneAtATime;  // set before the thread
  size_t file_size_ = 0;                          // set before the thread
  std::mutex mu_;
  std::condition_variable more_;
  std::span<const uint8_t> ready_;  // guarded by mu_
  bool closed_ = false;             // guarded by mu_
  bool failed_ = false;             // guarded by mu_: gives nothing
  bool planned_ = false;            // guarded by mu_; then fixes the next 3
  uint64_t end_ = 0;                // the header's manifest_size
  uint64_t chunks_ = 0;             // chunks in [0, end_)
  std::vector<Digest> leaves_;      // one per block; chunks fill disjoint runs
  uint64_t next_chunk_ = 0;         // guarded by mu_
  std::thread thread_;
};

}  // namespace sealfs

#endif  // SEALFS_FS_CORE_IDENTITY_HASHER_H_
