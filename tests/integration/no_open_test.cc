// SPDX-License-Identifier: Apache-2.0
// Files opened without an OPEN round trip (FUSE_CAP_NO_OPEN_SUPPORT): reads
// find their object by inode, also through a handle that outlives a lazy
// unmount; a flipped byte still fails exactly the reads of its block, also
// after a directory listing prefetched the object; many threads reading
// more files than the daemon keeps open get every byte right; and a daemon
// started under a low soft limit on open files raises it.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/mount_fixture.h"
#include "tests/integration/random_readers.h"
#include "tests/integration/store_files.h"

namespace sealfs::testing {
namespace {

constexpr size_t kBlock = kTestBlock;

class NoOpenTest : public MountTest {
 protected:
  void SetUp() override {
    MountTest::SetUp();
    if (IsSkipped()) return;
    src_ = tmp_ / "src";
    WriteFile(src_ + "/big.bin", RandomBytes(600 * 1024 + 7, 21));
    WriteFile(src_ + "/small.bin", RandomBytes(3 * kBlock + 9, 22));
    WriteFile(src_ + "/dir/a.bin", RandomBytes(2 * kBlock, 23));
    WriteFile(src_ + "/dir/b.bin", RandomBytes(5 * kBlock + 1, 24));
    WriteFile(src_ + "/tiny.txt", "inline\n");
    MakeKey(tmp_ / "key");
    image_ = tmp_ / "image";
    Mkfs(src_, image_, tmp_ / "key");
    opts_ = "store=" + store_ + ",pubkey=" + (tmp_ / "key.pub");
    mnt_ = tmp_ / "mnt";
  }

  // The value of "name":N in `sealfs stats` of the mount.
  long long Stat(const std::string& name) { return StatsCounter(mnt_, name); }

