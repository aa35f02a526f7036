// SPDX-License-Identifier: Apache-2.0
// The unmount watchdog of a root mount: the mount goes away however the
// daemon ends, and the watchdog goes with it.
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/mount_fixture.h"

namespace sealfs::testing {
namespace {

// Pids whose command line reads "sealfs-watchdog MOUNTPOINT".
std::vector<pid_t> WatchdogPids(const std::string& mountpoint) {
  std::vector<pid_t> pids;
  char* real = realpath(mountpoint.c_str(), nullptr);
  if (real == nullptr) return pids;
  std::string want = std::string("sealfs-watchdog ") + real;
  free(real);
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* d = readdir(proc)) {
    pid_t pid = static_cast<pid_t>(std::atoi(d->d_name));
    if (pid <= 0) continue;
    std::string all =
        ReadProcFile(std::string("/proc/") + d->d_name + "/cmdline");
    if (all.substr(0, all.find('\0')) == want) pids.push_back(pid);
  }
  closedir(proc);
  return pids;
}

class WatchdogTest : public MountTest {
 protected:
  void SetUp() override {
    MountTest::SetUp();
    if (IsSkipped()) return;
    if (geteuid() != 0) GTEST_SKIP() << "the watchdog is for root mounts";
    WriteFile(tmp_ / "src/hello.txt", "hello\n");
    image_ = tmp_ / "image";
    Mkfs(tmp_ / "src", image_, "");
    opts_ = "store=" + store_ + ",insecure";
    mnt_ = tmp_ / "mnt";
  }

  // Mounts and returns the daemon's and the watchdog's pids.
  void MountWithWatchdog(pid_t* daemon, pid_t* watchdog) {
    MountOk(image_, mnt_, opts_);
    std::vector<pid_t> daemons = DaemonPids(mnt_);
    ASSERT_EQ(daemons.size(), 1u);
    std::vector<pid_t> watchdogs = WatchdogPids(mnt_);
    ASSERT_EQ(watchdogs.size(), 1u);
    *daemon = daemons[0];
    *watchdog = watchdogs[0];
  }

  // After the mount is gone, the mount point is the plain directory again:
  // stat answers (no ENOTCONN, no hang) on the parent's device.
  void ExpectPlainDirectory() {
    struct stat parent {}, dir {};
    ASSERT_EQ(stat(tmp_.path().c_str(), &parent), 0);
    ASSERT_EQ(stat(mnt_.c_str(), &dir), 0) << strerror(errno);
    EXPECT_EQ(dir.st_dev, parent.st_dev);
  }

