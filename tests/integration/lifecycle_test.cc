// SPDX-License-Identifier: Apache-2.0
// The life of a mount: readiness, signals, unmount, concurrent mounts, the
// mount(8) helper, stats, and the daemon's privileges.
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/host_state.h"
#include "tests/integration/mount_fixture.h"

namespace sealfs::testing {
namespace {

class LifecycleTest : public MountTest {
 protected:
  void SetUp() override {
    MountTest::SetUp();
    if (IsSkipped()) return;
    src_ = tmp_ / "src";
    WriteFile(src_ + "/hello.txt", "hello\n");
    WriteFile(src_ + "/data.bin", RandomBytes(100000, 9));
    MakeKey(tmp_ / "key");
    image_ = tmp_ / "image";
    Mkfs(src_, image_, tmp_ / "key");
    opts_ = "store=" + store_ + ",pubkey=" + (tmp_ / "key.pub");
  }

  // Starts `sealfs mount -f` at `mnt` as a child, under the command
  // `wrapper` (e.g. strace) if given, with stdio at /dev/null; its pid.
  pid_t SpawnForeground(const std::string& mnt,
                        std::vector<std::string> wrapper = {}) {
    mkdir(mnt.c_str(), 0755);
    Track(mnt);
    std::vector<std::string> argv = std::move(wrapper);
    for (const std::string& a :
         {SealfsBin(), std::string("mount"), std::string("-f"),
          std::string("-o"), opts_, image_, mnt}) {
      argv.push_back(a);
    }
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
      int null_fd = open("/dev/null", O_RDWR);
      dup2(null_fd, 0);
      dup2(null_fd, 1);
      dup2(null_fd, 2);
      execvp(args[0], args.data());
      _exit(127);
    }
    return pid;
  }

  // SpawnForeground; returns the pid once mounted.
  pid_t StartForeground(const std::string& mnt) {
    pid_t pid = SpawnForeground(mnt);
    EXPECT_TRUE(WaitMounted(mnt, true));
    // The mount shows before its INIT is answered; a stat needs the answer,
    // so a signal sent after this one lands in the serving loop.
    struct stat st {};
    EXPECT_EQ(stat(mnt.c_str(), &st), 0);
    return pid;
  }

