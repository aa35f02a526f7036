// SPDX-License-Identifier: Apache-2.0
// RateLimiter: a token bucket shared by threads, limiting the total bytes per
// second they read (fsck --max-rate). Thread-safe.
#ifndef SEALFS_FS_STORE_RATE_LIMITER_H_
#define SEALFS_FS_STORE_RATE_LIMITER_H_

#include <chrono>
#include <cstdint>
#include <mutex>

namespace sealfs::store {

class RateLimiter {
 public:
  // `bytes_per_second` == 0 means unlimited. The bucket holds at most
  // `burst_bytes`, so an idle period does not allow a long burst later.
  RateLimiter(uint64_t bytes_per_second, uint64_t burst_bytes);

  // Blocks until `bytes` may be consumed, then consumes them. A request
  // larger than the burst is allowed, paid for by waiting longer.
  void Acquire(uint64_t bytes);

 private:
  using Clock = std::chrono::steady_clock;
  const double rate_;   // bytes per second
  const double burst_;  // bytes
  std::mutex mu_;
  double tokens_;           // guarded by mu_; may go negative (debt)
  Clock::time_point last_;  // guarded by mu_
};

}  // namespace sealfs::store

#endif  // SEALFS_FS_STORE_RATE_LIMITER_H_
