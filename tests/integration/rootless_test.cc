// SPDX-License-Identifier: Apache-2.0
// `sealfs mount` as an unprivileged user, through fusermount3, with a store
// the user built and owns; and the one-line refusals when the host does not
// let such a user mount.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "tests/integration/host_state.h"

namespace sealfs::testing {
namespace {

class RootlessTest : public UserMountTest {
 protected:
  // A signed image of a small tree, which the user keys, builds and stores
  // under home_.
  void BuildAsUser() {
    src_ = home_ + "/src";
    ustore_ = home_ + "/store";
    image_ = home_ + "/app.sealfs";
    key_ = home_ + "/key";
    mnt_ = home_ + "/mnt";
    CommandResult r =
        Shell("set -e; mkdir -p '" + src_ + "/etc' '" + src_ +
              "/bin'; echo rootless > '" + src_ +
              "/etc/hostname'; head -c 300000 /dev/urandom > '" + src_ +
              "/bin/data'; chown -R " + std::to_string(user_->uid()) + ":" +
              std::to_string(user_->gid()) + " '" + src_ + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    CommandResult k = AsUser({user_sealfs_, "keygen", key_});
    ASSERT_EQ(k.exit_code, 0) << k.err;
    CommandResult m = AsUser(
        {user_sealfs_, "mkfs", "--store", ustore_, "--key", key_, src_, image_});
    ASSERT_EQ(m.exit_code, 0) << m.err;
    CommandResult d = AsUser({"mkdir", mnt_});
    ASSERT_EQ(d.exit_code, 0) << d.err;
  }
  CommandResult MountAsUser(const std::string& extra) {
    Track(mnt_);
    return AsUser({user_sealfs_, "mount", "-o",
                   "store=" + ustore_ + ",pubkey=" + key_ + ".pub" + extra,
                   image_, mnt_});
  }
  std::string src_, ustore_, image_, key_, mnt_;
};

TEST_F(RootlessTest, UserMountsThroughFusermount3) {
  ASSERT_NO_FATAL_FAILURE(BuildAsUser());
  struct stat st {};
  ASSERT_EQ(stat((ustore_ + "/objects").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, user_->uid());  // the user's own store

  CommandResult m = MountAsUser("");
  ASSERT_EQ(m.exit_code, 0) << m.err;
  ASSERT_TRUE(IsMounted(mnt_));
  std::string info = ReadProcFile("/proc/self/mountinfo");
  EXPECT_NE(info.find(mnt_ + " ro,"), std::string::npos) << info;
  EXPECT_NE(info.find("fuse.sealfs sealfs ro,user_id=" +
                      std::to_string(user_->uid())),
            std::string::npos)
      << info;

  CommandResult cat = AsUser({"cat", mnt_ + "/etc/hostname"});
  EXPECT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_EQ(cat.out, "rootless\n");
  CommandResult cmp = AsUser({"cmp", src_ + "/bin/data", mnt_ + "/bin/data"});
  EXPECT_EQ(cmp.exit_code, 0) << cmp.out << cmp.err;
  CommandResult stats = AsUser({user_sealfs_, "stats", mnt_});
  EXPECT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_NE(stats.out.find("\"blocks_verified\""), std::string::npos)
      << stats.out;

  // The daemon runs as the user and holds no capability.
  std::vector<pid_t> daemons = DaemonPids(mnt_);
  ASSERT_EQ(daemons.size(), 1u);
  std::string status =
      ReadProcFile("/proc/" + std::to_string(daemons[0]) + "/status");
  std::string uid = std::to_string(user_->uid());
  EXPECT_NE(status.find("\nUid:\t" + uid + "\t" + uid + "\t" + uid),
            std::string::npos)
      << status;
  EXPECT_NE(status.find("CapEff:\t0000000000000000"), std::string::npos);

  // Without allow_other, nobody else gets in, root included.
  errno = 0;
  EXPECT_NE(stat((mnt_ + "/etc/hostname").c_str(), &st), 0);
  EXPECT_EQ(errno, EACCES);

  // The user unmounts; the daemon exits.
  CommandResult u = AsUser({"fusermount3", "-u", mnt_});
  EXPECT_EQ(u.exit_code, 0) << u.err;
  EXPECT_FALSE(WaitMounted(mnt_, false));
  EXPECT_TRUE(WaitGone(daemons[0]));
}

TEST_F(RootlessTest, ClosedDevFuseIsOneClearLine) {
  ASSERT_NO_FATAL_FAILURE(BuildAsUser());
  dev_fuse_.reset();
  dev_fuse_ = std::make_unique<DevFuseMode>(0600);  // as this host ships it
  ASSERT_EQ(dev_fuse_->error(), "");
  CommandResult m = MountAsUser("");
  EXPECT_EQ(m.exit_code, 1);
  EXPECT_EQ(m.err,
            "sealfs mount: cannot open /dev/fuse for an unprivileged mount "
            "(mode 0600, owner uid 0; it needs read-write access for this "
            "user, Debian's default is 0666): Permission denied\n");
  EXPECT_FALSE(IsMounted(mnt_));
}

TEST_F(RootlessTest, AllowOtherOnlyWhereFuseConfPermitsIt) {
  ASSERT_NO_FATAL_FAILURE(BuildAsUser());
  fuse_conf_ = std::make_unique<FuseConf>("#user_allow_other\n");
  ASSERT_EQ(fuse_conf_->error(), "");
  CommandResult refused = MountAsUser(",allow_other");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(refused.err,
            "sealfs mount: allow_other for an unprivileged user needs a line "
            "'user_allow_other' in /etc/fuse.conf: Operation not permitted\n");
  EXPECT_FALSE(IsMounted(mnt_));

  fuse_conf_.reset();
  fuse_conf_ = std::make_unique<FuseConf>("user_allow_other\n");
  ASSERT_EQ(fuse_conf_->error(), "");
  CommandResult m = MountAsUser(",allow_other");
  ASSERT_EQ(m.exit_code, 0) << m.err;
  // Another user, and root, get in now.
  CommandResult other = RunAs(4242, 4242, {"cat", mnt_ + "/etc/hostname"});
  EXPECT_EQ(other.exit_code, 0) << other.err;
  EXPECT_EQ(other.out, "rootless\n");
  struct stat st {};
  EXPECT_EQ(stat((mnt_ + "/etc/hostname").c_str(), &st), 0);
}

}  // namespace
}  // namespace sealfs::testing
