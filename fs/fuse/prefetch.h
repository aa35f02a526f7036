// SPDX-License-Identifier: Apache-2.0
// Prefetcher: when a directory is listed, a few background threads ask the
// kernel to start reading the store objects of its small files,
// so a cold walk (tar, cp -a) finds them cached instead of waiting for one
// disk read at a time. It only warms the page cache: every byte is still
// read and verified by Filesystem::Read. Thread-safe.
#ifndef SEALFS_FS_FUSE_PREFETCH_H_
#define SEALFS_FS_FUSE_PREFETCH_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "sealfs/digest.h"
#include "sealfs/store.h"

namespace sealfs::fuse {

class Prefetcher {
 public:
  explicit Prefetcher(std::shared_ptr<const Store> store);
  ~Prefetcher();  // stops and joins the threads
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // Queues one object of `size` bytes; dropped when the queue is full or the
  // object is too large to be worth it. The threads start on first use, so
  // mounting creates none.
  void Enqueue(const Digest& digest, uint64_t size);

 private:
  struct Item {
    Digest digest;
    uint64_t size;
  };
  void Run();
  void Warm(const Item& item) const;

  std::shared_ptr<const Store> store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;        // guarded by mu_
  bool stop_ = false;             // guarded by mu_
  std::vector<std::thread> threads_;  // started under mu_
};

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_PREFETCH_H_
