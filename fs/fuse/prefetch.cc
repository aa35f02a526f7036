// SPDX-License-Identifier: Apache-2.0
// Prefetcher: a bounded queue of objects and a few threads that open each
// one beneath the store and posix_fadvise(WILLNEED) it. Trees are left
// alone: warming them too measured slower (more opens competing for CPU).
#include "fs/fuse/prefetch.h"

#include <fcntl.h>

#include <exception>
#include <utility>

#include "fs/fuse/idle_reaper.h"

namespace sealfs::fuse {
namespace {

// Disk reads in flight at once; the threads only block in open and read.
constexpr int kThreads = 2;
// Entries waiting; beyond this a listing's tail is simply not prefetched.
constexpr size_t kMaxQueue = 4096;
// Larger files are read in large requests that readahead already overlaps.
constexpr uint64_t kMaxObjectBytes = 1024 * 1024;
// Opened objects kept for the reads that follow: a walk reads a listed
// directory's files soon after, in order; under `sealfs serve` every
// mount's are in one process, so few, and only for a moment.
constexpr size_t kMaxOpened = 64;
constexpr int64_t kOpenedSec = 2;

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
  // Only now: a thread still warming could have asked to be watched.
  UnwatchIdle(this);
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

void Prefetcher::Warm(const Item& item) {
  struct stat st;
  Result<UniqueFd> fd = store_->OpenObject(item.digest, &st);
  if (!fd.ok()) return;  // Open reports it, when the file is really opened
  (void)::posix_fadvise(fd->get(), 0, static_cast<off_t>(item.size),
                        POSIX_FADV_WILLNEED);
  UniqueFd pushed_out;  // closed after the lock
  bool watch = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    auto [it, added] = opened_.try_emplace(item.digest);
    if (!added) return;  // the same content under two names
    it->second = Opened{std::move(*fd), st, CoarseSeconds()};
    order_.push_back(item.digest);
    if (order_.size() > kMaxOpened) {
      auto oldest = opened_.find(order_.front());
      order_.pop_front();
      if (oldest != opened_.end()) {
        pushed_out = std::move(oldest->second.fd);
        opened_.erase(oldest);
      }
    }
    watch = !reaper_watches_;
    reaper_watches_ = true;
  }
  // Outside mu_, which the reaper's call takes under the reaper's lock.
  if (watch) WatchIdle(this, [this] { return CloseStale(); });
}

bool Prefetcher::Take(const Digest& digest, UniqueFd* fd, struct stat* st) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = opened_.find(digest);
  if (it == opened_.end()) return false;
  *fd = std::move(it->second.fd);
  *st = it->second.st;
  opened_.erase(it);  // its entry in order_ is skipped when it comes up
  return true;
}

bool Prefetcher::CloseStale() {
  const int64_t now = CoarseSeconds();
  std::vector<UniqueFd> stale;  // closed after the lock
  std::lock_guard<std::mutex> lock(mu_);
  while (!order_.empty()) {
    auto it = opened_.find(order_.front());
    if (it != opened_.end()) {
      if (now - it->second.at < kOpenedSec) break;
      stale.push_back(std::move(it->second.fd));
      opened_.erase(it);
    }
    order_.pop_front();
  }
  reaper_watches_ = !opened_.empty();
  return reaper_watches_;
}

}  // namespace sealfs::fuse
