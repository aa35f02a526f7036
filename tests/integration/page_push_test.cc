// SPDX-License-Identifier: Apache-2.0
// Small files of a listed directory pushed into the kernel's page cache
// (fs/fuse/page_pusher.h): their reads never reach the daemon and return
// the right bytes; a corrupt object is never pushed, so its read still
// fails with EIO; the pushing thread holds only the store and the FUSE
// device; and a daemon killed in the middle of a walk still leaves no
// mount and no process behind, also when it is killed while a push waits
// for a page whose READ it will never answer.
#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/mount_fixture.h"
#include "tests/integration/store_files.h"

namespace sealfs::testing {
namespace {

constexpr size_t kBlock = kTestBlock;
constexpr size_t kMaxPushed = 256 * 1024;

class PagePushTest : public MountTest {
 protected:
  void SetUp() override {
    MountTest::SetUp();
    if (IsSkipped()) return;
    src_ = tmp_ / "src";
    // Sizes across the limits: one block, a partial last block, one tree
    // block's worth of data exactly, and one byte more (read the usual way).
    const std::vector<size_t> sizes = {100,        kBlock,     kBlock + 1,
                                       3 * kBlock, 40000,      kMaxPushed - 1,
                                       kMaxPushed, kMaxPushed + 1};
    for (size_t i = 0; i < sizes.size(); ++i) {
      files_.push_back("dir/f" + std::to_string(i));
      WriteFile(src_ + "/" + files_.back(),
                RandomBytes(sizes[i], 500 + static_cast<uint32_t>(i)));
    }
    // Read first, to show the daemon a walk that reads small files.
    WriteFile(src_ + "/first", RandomBytes(5000, 499));
    MakeKey(tmp_ / "key");
    image_ = tmp_ / "image";
    Mkfs(src_, image_, tmp_ / "key");
    opts_ = "store=" + store_ + ",pubkey=" + (tmp_ / "key.pub");
    mnt_ = tmp_ / "mnt";
  }

  // The value of "name":N in `sealfs stats` of the mount.
  long long Stat(const std::string& name) { return StatsCounter(mnt_, name); }

  // Reads a small file, then lists dir/ (pushes follow only listings
  // within a second of a small file's read).
  void ReadThenList() {
    ASSERT_EQ(ReadFile(mnt_ + "/first"), ReadFile(src_ + "/first"));
    ASSERT_EQ(RunCmd({"ls", "-l", mnt_ + "/dir"}).exit_code, 0);
  }

  // Polls until `pushed_objects` reaches `want` (~10 s at most).
  long long WaitPushed(long long want) {
    long long got = Stat("pushed_objects");
    for (int i = 0; i < 200 && got < want; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      got = Stat("pushed_objects");
    }
    return got;
  }

