// SPDX-License-Identifier: Apache-2.0
// IdentityHasher: computes an image's identity (the fs-verity digest of
// bytes [0, manifest_size)) on a thread of its own while the image file is
// still being read, so that reading, validating and hashing a large manifest
// overlap instead of following one another.
#ifndef SEALFS_FS_CORE_IDENTITY_HASHER_H_
#define SEALFS_FS_CORE_IDENTITY_HASHER_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <thread>

#include "fs/util/mapped_file.h"
#include "sealfs/digest.h"

namespace sealfs {

// Pass to MappedFile::ReadPrivate, then call Finish() before the bytes can
// go away.
class IdentityHasher : public MappedFile::ReadObserver {
 public:
  IdentityHasher() = default;
  ~IdentityHasher() override;  // stops the thread if Finish() was not called
  IdentityHasher(const IdentityHasher&) = delete;
  IdentityHasher& operator=(const IdentityHasher&) = delete;

  // Starts the thread if the file is large enough to be worth one.
  void Started(size_t size) override;
  void Ready(std::span<const uint8_t> ready) override;
  void Failed() override;

  // No more bytes will come. Waits for the thread and returns the digest of
  // the first `manifest_size` bytes, or nothing if that is not what the
  // thread hashed: no thread was worth starting, the read failed or stopped
  // short, or the header's manifest_size (read before validation) says
  // otherwise. The caller then hashes the bytes itself.
  std::optional<Digest> Finish(uint64_t manifest_size);

 private:
  void Run();
  void Stop(bool failed);

  std::mutex mu_;
  std::condition_variable more_;
  std::span<const uint8_t> ready_;  // guarded by mu_
  bool closed_ = false;             // guarded by mu_
  bool failed_ = false;             // guarded by mu_
  // Written by the thread, read after join.
  std::optional<uint64_t> end_;  // the header's manifest_size
  uint64_t hashed_ = 0;
  Digest digest_;
  std::thread thread_;
};

}  // namespace sealfs

#endif  // SEALFS_FS_CORE_IDENTITY_HASHER_H_