  std::string src_, image_, opts_, mnt_;
};

// Drops the page cache of `fd` (keep_cache keeps it across opens), so the
// next read reaches the daemon.
void DropCache(int fd) {
  ASSERT_EQ(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
}

TEST_F(NoOpenTest, ReopensCostTheDaemonNoOpen) {
  MountOk(image_, mnt_, opts_);
  const std::vector<uint8_t> want = ReadFile(src_ + "/small.bin");
  for (int i = 0; i < 10; ++i) {
    int fd = open((mnt_ + "/small.bin").c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    DropCache(fd);
    std::vector<uint8_t> got(want.size() + 10);
    ASSERT_EQ(pread(fd, got.data(), got.size(), 0),
              static_cast<ssize_t>(want.size()));
    got.resize(want.size());
    EXPECT_EQ(got, want);
    close(fd);
  }
  EXPECT_EQ(ReadFile(mnt_ + "/tiny.txt"), ReadFile(src_ + "/tiny.txt"));
  // Ten opens, ten reads that reached the daemon, one object opened: the
  // kernel asked for no open (with OPEN round trips this counts 10).
  EXPECT_GE(Stat("reads"), 10);
  EXPECT_EQ(Stat("opens"), 1);
  // Write opens are refused by the read-only mount itself.
  EXPECT_EQ(open((mnt_ + "/small.bin").c_str(), O_RDWR), -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(open((mnt_ + "/small.bin").c_str(), O_RDONLY | O_TRUNC), -1);
  EXPECT_EQ(errno, EROFS);
}

// No RELEASE comes for a file the kernel opened itself, so its object
// (with a large file's verified tree) is dropped once it is no longer read,
// and a later read re-derives it.
TEST_F(NoOpenTest, IdleHandleIsDroppedAndReadAgain) {
  MountOk(image_, mnt_, opts_);
  const std::vector<uint8_t> want = ReadFile(src_ + "/big.bin");
  int fd = open((mnt_ + "/big.bin").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::vector<uint8_t> got(want.size());
  ASSERT_EQ(pread(fd, got.data(), got.size(), 0),
            static_cast<ssize_t>(want.size()));
  EXPECT_EQ(got, want);
  EXPECT_EQ(Stat("open_objects"), 1);
  // Dropped within a few seconds of idleness, although `fd` stays open
  // (the bound only guards against a hang).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (Stat("open_objects") != 0 &&
         std::chrono::steady_clock::now() < deadline) {
    usleep(200 * 1000);
  }
  EXPECT_EQ(Stat("open_objects"), 0);
  DropCache(fd);
  std::fill(got.begin(), got.end(), 0);
  ASSERT_EQ(pread(fd, got.data(), got.size(), 0),
            static_cast<ssize_t>(want.size()));
  EXPECT_EQ(got, want);
  EXPECT_EQ(Stat("open_objects"), 1);
  EXPECT_EQ(Stat("opens"), 2);
  close(fd);
}

TEST_F(NoOpenTest, HandleWorksAfterLazyUnmount) {
  FlipByte(ObjectPathFor(store_, src_ + "/dir/b.bin"), 2 * kBlock + 5);
  MountOk(image_, mnt_, opts_);
  int big = open((mnt_ + "/big.bin").c_str(), O_RDONLY);
  int bad = open((mnt_ + "/dir/b.bin").c_str(), O_RDONLY);
  ASSERT_GE(big, 0);
  ASSERT_GE(bad, 0);
  std::vector<pid_t> daemons = DaemonPids(mnt_);
  ASSERT_EQ(daemons.size(), 1u);
  ASSERT_EQ(RunCmd({"fusermount3", "-u", "-z", mnt_}).exit_code, 0);
  ASSERT_FALSE(WaitMounted(mnt_, false));
  Forget(mnt_);

  // The detached mount lives on for the open handles, served by inode.
  const std::vector<uint8_t> want = ReadFile(src_ + "/big.bin");
  std::vector<uint8_t> got(want.size());
  ASSERT_EQ(pread(big, got.data(), got.size(), 0),
            static_cast<ssize_t>(want.size()));
  EXPECT_EQ(got, want);
  std::vector<uint8_t> block(kBlock);
  EXPECT_EQ(pread(bad, block.data(), kBlock, 2 * kBlock), -1);
  EXPECT_EQ(errno, EIO);
  const std::vector<uint8_t> b = ReadFile(src_ + "/dir/b.bin");
  ASSERT_EQ(pread(bad, block.data(), kBlock, 0), static_cast<ssize_t>(kBlock));
  EXPECT_EQ(block, std::vector<uint8_t>(b.begin(), b.begin() + kBlock));
  close(big);
  close(bad);
  // The last handle gone, the connection ends and so does the daemon.
  EXPECT_TRUE(WaitGone(daemons[0]));
}

TEST_F(NoOpenTest, PrefetchedCorruptBlockStillFails) {
  FlipByte(ObjectPathFor(store_, src_ + "/dir/a.bin"), kBlock + 1);
  MountOk(image_, mnt_, opts_);
  // Listing the directory prefetches its files' objects into the page
  // cache (the corrupt copy included).
  ASSERT_EQ(RunCmd({"ls", "-l", mnt_ + "/dir"}).exit_code, 0);
  std::vector<uint8_t> got;
  EXPECT_EQ(ReadBlock(mnt_ + "/dir/a.bin", 1, &got), EIO);
  EXPECT_EQ(ReadBlock(mnt_ + "/dir/a.bin", 1, &got), EIO);  // not remembered
  // The good block of the same object still reads (checked alone once the
  // whole object failed).
  const std::vector<uint8_t> a = ReadFile(src_ + "/dir/a.bin");
  ASSERT_EQ(ReadBlock(mnt_ + "/dir/a.bin", 0, &got), 0);
  EXPECT_EQ(got, std::vector<uint8_t>(a.begin(), a.begin() + kBlock));
  EXPECT_EQ(ReadFile(mnt_ + "/dir/b.bin"), ReadFile(src_ + "/dir/b.bin"));
  EXPECT_GE(Stat("verify_failures"), 1);
}

// The soft "Max open files" of process `pid`, as /proc/PID/limits shows it.
std::string SoftFdLimitOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Max open files", 0) != 0) continue;
    std::istringstream fields(line.substr(14));
    std::string soft;
    fields >> soft;
    return soft;
  }
  return "";
}

TEST_F(NoOpenTest, DaemonStartedUnderALowSoftFdLimitReadsEveryFile) {
  // The daemon keeps up to 256 objects open for handles it never saw
  // opened, plus what prefetching opened: under a soft limit of 128 (the
  // hard one higher) it raises its own, as a service's many mounts need.
  const std::string many = tmp_ / "many";
  std::vector<std::vector<uint8_t>> contents;
  for (int i = 0; i < 300; ++i) {
    contents.push_back(RandomBytes(100 + static_cast<size_t>(i),
                                   3000 + static_cast<uint32_t>(i)));
    WriteFile(many + "/f" + std::to_string(i), contents.back());
  }
  Mkfs(many, tmp_ / "many.img", tmp_ / "key");
  struct rlimit saved {};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max <= 400) GTEST_SKIP() << "hard RLIMIT_NOFILE too low";
  struct rlimit low = saved;
  low.rlim_cur = 128;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  CommandResult mounted = Mount(tmp_ / "many.img", mnt_, opts_);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_EQ(mounted.exit_code, 0) << mounted.err;
  std::vector<pid_t> daemons = DaemonPids(mnt_);
  ASSERT_EQ(daemons.size(), 1u);
  EXPECT_EQ(SoftFdLimitOf(daemons[0]), std::to_string(saved.rlim_max));
  // Read faster than idle objects are dropped: without the raised limit,
  // reads past the 120th or so fail with EIO.
  for (size_t i = 0; i < contents.size(); ++i) {
    ASSERT_EQ(ReadFile(mnt_ + "/f" + std::to_string(i)), contents[i]) << i;
  }
  EXPECT_EQ(Stat("bad_objects"), 0);
}

TEST_F(NoOpenTest, ThreadsReadMoreFilesThanStayOpen) {
  // More files than the daemon keeps open for handles it never saw opened
  // (kMaxAdoptedObjects), so objects are dropped and re-opened while
  // other threads read them.
  const std::string many = tmp_ / "many";
  std::vector<std::vector<uint8_t>> contents;
  for (int i = 0; i < 400; ++i) {
    const size_t size = (i % 7 == 0) ? 300 * 1024 + static_cast<size_t>(i)
                                     : 1 + static_cast<size_t>(i) * 97;
    contents.push_back(RandomBytes(size, 1000 + static_cast<uint32_t>(i)));
    WriteFile(many + "/f" + std::to_string(i), contents.back());
  }
  Mkfs(many, tmp_ / "many.img", tmp_ / "key");
  MountOk(tmp_ / "many.img", mnt_, opts_ + ",threads=8");
  std::vector<ReaderFile> files;
  for (size_t i = 0; i < contents.size(); ++i) {
    files.push_back({mnt_ + "/f" + std::to_string(i), contents[i]});
  }
  ReaderStats stats = ReadRandomly(files, 16, std::chrono::seconds(8));
  EXPECT_GT(stats.reads, 1000u);
  EXPECT_EQ(stats.mismatches, 0u);
  EXPECT_EQ(stats.errors, 0u);
  EXPECT_GT(Stat("opens"), 256);
}

}  // namespace
}  // namespace sealfs::testing
