// SPDX-License-Identifier: Apache-2.0
// Prefetcher: when a directory is listed, a few background threads ask the
// kernel to start reading the store objects of its small files,
// so a cold walk (tar, cp -a) finds them cached instead of waiting for one
// disk read at a time. It only warms the page cache: every byte is still
// read and verified by Filesystem::Read. The descriptor it opened is kept
// for a moment, so the read that follows need not open the object again.
// Thread-safe.
#ifndef SEALFS_FS_FUSE_PREFETCH_H_
#define SEALFS_FS_FUSE_PREFETCH_H_

#include <sys/stat.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "sealfs/digest.h"
#include "sealfs/store.h"
#include "sealfs/unique_fd.h"

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

  // Hands over the descriptor a thread opened (and fstat'ed) to warm
  // `digest`; false if there is none. Descriptors not taken are closed
  // after a few seconds, or when newer ones push them out.
  bool Take(const Digest& digest, UniqueFd* fd, struct stat* st);

 private:
  struct Item {
    Digest digest;
    uint64_t size;
  };
  struct Opened {
    UniqueFd fd;
    struct stat st;
    int64_t at;  // CoarseSeconds() when opened
  };
  void Run();
  void Warm(const Item& item);
  // Called by the idle reaper; true while descriptors are kept.
  bool CloseStale();

  std::shared_ptr<const Store> store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;        // guarded by mu_
  bool stop_ = false;             // guarded by mu_
  std::vector<std::thread> threads_;  // started under mu_
  // Opened objects not yet taken, and their digests oldest first (an entry
  // of `order_` whose object was taken is skipped). Guarded by mu_.
  std::unordered_map<Digest, Opened, DigestHash> opened_;
  std::deque<Digest> order_;
  bool reaper_watches_ = false;  // guarded by mu_
};

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_PREFETCH_H_