  std::string image_, opts_, mnt_;
};

TEST_F(WatchdogTest, SigkillOfDaemonRemovesMount) {
  pid_t daemon = 0, watchdog = 0;
  ASSERT_NO_FATAL_FAILURE(MountWithWatchdog(&daemon, &watchdog));
  ASSERT_EQ(kill(daemon, SIGKILL), 0);
  EXPECT_TRUE(WaitGone(daemon));
  EXPECT_FALSE(WaitMounted(mnt_, false));
  EXPECT_TRUE(WaitGone(watchdog));
  ExpectPlainDirectory();
}

TEST_F(WatchdogTest, SigtermOfDaemonRemovesMountAndWatchdog) {
  pid_t daemon = 0, watchdog = 0;
  ASSERT_NO_FATAL_FAILURE(MountWithWatchdog(&daemon, &watchdog));
  ASSERT_EQ(kill(daemon, SIGTERM), 0);
  EXPECT_TRUE(WaitGone(daemon));
  EXPECT_FALSE(WaitMounted(mnt_, false));
  EXPECT_TRUE(WaitGone(watchdog));
  ExpectPlainDirectory();
}

TEST_F(WatchdogTest, UnmountLeavesNoWatchdog) {
  pid_t daemon = 0, watchdog = 0;
  ASSERT_NO_FATAL_FAILURE(MountWithWatchdog(&daemon, &watchdog));
  CommandResult r = RunCmd({"fusermount3", "-u", mnt_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(WaitGone(daemon));
  EXPECT_TRUE(WaitGone(watchdog));
  EXPECT_TRUE(WatchdogPids(mnt_).empty());
  ExpectPlainDirectory();
}

TEST_F(WatchdogTest, WatchdogIgnoresSigtermAndHoldsOnlySysAdmin) {
  pid_t daemon = 0, watchdog = 0;
  ASSERT_NO_FATAL_FAILURE(MountWithWatchdog(&daemon, &watchdog));
  std::string text =
      ReadProcFile("/proc/" + std::to_string(watchdog) + "/status");
  EXPECT_NE(text.find("CapEff:\t0000000000200000"), std::string::npos) << text;
  EXPECT_NE(text.find("CapPrm:\t0000000000200000"), std::string::npos) << text;
  ASSERT_EQ(kill(watchdog, SIGTERM), 0);
  usleep(100000);
  EXPECT_EQ(kill(watchdog, 0), 0);  // still there to unmount later
  ASSERT_EQ(kill(daemon, SIGTERM), 0);
  EXPECT_FALSE(WaitMounted(mnt_, false));
  EXPECT_TRUE(WaitGone(watchdog));
}

// Forked by the process the caller waits for, the watchdog must still leave
// the caller's session, so job control or a hangup there cannot stop it.
TEST_F(WatchdogTest, WatchdogHasASessionOfItsOwn) {
  pid_t daemon = 0, watchdog = 0;
  ASSERT_NO_FATAL_FAILURE(MountWithWatchdog(&daemon, &watchdog));
  std::string stat =
      ReadProcFile("/proc/" + std::to_string(watchdog) + "/stat");
  std::istringstream fields(stat.substr(stat.rfind(')') + 1));
  std::string state;
  pid_t ppid = 0, pgrp = 0, session = 0;
  fields >> state >> ppid >> pgrp >> session;
  EXPECT_EQ(session, watchdog) << stat;
  EXPECT_EQ(pgrp, watchdog) << stat;
  EXPECT_NE(session, getsid(0));
}

TEST_F(WatchdogTest, KillingDaemonAndWatchdogGivesAnErrorNotAHang) {
  pid_t daemon = 0, watchdog = 0;
  ASSERT_NO_FATAL_FAILURE(MountWithWatchdog(&daemon, &watchdog));
  // Nobody is left to unmount: the mount stays, and must fail fast.
  ASSERT_EQ(kill(watchdog, SIGKILL), 0);
  ASSERT_EQ(kill(daemon, SIGKILL), 0);
  EXPECT_TRUE(WaitGone(daemon));
  EXPECT_TRUE(WaitGone(watchdog));
  CommandResult r = RunCmd({"timeout", "10", "stat", mnt_ + "/hello.txt"});
  EXPECT_NE(r.exit_code, 124) << "stat hung on a dead mount";
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("Transport endpoint is not connected"),
            std::string::npos)
      << r.err;
  // The operator's remedy: unmount, then mount afresh.
  CommandResult u = RunCmd({"fusermount3", "-u", "-z", mnt_});
  EXPECT_EQ(u.exit_code, 0) << u.err;
  Forget(mnt_);
  MountOk(image_, mnt_, opts_);
  EXPECT_EQ(ReadFile(mnt_ + "/hello.txt"), ReadFile(tmp_ / "src/hello.txt"));
}

TEST_F(WatchdogTest, OldWatchdogLeavesANewMountAtTheSamePathAlone) {
  // Mount ids are reused at once: the next mount at the path may carry the
  // id the old watchdog recorded. It must still not be unmounted by it.
  for (int i = 0; i < 20; ++i) {
    SCOPED_TRACE(i);
    pid_t daemon = 0, watchdog = 0;
    ASSERT_NO_FATAL_FAILURE(MountWithWatchdog(&daemon, &watchdog));
    CommandResult u = RunCmd({"fusermount3", "-u", mnt_});
    ASSERT_EQ(u.exit_code, 0) << u.err;
    Forget(mnt_);
    MountOk(image_, mnt_, opts_);
    EXPECT_TRUE(WaitGone(watchdog));
    EXPECT_TRUE(IsMounted(mnt_));
    CommandResult again = RunCmd({"fusermount3", "-u", mnt_});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    Forget(mnt_);
    ASSERT_FALSE(WaitMounted(mnt_, false));
    for (pid_t left : WatchdogPids(mnt_)) EXPECT_TRUE(WaitGone(left));
  }
}

}  // namespace
}  // namespace sealfs::testing
