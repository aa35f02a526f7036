// SPDX-License-Identifier: Apache-2.0
#include "fs/util/progress.h"

#include <unistd.h>

#include <cstdio>

namespace sealfs {
namespace {

constexpr int64_t kRedrawIntervalNs = 100'000'000;

std::string Human(uint64_t value, Progress::Unit unit) {
  char buf[32];
  if (unit == Progress::Unit::kCount) {
    std::snprintf(buf, sizeof(buf), "%llu",
                  static_cast<unsigned long long>(value));
    return buf;
  }
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(value);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(kUnits)) {
    v /= 1024;
    ++u;
  }
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", v, kUnits[u]);
  return buf;
}

}  // namespace

Progress::Progress(std::string label, uint64_t total, Unit unit)
    : label_(std::move(label)),
      unit_(unit),
      enabled_(::isatty(STDERR_FILENO) == 1),
      total_(total),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { Finish(); }

void Progress::Add(uint64_t amount) {
  done_.fetch_add(amount, std::memory_order_relaxed);
  if (!enabled_) return;
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now() - start_)
                    .count();
  int64_t due = next_draw_ns_.load(std::memory_order_relaxed);
  if (now < due) return;
  if (!next_draw_ns_.compare_exchange_strong(due, now + kRedrawIntervalNs)) {
    return;  // another thread draws this tick
  }
  Draw(false);
}

void Progress::Finish() {
  if (!enabled_) return;
  Draw(true);
}

void Progress::Draw(bool final) {
  std::lock_guard lock(draw_mu_);
  if (finished_) return;
  uint64_t done = done_.load();
  uint64_t total = total_.load();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                              start_)
                    .count();
  std::string line = "\r";
  line += label_;
  line += ' ';
  if (total > 0) {
    constexpr int kWidth = 30;
    double frac = done >= total ? 1.0 : static_cast<double>(done) / total;
    int filled = static_cast<int>(frac * kWidth);
    line += '[';
    line.append(static_cast<size_t>(filled), '#');
    line.append(static_cast<size_t>(kWidth - filled), ' ');
    line += "] ";
    char pct[16];
    std::snprintf(pct, sizeof(pct), "%3.0f%% ", frac * 100);
    line += pct;
    line += Human(done, unit_);
    line += '/';
    line += Human(total, unit_);
  } else {
    line += Human(done, unit_);
  }
  if (unit_ == Unit::kBytes && secs > 0.1) {
    line += "  ";
    line += Human(static_cast<uint64_t>(static_cast<double>(done) / secs), unit_);
    line += "/s";
  }
  line += "\x1b[K";  // clear to end of line
  if (final) {
    line += "\n";
    finished_ = true;
  }
  (void)!::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace sealfs
