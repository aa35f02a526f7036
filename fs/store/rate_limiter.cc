// SPDX-License-Identifier: Apache-2.0
// RateLimiter: refill by elapsed time, take, and sleep off any debt outside
// the lock so other threads queue behind the debt rather than the sleep.
#include "fs/store/rate_limiter.h"

#include <algorithm>
#include <thread>

namespace sealfs::store {

RateLimiter::RateLimiter(uint64_t bytes_per_second, uint64_t burst_bytes)
    : rate_(static_cast<double>(bytes_per_second)),
      burst_(static_cast<double>(std::max<uint64_t>(burst_bytes, 1))),
      tokens_(burst_),
      last_(Clock::now()) {}

void RateLimiter::Acquire(uint64_t bytes) {
  if (rate_ <= 0) return;
  double wait_s = 0;
  {
    std::lock_guard lock(mu_);
    const Clock::time_point now = Clock::now();
    tokens_ = std::min(
        burst_,
        tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
    last_ = now;
    tokens_ -= static_cast<double>(bytes);
    // Debt is paid by this caller's sleep; the next caller sees it too and
    // waits behind it, so the total stays at the rate.
    if (tokens_ < 0) wait_s = -tokens_ / rate_;
  }
  if (wait_s > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(wait_s));
  }
}

}  // namespace sealfs::store