  std::string src_, image_, opts_, mnt_;
  std::vector<std::string> files_;  // f0..f6 pushed, f7 too large
};

TEST_F(PagePushTest, ListedSmallFilesAreReadWithoutARoundTrip) {
  MountOk(image_, mnt_, opts_);
  ASSERT_NO_FATAL_FAILURE(ReadThenList());
  ASSERT_EQ(WaitPushed(7), 7);
  const long long reads = Stat("reads");
  for (size_t i = 0; i + 1 < files_.size(); ++i) {
    EXPECT_EQ(ReadFile(mnt_ + "/" + files_[i]), ReadFile(src_ + "/" + files_[i]))
        << files_[i];
  }
  EXPECT_EQ(Stat("reads"), reads);
  // The one over the limit is read from the daemon, verified per block.
  EXPECT_EQ(ReadFile(mnt_ + "/" + files_.back()),
            ReadFile(src_ + "/" + files_.back()));
  EXPECT_GT(Stat("reads"), reads);
  EXPECT_EQ(Stat("pushed_objects"), 7);
  EXPECT_EQ(Stat("verify_failures"), 0);
}

TEST_F(PagePushTest, CorruptObjectIsNeverPushedAndItsReadFails) {
  // A one-block object (its digest is the block's hash) and a larger one.
  FlipByte(ObjectPathFor(store_, src_ + "/dir/f0"), 7);
  FlipByte(ObjectPathFor(store_, src_ + "/dir/f4"), kBlock + 3);
  MountOk(image_, mnt_, opts_);
  ASSERT_NO_FATAL_FAILURE(ReadThenList());
  ASSERT_EQ(WaitPushed(5), 5);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(Stat("pushed_objects"), 5);
  std::vector<uint8_t> got;
  EXPECT_EQ(ReadBlock(mnt_ + "/dir/f0", 0, &got), EIO);
  EXPECT_EQ(ReadBlock(mnt_ + "/dir/f4", 1, &got), EIO);
  // The good block of the larger one still reads.
  const std::vector<uint8_t> f4 = ReadFile(src_ + "/dir/f4");
  ASSERT_EQ(ReadBlock(mnt_ + "/dir/f4", 0, &got), 0);
  EXPECT_EQ(got, std::vector<uint8_t>(f4.begin(), f4.begin() + kBlock));
  EXPECT_GE(Stat("verify_failures"), 2);
  EXPECT_EQ(ReadFile(mnt_ + "/dir/f1"), ReadFile(src_ + "/dir/f1"));
}

// The links in /proc/PID/task/TID/fd of each thread of `pid`.
std::vector<std::vector<std::string>> ThreadTables(pid_t pid) {
  namespace fs = std::filesystem;
  std::vector<std::vector<std::string>> tables;
  std::error_code ec;
  const fs::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const fs::directory_entry& task : fs::directory_iterator(tasks, ec)) {
    std::vector<std::string> links;
    for (const fs::directory_entry& fd :
         fs::directory_iterator(task.path() / "fd", ec)) {
      links.push_back(fs::read_symlink(fd.path(), ec).string());
    }
    tables.push_back(links);
  }
  return tables;
}

TEST_F(PagePushTest, PushingThreadHoldsOnlyTheStoreAndTheDevice) {
  MountOk(image_, mnt_, opts_);
  ASSERT_NO_FATAL_FAILURE(ReadThenList());
  ASSERT_EQ(WaitPushed(7), 7);
  std::vector<pid_t> daemons = DaemonPids(mnt_);
  ASSERT_EQ(daemons.size(), 1u);
  int own_tables = 0;
  for (std::vector<std::string>& links : ThreadTables(daemons[0])) {
    if (links.size() != 2) continue;
    ++own_tables;
    std::sort(links.begin(), links.end());
    EXPECT_EQ(links[0], "/dev/fuse");
    EXPECT_EQ(links[1], std::filesystem::canonical(store_).string());
  }
  EXPECT_EQ(own_tables, 1);
}

TEST_F(PagePushTest, DaemonKilledDuringAWalkLeavesNothingBehind) {
  // Many small files, so that the walk's reads race the pushes: a push
  // waits for a page whose READ is in flight. Killed then, the daemon must
  // still let its watchdog see it gone and unmount.
  const std::string many = tmp_ / "many";
  for (int d = 0; d < 8; ++d) {
    for (int i = 0; i < 120; ++i) {
      WriteFile(many + "/d" + std::to_string(d) + "/f" + std::to_string(i),
                RandomBytes(200 + static_cast<size_t>(i) * 311,
                            static_cast<uint32_t>(d * 1000 + i)));
    }
  }
  Mkfs(many, tmp_ / "many.img", tmp_ / "key");
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    MountOk(tmp_ / "many.img", mnt_, opts_);
    std::vector<pid_t> daemons = DaemonPids(mnt_);
    ASSERT_EQ(daemons.size(), 1u);
    pid_t walker = fork();
    ASSERT_GE(walker, 0);
    if (walker == 0) {
      const std::string walk =
          "tar cf - -C '" + mnt_ + "' . 2>/dev/null | cat >/dev/null";
      execl("/bin/sh", "sh", "-c", walk.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + 30 * round));
    ASSERT_EQ(kill(daemons[0], SIGKILL), 0);
    EXPECT_FALSE(WaitMounted(mnt_, false));
    // Every thread gone, not only the first (WaitGone takes a zombie
    // leader for gone).
    bool threads_gone = false;
    for (int i = 0; i < 200 && !threads_gone; ++i) {
      threads_gone = ThreadTables(daemons[0]).empty();
      if (!threads_gone) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    EXPECT_TRUE(threads_gone);
    int status = 0;
    EXPECT_EQ(waitpid(walker, &status, 0), walker);
    Forget(mnt_);
  }
}

// Stops thread `tid` of another process (ptrace; it stays stopped until
// detached or killed).
bool StopThread(pid_t tid) {
  int status = 0;
  return ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) == 0 &&
         ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) == 0 &&
         waitpid(tid, &status, __WALL) == tid;
}

// The kernel stack of thread `tid` of `pid` (root only).
std::string KernelStack(pid_t pid, const std::string& tid) {
  return ReadProcFile("/proc/" + std::to_string(pid) + "/task/" + tid +
                      "/stack");
}

