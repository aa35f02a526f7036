// SPDX-License-Identifier: Apache-2.0
// Stress (issue #6): 32 readers for 60 s over random ranges, compared with
// the source, with the daemon's memory recorded and bounded; and 300 mounts
// and unmounts in a row leaving no mount, process or descriptor behind.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/mount_fixture.h"
#include "tests/integration/random_readers.h"

namespace sealfs::testing {
namespace {

// A /proc/PID/status field in KiB (VmRSS, VmHWM), or -1.
long StatusKib(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      return std::stol(line.substr(field.size() + 1));
    }
  }
  return -1;
}

size_t OpenFdCount() {
  size_t n = 0;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  while (dirent* d = readdir(dir)) n += d->d_name[0] != '.';
  closedir(dir);
  return n;
}

class StressTest : public MountTest {};

TEST_F(StressTest, ThirtyTwoReadersForSixtySeconds) {
  const std::string src = tmp_ / "src";
  std::vector<std::pair<std::string, std::vector<uint8_t>>> made;
  for (size_t i = 0; i < 48; ++i) {
    // Sizes from empty to 4 MiB, block-aligned and not.
    const size_t size = (i * i * i * 37) % (4u << 20) + (i % 3);
    // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on "d" + ...
    std::string name = "d";
    name += std::to_string(i % 4);
    name += "/f";
    name += std::to_string(i);
    made.emplace_back(name, RandomBytes(size, 1000 + i));
    WriteFile(src + "/" + made.back().first, made.back().second);
  }
  MakeKey(tmp_ / "key");
  Mkfs(src, tmp_ / "image", tmp_ / "key");
  const std::string mnt = tmp_ / "mnt";
  MountOk(tmp_ / "image", mnt,
          "store=" + store_ + ",pubkey=" + (tmp_ / "key.pub"));
  std::vector<pid_t> daemons = DaemonPids(mnt);
  ASSERT_EQ(daemons.size(), 1u);

  std::vector<ReaderFile> files;
  for (auto& [name, content] : made) files.push_back({mnt + "/" + name, content});
  ReaderStats stats = ReadRandomly(files, 32, std::chrono::seconds(60));
  const long rss = StatusKib(daemons[0], "VmRSS");
  const long peak = StatusKib(daemons[0], "VmHWM");
  std::printf("stress: %llu reads, daemon RSS %ld KiB, peak %ld KiB\n",
              static_cast<unsigned long long>(stats.reads), rss, peak);
  RecordProperty("reads", std::to_string(stats.reads));
  RecordProperty("daemon_rss_kib", std::to_string(rss));
  RecordProperty("daemon_peak_rss_kib", std::to_string(peak));
  EXPECT_GT(stats.reads, 10000u);
  EXPECT_EQ(stats.mismatches, 0u);
  EXPECT_EQ(stats.errors, 0u);
  // Buffers are per request and tree caches per open object: the daemon
  // must stay small however long it serves.
  EXPECT_GT(peak, 0);
  EXPECT_LT(peak, 64 * 1024) << "daemon peak RSS in KiB";
}

TEST_F(StressTest, ThreeHundredMountsLeaveNothingBehind) {
  WriteFile(tmp_ / "src/hello.txt", "hello\n");
  MakeKey(tmp_ / "key");
  Mkfs(tmp_ / "src", tmp_ / "image", tmp_ / "key");
  const std::string opts =
      "store=" + store_ + ",pubkey=" + (tmp_ / "key.pub");
  const std::string mnt = tmp_ / "mnt";
  const size_t fds_before = OpenFdCount();
  for (int i = 0; i < 300; ++i) {
    SCOPED_TRACE(i);
    MountOk(tmp_ / "image", mnt, opts);
    ASSERT_EQ(ReadFile(mnt + "/hello.txt"), ReadFile(tmp_ / "src/hello.txt"));
    std::vector<pid_t> daemons = DaemonPids(mnt);
    ASSERT_EQ(daemons.size(), 1u);
    CommandResult u = RunCmd({"fusermount3", "-u", mnt});
    ASSERT_EQ(u.exit_code, 0) << u.err;
    Forget(mnt);
    ASSERT_TRUE(WaitGone(daemons[0])) << "daemon " << daemons[0];
    ASSERT_FALSE(IsMounted(mnt));
  }
  EXPECT_TRUE(DaemonPids(mnt).empty());
  EXPECT_EQ(OpenFdCount(), fds_before);
}

}  // namespace
}  // namespace sealfs::testing
