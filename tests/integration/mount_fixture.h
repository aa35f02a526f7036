// SPDX-License-Identifier: Apache-2.0
// MountTest: a fixture for tests that really mount. It builds images with the
// real `sealfs mkfs`, mounts them with `sealfs mount`, and in TearDown
// unmounts everything it mounted or that is mounted in its TempDir
// (fusermount3 -u -z) and kills any daemon still alive, also when the test
// failed.
#ifndef SEALFS_TESTS_INTEGRATION_MOUNT_FIXTURE_H_
#define SEALFS_TESTS_INTEGRATION_MOUNT_FIXTURE_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "tests/test_util.h"

namespace sealfs::testing {

// Run() under a name that gtest's Test::Run does not hide in fixtures.
inline CommandResult RunCmd(const std::vector<std::string>& argv) {
  return Run(argv);
}

// The contents of a /proc file (e.g. of a process that may be exiting),
// read with read(2); empty if it cannot be opened, cut short at a read
// error. Never throws.
std::string ReadProcFile(const std::string& path);

// Runs `argv` as uid:gid with no supplementary groups (setpriv), e.g. to
// check what another user may do on a mount.
CommandResult RunAs(uid_t uid, gid_t gid, const std::vector<std::string>& argv);

// Empty if this host can mount FUSE filesystems, else the reason it cannot.
std::string MountUnavailableReason();

// True if `path` is a mount point in /proc/self/mountinfo.
bool IsMounted(const std::string& path);
// Polls until IsMounted(path) == want or ~10 s pass; returns the final state.
bool WaitMounted(const std::string& path, bool want);
// Pids of processes whose argv contains "mount" or is mount.fuse.sealfs, and
// `mountpoint` as an argument: the daemon(s) serving it.
std::vector<pid_t> DaemonPids(const std::string& mountpoint);
// Polls until `pid` no longer exists or ~10 s pass; true if it is gone.
bool WaitGone(pid_t pid);
// The counter `key` in `sealfs stats MNT`'s JSON; -1 if absent or if the
// command fails.
long long StatsCounter(const std::string& mnt, const std::string& key);
// Unmounts `mnt` with fusermount3 -u -z whether or not it looks mounted
// (then umount2 while anything is still there), ends (SIGTERM, then
// SIGKILL) every process with `mnt` as an argument, found both before and
// after unmounting, and adds a test failure if a mount or process is left.
void CleanUpMount(const std::string& mnt);
// The same for every mount below `root` and every process with an argument
// naming `root` or a path below it.
void CleanUpUnder(const std::string& root);

class MountTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Creates an Ed25519 key pair with openssl: path and path + ".pub".
  void MakeKey(const std::string& path);
  // `sealfs mkfs --store STORE [--key KEY] SRC IMG`; fails the test if it
  // fails. Returns the identity printed.
  std::string Mkfs(const std::string& src, const std::string& image,
                   const std::string& key);
  // `sealfs mount -o OPTS IMAGE MNT` (MNT is created). The mount point is
  // remembered for TearDown.
  CommandResult Mount(const std::string& image, const std::string& mnt,
                      const std::string& opts);
  // Mounts and asserts success.
  void MountOk(const std::string& image, const std::string& mnt,
               const std::string& opts);
  void Forget(const std::string& mnt);  // unmounted by the test itself
  void Track(const std::string& mnt) { mounts_.push_back(mnt); }

  TempDir tmp_;
  std::string store_;  // tmp_/store

 private:
  std::vector<std::string> mounts_;
};

// Skips the current test (from a fixture's SetUp or a test body) when the
// host cannot mount.
#define SEALFS_SKIP_WITHOUT_FUSE()                                 \
  do {                                                             \
    std::string why = ::sealfs::testing::MountUnavailableReason(); \
    if (!why.empty()) GTEST_SKIP() << why;                         \
  } while (0)

}  // namespace sealfs::testing

#endif  // SEALFS_TESTS_INTEGRATION_MOUNT_FIXTURE_H_
