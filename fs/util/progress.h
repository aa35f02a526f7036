// SPDX-License-Identifier: Apache-2.0
// Progress: a one-line progress bar on stderr, drawn only when stderr is a
// terminal, redrawn at most 10 times a second. Add() is thread-safe and cheap
// (one atomic add); drawing happens under a lock by whichever caller is due.
#ifndef SEALFS_FS_UTIL_PROGRESS_H_
#define SEALFS_FS_UTIL_PROGRESS_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace sealfs {

class Progress {
 public:
  enum class Unit { kCount, kBytes };

  // `total` may be 0 when unknown (then no percentage is shown).
  Progress(std::string label, uint64_t total, Unit unit);
  ~Progress();  // calls Finish()
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Add(uint64_t amount);
  void set_total(uint64_t total) { total_.store(total); }
  // Draws the final state and ends the line. Idempotent.
  void Finish();

  bool enabled() const { return enabled_; }

 private:
  void Draw(bool final);

  const std::string label_;
  const Unit unit_;
  const bool enabled_;
  std::atomic<uint64_t> done_{0};
  std::atomic<uint64_t> total_;
  std::atomic<int64_t> next_draw_ns_{0};
  const std::chrono::steady_clock::time_point start_;
  std::mutex draw_mu_;  // serialises writes to stderr
  bool finished_ = false;  // guarded by draw_mu_
};

}  // namespace sealfs

#endif  // SEALFS_FS_UTIL_PROGRESS_H_
