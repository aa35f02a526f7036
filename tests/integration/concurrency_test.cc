// SPDX-License-Identifier: Apache-2.0
// Many threads reading random ranges of random files for a while, every
// byte compared with the source.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/mount_fixture.h"

namespace sealfs::testing {
namespace {

class ConcurrencyTest : public MountTest {};

TEST_F(ConcurrencyTest, SixteenThreadsReadRandomRangesCorrectly) {
  std::string src = tmp_ / "src";
  const size_t sizes[] = {0,       1,
                          100,     4095,
                          4096,    4097,
                          65536,   700 * 1024 + 5,
                          3 << 20, (1 << 20) + 12345};
  std::vector<std::string> names;
  std::vector<std::vector<uint8_t>> contents;
  for (size_t i = 0; i < std::size(sizes); ++i) {
    std::string name(1, 'f');
    name.append(std::to_string(i));
    names.push_back(name);
    contents.push_back(RandomBytes(sizes[i], 100 + i));
    WriteFile(src + "/" + names.back(), contents.back());
  }
  // Two names for one content: both share one open object in the daemon.
  names.push_back("same-as-f8");
  contents.push_back(contents[8]);
  WriteFile(src + "/same-as-f8", contents.back());
  MakeKey(tmp_ / "key");
  Mkfs(src, tmp_ / "image", tmp_ / "key");
  std::string mnt = tmp_ / "mnt";
  MountOk(tmp_ / "image", mnt,
          "store=" + store_ + ",pubkey=" + (tmp_ / "key.pub") + ",threads=8");

  std::atomic<uint64_t> reads{0}, mismatches{0}, errors{0};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t) * 7919 + 1);
      std::vector<uint8_t> buf;
      while (std::chrono::steady_clock::now() < deadline) {
        size_t f = rng() % names.size();
        const std::vector<uint8_t>& want = contents[f];
        int fd = open((mnt + "/" + names[f]).c_str(), O_RDONLY);
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
              !std::equal(buf.begin(), buf.begin() + n, want.begin() + off)) {
            ++mismatches;
          }
        }
        // Drop the page cache now and then so that reads reach the daemon.
        if (rng() % 4 == 0) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_GT(reads.load(), 1000u);
  EXPECT_EQ(mismatches.load(), 0u);
  EXPECT_EQ(errors.load(), 0u);
}

}  // namespace
}  // namespace sealfs::testing
