// SPDX-License-Identifier: Apache-2.0
// Prefetcher: a bounded queue of objects and a few threads that open each
// one beneath the store and posix_fadvise(WILLNEED) it. Trees are left
// alone: warming them too measured slower (more opens competing for CPU).
#include "fs/fuse/prefetch.h"

#include <fcntl.h>

#include <exception>
#include <utility>

namespace sealfs::fuse {
namespace {

// Disk reads in flight at once; the threads only block in open and read.
constexpr int kThreads = 2;
// Entries waiting; beyond this a listing's tail is simply not prefetched.
constexpr size_t kMaxQueue = 4096;
// Larger files are read in large requests that readahead already overlaps.
constexpr uint64_t kMaxObjectBytes = 1024 * 1024;

}  // namespace

Prefetcher::Prefetcher(std::shared_ptr<const Store> store)
    : store_(std::move(store)) {}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void Prefetcher::Enqueue(const Digest& digest, uint64_t size) {
  if (size == 0 || size > kMaxObjectBytes) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ || queue_.size() >= kMaxQueue) return;
    if (threads_.empty()) {
      try {
        for (int i = 0; i < kThreads; ++i) threads_.emplace_back([this] { Run(); });
      } catch (const std::exception&) {
        // No threads (or fewer): prefetching is only an optimisation.
        if (threads_.empty()) {
          stop_ = true;
          return;
        }
      }
    }
    queue_.push_back({digest, size});
  }
  cv_.notify_one();
}

void Prefetcher::Run() {
  for (;;) {
    Item item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      item = queue_.front();
      queue_.pop_front();
    }
    Warm(item);
  }
}

void Prefetcher::Warm(const Item& item) const {
  Result<UniqueFd> fd = store_->OpenObject(item.digest);
  if (!fd.ok()) return;  // Open reports it, when the file is really opened
  (void)::posix_fadvise(fd->get(), 0, static_cast<off_t>(item.size),
                        POSIX_FADV_WILLNEED);
}

}  // namespace sealfs::fuse