  int WaitExit(pid_t pid) {
    int status = 0;
    for (int i = 0; i < 200; ++i) {
      if (waitpid(pid, &status, WNOHANG) == pid) {
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -2;
  }

  std::string src_, image_, opts_;
};

TEST_F(LifecycleTest, SigtermToDaemonRemovesMount) {
  std::string mnt = tmp_ / "mnt";
  MountOk(image_, mnt, opts_);
  std::vector<pid_t> pids = DaemonPids(mnt);
  ASSERT_EQ(pids.size(), 1u);
  ASSERT_EQ(kill(pids[0], SIGTERM), 0);
  EXPECT_TRUE(WaitGone(pids[0]));
  EXPECT_FALSE(WaitMounted(mnt, false));
}

TEST_F(LifecycleTest, UmountMakesDaemonExit) {
  std::string mnt = tmp_ / "mnt";
  MountOk(image_, mnt, opts_);
  std::vector<pid_t> pids = DaemonPids(mnt);
  ASSERT_EQ(pids.size(), 1u);
  CommandResult r = RunCmd({"umount", mnt});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(WaitGone(pids[0]));
  EXPECT_FALSE(IsMounted(mnt));
}

TEST_F(LifecycleTest, ForegroundExitsZeroOnFusermountUnmount) {
  std::string mnt = tmp_ / "mnt";
  pid_t pid = StartForeground(mnt);
  ASSERT_GT(pid, 0) << "fork failed";  // never kill(-1, ...)
  EXPECT_EQ(ReadFile(mnt + "/hello.txt"), ReadFile(src_ + "/hello.txt"));
  CommandResult r = RunCmd({"fusermount3", "-u", mnt});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(WaitExit(pid), 0);
  EXPECT_FALSE(WaitMounted(mnt, false));
}

TEST_F(LifecycleTest, ForegroundExitsZeroOnSigint) {
  std::string mnt = tmp_ / "mnt";
  pid_t pid = StartForeground(mnt);
  ASSERT_GT(pid, 0) << "fork failed";  // never kill(-1, ...)
  kill(pid, SIGINT);
  EXPECT_EQ(WaitExit(pid), 0);
  EXPECT_FALSE(WaitMounted(mnt, false));
}

// A SIGINT between the mount and the answer to the kernel's INIT is a
// stop like any other, not a refused INIT. strace holds the daemon at the
// return of mount(2), when the mount exists and its INIT is queued, so the
// signal lands there every time.
TEST_F(LifecycleTest, Issue20SigintBeforeInitIsAnsweredExitsZero) {
  if (RunCmd({"sh", "-c", "command -v strace"}).exit_code != 0) {
    GTEST_SKIP() << "strace is not installed";
  }
  std::string mnt = tmp_ / "mnt";
  pid_t tracer = SpawnForeground(
      mnt, {"strace", "-qq", "-o", "/dev/null", "-e", "trace=mount", "-e",
            "inject=mount:delay_exit=3000000"});
  ASSERT_GT(tracer, 0) << "fork failed";  // never kill(-1, ...)
  ASSERT_TRUE(WaitMounted(mnt, true));
  // The daemon is strace's child; mount(2) has not returned in it yet.
  std::ifstream children("/proc/" + std::to_string(tracer) + "/task/" +
                         std::to_string(tracer) + "/children");
  pid_t daemon = 0;
  ASSERT_TRUE(children >> daemon);
  ASSERT_GT(daemon, 0);
  ASSERT_EQ(kill(daemon, SIGINT), 0);
  // strace exits with the daemon's status.
  EXPECT_EQ(WaitExit(tracer), 0);
  EXPECT_FALSE(WaitMounted(mnt, false));
}

TEST_F(LifecycleTest, SameImageMountedTwiceAtOnce) {
  MountOk(image_, tmp_ / "a", opts_);
  MountOk(image_, tmp_ / "b", opts_);
  EXPECT_EQ(ReadFile(tmp_ / "a/data.bin"), ReadFile(src_ + "/data.bin"));
  EXPECT_EQ(ReadFile(tmp_ / "b/data.bin"), ReadFile(src_ + "/data.bin"));
}

TEST_F(LifecycleTest, StatsPrintsCountersAsJson) {
  std::string mnt = tmp_ / "mnt";
  MountOk(image_, mnt, opts_);
  EXPECT_EQ(ReadFile(mnt + "/data.bin"), ReadFile(src_ + "/data.bin"));
  CommandResult r = RunCmd({SealfsBin(), "stats", mnt});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.front(), '{');
  for (const char* key :
       {"\"identity\":\"sha256:", "\"lookups\":", "\"opens\":", "\"reads\":",
        "\"bytes_read\":", "\"blocks_verified\":", "\"verify_failures\":0",
        "\"missing_objects\":0", "\"open_objects\":"}) {
    EXPECT_NE(r.out.find(key), std::string::npos) << key << " in " << r.out;
  }
  EXPECT_EQ(r.out.find("\"bytes_read\":0,"), std::string::npos) << r.out;
  CommandResult bad = RunCmd({SealfsBin(), "stats", tmp_.path()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("sealfs stats: "), std::string::npos);
}

TEST_F(LifecycleTest, DaemonHoldsNoCapabilities) {
  std::string mnt = tmp_ / "mnt";
  MountOk(image_, mnt, opts_);
  std::vector<pid_t> pids = DaemonPids(mnt);
  ASSERT_EQ(pids.size(), 1u);
  std::ifstream status("/proc/" + std::to_string(pids[0]) + "/status");
  std::string text((std::istreambuf_iterator<char>(status)), {});
  for (const char* line :
       {"CapInh:\t0000000000000000", "CapPrm:\t0000000000000000",
        "CapEff:\t0000000000000000", "CapBnd:\t0000000000000000",
        "CapAmb:\t0000000000000000", "NoNewPrivs:\t1"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

TEST_F(LifecycleTest, UserOptionRunsDaemonAsThatUser) {
  struct passwd* pw = getpwnam("nobody");
  if (pw == nullptr) GTEST_SKIP() << "no user 'nobody'";
  std::string mnt = tmp_ / "mnt";
  MountOk(image_, mnt, opts_ + ",user=nobody");
  std::vector<pid_t> pids = DaemonPids(mnt);
  ASSERT_EQ(pids.size(), 1u);
  std::ifstream status("/proc/" + std::to_string(pids[0]) + "/status");
  std::string text((std::istreambuf_iterator<char>(status)), {});
  std::string uid = std::to_string(pw->pw_uid);
  EXPECT_NE(text.find("Uid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("CapEff:\t0000000000000000"), std::string::npos);
  // The store stays readable through the directory opened before the switch.
  EXPECT_EQ(ReadFile(mnt + "/data.bin"), ReadFile(src_ + "/data.bin"));
  CommandResult bad =
      Mount(image_, tmp_ / "mnt2", opts_ + ",user=no-such-user-x");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_FALSE(IsMounted(tmp_ / "mnt2"));
}

TEST_F(LifecycleTest, MountHelperWorksThroughMount8) {
  // Tests that install the helper take turns (containers_doc_test.cc too).
  HostLock lock;
  ASSERT_EQ(lock.error(), "");
  const std::string helper = "/sbin/mount.fuse.sealfs";
  bool installed = false;
  struct stat st {};
  if (lstat(helper.c_str(), &st) != 0) {
    ASSERT_EQ(symlink(SealfsBin().c_str(), helper.c_str()), 0);
    installed = true;
  }
  std::string mnt = tmp_ / "mnt";
  mkdir(mnt.c_str(), 0755);
  Track(mnt);
  CommandResult r =
      RunCmd({"mount", "-t", "fuse.sealfs", image_, mnt, "-o", opts_});
  if (installed) unlink(helper.c_str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(IsMounted(mnt));
  EXPECT_EQ(ReadFile(mnt + "/hello.txt"), ReadFile(src_ + "/hello.txt"));
}

// What TearDown relies on: a mount the fixture never tracked, a daemon
// whose mount was already detached (so mountinfo no longer lists it), and
// two mounts stacked on one directory are all removed, with their daemons
// and fusermount3 watchdogs.
TEST_F(LifecycleTest, CleanUpRemovesStrayDetachedAndStackedMounts) {
  std::string stray = tmp_ / "stray";
  ASSERT_EQ(mkdir(stray.c_str(), 0755), 0);
  CommandResult r = RunCmd({SealfsBin(), "mount", "-o", opts_, image_, stray});
  ASSERT_EQ(r.exit_code, 0) << r.err;  // not tracked: only the sweep sees it
  ASSERT_TRUE(IsMounted(stray));

  std::string held = tmp_ / "held";
  MountOk(image_, held, opts_);
  int fd = open((held + "/hello.txt").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(RunCmd({"umount", "-l", held}).exit_code, 0);
  EXPECT_FALSE(IsMounted(held));
  ASSERT_EQ(DaemonPids(held).size(), 1u);  // kept alive by the open file

  std::string twice = tmp_ / "twice";
  MountOk(image_, twice, opts_);
  MountOk(image_, twice, opts_);
  ASSERT_EQ(DaemonPids(twice).size(), 2u);

  CleanUpMount(held);
  CleanUpMount(twice);
  CleanUpUnder(tmp_.path());
  close(fd);
  for (const std::string& mnt : {stray, held, twice}) {
    EXPECT_FALSE(IsMounted(mnt)) << mnt;
    EXPECT_TRUE(DaemonPids(mnt).empty()) << mnt;
    CommandResult left = RunCmd({"pgrep", "-a", "-f", "--", mnt});
    EXPECT_EQ(left.exit_code, 1) << left.out;  // 1: no process names it
  }
}

// TearDown's /proc scans must not throw when a process exits between
// opening and reading its /proc files (read fails with ESRCH): an
// exception from the first scan once skipped a whole TearDown, leaving the
// mount and its daemon behind. Processes are made to exit all the time here.
TEST(MountFixtureTest, ProcScansSurviveExitingProcesses) {
  std::atomic<bool> stop{false};
  auto churn = [&] {
    while (!stop) {
      pid_t pid = fork();
      if (pid == 0) _exit(0);
      if (pid > 0) waitpid(pid, nullptr, 0);
    }
  };
  std::thread churn1(churn), churn2(churn);
  const std::string nowhere = "/nonexistent/sealfs-mnt";
  size_t found = 0;
  for (int i = 0; i < 2500; ++i) {
    EXPECT_NO_THROW(found += DaemonPids(nowhere).size());
    EXPECT_NO_THROW(found += IsMounted(nowhere) ? 1 : 0);
  }
  EXPECT_NO_THROW(CleanUpMount(nowhere));
  stop = true;
  churn1.join();
  churn2.join();
  EXPECT_EQ(found, 0u);
}

TEST_F(LifecycleTest, UsageErrorsExitTwo) {
  EXPECT_EQ(RunCmd({SealfsBin(), "mount", image_}).exit_code, 2);
  EXPECT_EQ(RunCmd({SealfsBin(), "mount", "-o", "bogus", image_, tmp_.path()})
                .exit_code,
            2);
  EXPECT_EQ(
      RunCmd({SealfsBin(), "mount", "-o", "pubkey=x", image_, tmp_.path()})
          .exit_code,
      2);  // no store=
  CommandResult help = RunCmd({SealfsBin(), "mount", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Usage: sealfs mount"), std::string::npos);
}

// Standard FUSE options reach the kernel. max_read= must also be repeated
// in the answer to the kernel's INIT, or libfuse refuses the INIT: that
// once left `sealfs mount` exiting 0 with nothing mounted.
TEST_F(LifecycleTest, StandardOptionsReachTheKernel) {
  const std::string mnt = tmp_ / "mnt";
  MountOk(image_, mnt, opts_ + ",max_read=8192,noexec,noatime");
  std::ifstream mounts("/proc/self/mounts");
  std::string line, options;
  while (std::getline(mounts, line)) {
    if (line.find(" " + mnt + " fuse.sealfs ") != std::string::npos) {
      options = line;
    }
  }
  EXPECT_NE(options.find("max_read=8192"), std::string::npos) << options;
  EXPECT_NE(options.find("noexec"), std::string::npos) << options;
  EXPECT_NE(options.find("noatime"), std::string::npos) << options;
  EXPECT_EQ(ReadFile(mnt + "/data.bin"), ReadFile(src_ + "/data.bin"));

  for (const char* bad : {"max_read=4095", "max_read=2097152", "max_read=x"}) {
    CommandResult r = Mount(image_, tmp_ / "mnt2", opts_ + "," + bad);
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.err.find("max_read must be 4096..1048576"), std::string::npos)
        << r.err;
  }
}

TEST_F(LifecycleTest, MissingStoreRefusesMount) {
  CommandResult r =
      Mount(image_, tmp_ / "mnt",
            "store=" + (tmp_ / "nostore") + ",pubkey=" + (tmp_ / "key.pub"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_FALSE(IsMounted(tmp_ / "mnt"));
}

}  // namespace
}  // namespace sealfs::testing
