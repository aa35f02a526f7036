// SPDX-License-Identifier: Apache-2.0
// Random concurrent readers for integration tests (see random_readers.h).
#include "tests/integration/random_readers.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

namespace sealfs::testing {

ReaderStats ReadRandomly(const std::vector<ReaderFile>& files, int threads,
                         std::chrono::seconds duration) {
  std::atomic<uint64_t> reads{0}, mismatches{0}, errors{0};
  const auto deadline = std::chrono::steady_clock::now() + duration;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t) * 7919 + 1);
      std::vector<uint8_t> buf;
      while (std::chrono::steady_clock::now() < deadline) {
        const ReaderFile& file = files[rng() % files.size()];
        const std::vector<uint8_t>& want = file.content;
        int fd = open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
          ++errors;
          continue;
        }
        for (int k = 0; k < 8; ++k) {
          size_t off = want.empty() ? 0 : rng() % (want.size() + 10);
          size_t len = 1 + rng() % (rng() % 4 == 0 ? (1 << 20) : 20000);
          buf.resize(len);
          ssize_t n = pread(fd, buf.data(), len, static_cast<off_t>(off));
          ++reads;
          if (n < 0) {
            ++errors;
            continue;
          }
          size_t expect_n =
              off >= want.size() ? 0 : std::min(len, want.size() - off);
          if (static_cast<size_t>(n) != expect_n ||
              !std::equal(buf.begin(), buf.begin() + n,
                          want.begin() + static_cast<ptrdiff_t>(off))) {
            ++mismatches;
          }
        }
        if (rng() % 4 == 0) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  return {reads.load(), mismatches.load(), errors.load()};
}

}  // namespace sealfs::testing