TEST_F(PagePushTest, DaemonKilledWhileAPushWaitsForAnUnansweredReadGoesAway) {
  // The worst case, made to happen: the pushing thread waits in the kernel
  // for a page locked by a READ no thread will answer, and the daemon is
  // killed. Its watchdog must still see it gone, unmount, and end the
  // connection, so that the reader gets an error and every thread exits.
  if (geteuid() != 0) GTEST_SKIP() << "needs root (ptrace, kernel stacks)";
  WriteFile(src_ + "/later/x", RandomBytes(3 * kBlock, 77));
  WriteFile(src_ + "/second", RandomBytes(5000, 78));
  const std::string image = tmp_ / "with-later";
  Mkfs(src_, image, tmp_ / "key");
  MountOk(image, mnt_, opts_);
  // Start the pushing thread, and answer the first open (ENOSYS: the
  // kernel opens by itself from then on, with no request to wait for).
  ASSERT_NO_FATAL_FAILURE(ReadThenList());
  ASSERT_EQ(WaitPushed(7), 7);
  ASSERT_EQ(ReadFile(mnt_ + "/dir/f7"), ReadFile(src_ + "/dir/f7"));
  std::vector<pid_t> daemons = DaemonPids(mnt_);
  ASSERT_EQ(daemons.size(), 1u);
  const pid_t daemon = daemons[0];
  std::string pusher;
  std::vector<pid_t> others;
  namespace fs = std::filesystem;
  for (const fs::directory_entry& task :
       fs::directory_iterator("/proc/" + std::to_string(daemon) + "/task")) {
    const std::string tid = task.path().filename();
    if (std::distance(fs::directory_iterator(task.path() / "fd"),
                      fs::directory_iterator{}) == 2) {
      pusher = tid;
    } else {
      others.push_back(static_cast<pid_t>(std::stol(tid)));
    }
  }
  ASSERT_FALSE(pusher.empty());
  const pid_t pusher_tid = static_cast<pid_t>(std::stol(pusher));
  // Listed while the pusher is stopped, so its push waits in the queue.
  ASSERT_TRUE(StopThread(pusher_tid)) << strerror(errno);
  // A small file read just now: listings are being walked.
  ASSERT_EQ(ReadFile(mnt_ + "/second"), ReadFile(src_ + "/second"));
  ASSERT_EQ(RunCmd({"ls", "-l", mnt_ + "/later"}).exit_code, 0);
  // Nobody answers requests now; a reader's READ of x stays in flight with
  // x's page locked.
  for (pid_t tid : others) ASSERT_TRUE(StopThread(tid)) << tid;
  const std::vector<uint8_t> x = ReadFile(src_ + "/later/x");
  pid_t reader = fork();
  ASSERT_GE(reader, 0);
  if (reader == 0) {  // 0: x's bytes, 1: an error, 2: other bytes
    std::vector<uint8_t> got;
    if (ReadAll(mnt_ + "/later/x", &got) != 0) _exit(1);
    _exit(got == x ? 0 : 2);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(ptrace(PTRACE_DETACH, pusher_tid, nullptr, nullptr), 0);
  bool waits = false;
  for (int i = 0; i < 100 && !waits; ++i) {
    // fuse_notify_store, inlined into fuse_dev_do_write, taking the page.
    const std::string stack = KernelStack(daemon, pusher);
    waits = stack.find("fuse_dev_do_write") != std::string::npos &&
            stack.find("filemap_get_folio") != std::string::npos;
    if (!waits) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(waits) << KernelStack(daemon, pusher);
  ASSERT_EQ(kill(daemon, SIGKILL), 0);
  EXPECT_FALSE(WaitMounted(mnt_, false));
  // Stopped by us, its threads wait for us to reap them; the leader is
  // reported only once every other thread, the pushing one too, is gone.
  std::vector<pid_t> unreaped = others;
  for (int i = 0; i < 200 && !unreaped.empty(); ++i) {
    std::erase_if(unreaped, [](pid_t tid) {
      int status = 0;
      return waitpid(tid, &status, __WALL | WNOHANG) == tid;
    });
    if (!unreaped.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  EXPECT_TRUE(unreaped.empty()) << KernelStack(daemon, pusher);
  // The reader got an error (or x's verified bytes, pushed once the abort
  // let go of the page) instead of waiting for ever.
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 200 && (done = waitpid(reader, &status, WNOHANG)) == 0;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (done != reader) {
    kill(reader, SIGKILL);
    waitpid(reader, &status, 0);
    ADD_FAILURE() << "the reader still waited after the daemon was killed";
  } else {
    ASSERT_TRUE(WIFEXITED(status)) << status;
    EXPECT_NE(WEXITSTATUS(status), 2);
  }
  Forget(mnt_);
}

}  // namespace
}  // namespace sealfs::testing
