// SPDX-License-Identifier: Apache-2.0
// Host-wide state that rootless tests change and must give back: a real
// unprivileged user, /dev/fuse's mode, /etc/fuse.conf. Every change is made
// under one lock file (so parallel ctest runs and other checkouts take
// turns), recorded under /run/sealfs-tests before it is made, and undone by
// the destructor, or, if the process died first, by the next test to take
// the lock.
#ifndef SEALFS_TESTS_INTEGRATION_HOST_STATE_H_
#define SEALFS_TESTS_INTEGRATION_HOST_STATE_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/integration/mount_fixture.h"

namespace sealfs::testing {

// Holds flock(LOCK_EX) on /run/lock/sealfs-tests-host.lock; on taking it,
// restores what a holder that died left changed (RecoverHostState()).
class HostLock {
 public:
  HostLock();
  ~HostLock();
  HostLock(const HostLock&) = delete;
  HostLock& operator=(const HostLock&) = delete;
  const std::string& error() const { return error_; }  // empty: held

 private:
  int fd_ = -1;
  std::string error_;
};

// Sets /dev/fuse's mode while it lives. REQUIRES: a HostLock is held.
class DevFuseMode {
 public:
  explicit DevFuseMode(mode_t mode);
  ~DevFuseMode();
  DevFuseMode(const DevFuseMode&) = delete;
  DevFuseMode& operator=(const DevFuseMode&) = delete;
  const std::string& error() const { return error_; }

 private:
  bool changed_ = false;
  mode_t original_ = 0;
  std::string error_;
};

// Replaces /etc/fuse.conf's content while it lives. REQUIRES: a HostLock.
class FuseConf {
 public:
  explicit FuseConf(const std::string& content);
  ~FuseConf();
  FuseConf(const FuseConf&) = delete;
  FuseConf& operator=(const FuseConf&) = delete;
  const std::string& error() const { return error_; }

 private:
  bool changed_ = false;
  mode_t mode_ = 0644;  // the original file's
  std::string error_;
};

// A system user "sealfst-PID" with a group of its own, made with useradd
// and removed with userdel (its processes killed first, by pid).
// REQUIRES: a HostLock is held.
class TestUser {
 public:
  TestUser();
  ~TestUser();
  TestUser(const TestUser&) = delete;
  TestUser& operator=(const TestUser&) = delete;
  const std::string& error() const { return error_; }
  const std::string& name() const { return name_; }
  uid_t uid() const { return uid_; }
  gid_t gid() const { return gid_; }

 private:
  std::string name_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  bool created_ = false;
  std::string error_;
};

// A MountTest with an unprivileged user of its own and /dev/fuse open to
// it; `home_` is a directory below the TempDir that the user owns. The
// TempDir is made traversable (0755) for the user.
class UserMountTest : public MountTest {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Runs `argv` as the user, with stdin from /dev/null.
  CommandResult AsUser(const std::vector<std::string>& argv);

  std::unique_ptr<HostLock> lock_;
  std::unique_ptr<DevFuseMode> dev_fuse_;
  std::unique_ptr<FuseConf> fuse_conf_;  // set by tests that need one
  std::unique_ptr<TestUser> user_;
  std::string home_;
  // A copy of the sealfs binary that the user can run (in tmp_/bin): the build tree may
  // lie in a directory only root may enter (a clone under /root or in a
  // mktemp -d directory, mode 0700).
  std::string user_sealfs_;
};

}  // namespace sealfs::testing

#endif  // SEALFS_TESTS_INTEGRATION_HOST_STATE_H_
