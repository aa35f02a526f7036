// SPDX-License-Identifier: Apache-2.0
// IdleReaper: a map of watched owners and one thread that sweeps them every
// second, holding the map's mutex while it does, so that UnwatchIdle waits
// for a sweep in progress. Never destroyed: a session thread may still
// unwatch while the process exits.
#include "fs/fuse/idle_reaper.h"

#include <time.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

namespace sealfs::fuse {
namespace {

constexpr auto kSweepPeriod = std::chrono::seconds(1);

class IdleReaper {
 public:
  void Watch(const void* key, DropIdle drop) {
    {
      std::lock_guard lock(mu_);
      if (!watched_.emplace(key, std::move(drop)).second) return;
      if (!thread_.joinable()) {
        try {
          thread_ = std::thread([this] { Run(); });
        } catch (const std::exception&) {
          // No thread: handles are then dropped only by count, as before.
          watched_.erase(key);
          return;
        }
      }
    }
    cv_.notify_one();
  }

  void Unwatch(const void* key) {
    std::lock_guard lock(mu_);
    watched_.erase(key);
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return !watched_.empty(); });
      // Unwatch may run meanwhile: the sweep below sees the map as it is.
      lock.unlock();
      std::this_thread::sleep_for(kSweepPeriod);
      lock.lock();
      for (auto it = watched_.begin(); it != watched_.end();) {
        it = it->second() ? std::next(it) : watched_.erase(it);
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<const void*, DropIdle> watched_;  // guarded by mu_
  std::thread thread_;  // started under mu_, never joined
};

IdleReaper& Reaper() {
  static IdleReaper* reaper = new IdleReaper;
  return *reaper;
}

}  // namespace

void WatchIdle(const void* key, DropIdle drop) {
  Reaper().Watch(key, std::move(drop));
}

void UnwatchIdle(const void* key) { Reaper().Unwatch(key); }

int64_t CoarseSeconds() {
  struct timespec ts {};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return ts.tv_sec;
}

}  // namespace sealfs::fuse
