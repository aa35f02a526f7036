// SPDX-License-Identifier: Apache-2.0
#include "fs/fuse/unprivileged.h"

#include <sys/stat.h>

#include <string>

#include "gtest/gtest.h"

#include "tests/test_util.h"

namespace sealfs::fuse {
namespace {

using ::sealfs::testing::TempDir;
using ::sealfs::testing::WriteFile;

TEST(FuseConf, UserAllowOtherAsFusermount3ReadsIt) {
  EXPECT_TRUE(FuseConfAllowsOther("user_allow_other\n"));
  EXPECT_TRUE(FuseConfAllowsOther("# comment\n  user_allow_other \t\n"));
  EXPECT_TRUE(FuseConfAllowsOther("mount_max = 10\nuser_allow_other # yes\n"));
  EXPECT_FALSE(FuseConfAllowsOther(""));
  EXPECT_FALSE(FuseConfAllowsOther("#user_allow_other\n"));  // Debian's file
  EXPECT_FALSE(FuseConfAllowsOther("user_allow_other"));  // no newline: skipped
  EXPECT_FALSE(FuseConfAllowsOther("user_allow_others\n"));
  EXPECT_FALSE(FuseConfAllowsOther("user_allow_other=1\n"));
  EXPECT_FALSE(FuseConfAllowsOther("user allow_other\n"));
  // A line fgets cannot hold in 256 bytes is skipped whole.
  EXPECT_FALSE(
      FuseConfAllowsOther(std::string(250, ' ') + "user_allow_other\n"));
  EXPECT_TRUE(
      FuseConfAllowsOther(std::string(200, ' ') + "user_allow_other\n"));
}

class UnprivilegedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    paths_.fuse_device = tmp_ / "fuse";
    paths_.fuse_conf = tmp_ / "fuse.conf";
    paths_.fusermount_dir = tmp_ / "bin";
    paths_.path_env = tmp_ / "nothing-here";
    ASSERT_EQ(mkdir(paths_.fusermount_dir.c_str(), 0755), 0);
    WriteFile(paths_.fuse_device, "");
  }
  void Fusermount(mode_t mode) {
    std::string p = paths_.fusermount_dir + "/fusermount3";
    WriteFile(p, "#!/bin/sh\n");
    ASSERT_EQ(chmod(p.c_str(), mode), 0);
  }
  TempDir tmp_;
  HostPaths paths_;
  MountOptions options_;
};

TEST_F(UnprivilegedTest, MissingDeviceIsNamed) {
  paths_.fuse_device = tmp_ / "no-such-device";
  Status st = CheckUnprivilegedMount(options_, paths_);
  EXPECT_EQ(st.err(), ENOENT);
  EXPECT_EQ(st.context(), paths_.fuse_device +
                              " is missing (is the fuse module loaded? "
                              "modprobe fuse)");
}

TEST_F(UnprivilegedTest, MissingFusermountIsNamed) {
  Status st = CheckUnprivilegedMount(options_, paths_);
  EXPECT_EQ(st.err(), ENOENT);
  EXPECT_NE(st.context().find("fusermount3 not found"), std::string::npos)
      << st.context();
}

TEST_F(UnprivilegedTest, FusermountMustBeSetuidRoot) {
  Fusermount(0755);
  Status st = CheckUnprivilegedMount(options_, paths_);
  EXPECT_EQ(st.err(), EPERM);
  EXPECT_EQ(st.context(), paths_.fusermount_dir +
                              "/fusermount3 is not set-uid root, so it cannot "
                              "mount for an unprivileged user");
  Fusermount(04755);  // owned by root: these tests run as root
  EXPECT_TRUE(CheckUnprivilegedMount(options_, paths_).ok());
}

TEST_F(UnprivilegedTest, FusermountFoundInPath) {
  std::string other = tmp_ / "other";
  ASSERT_EQ(mkdir(other.c_str(), 0755), 0);
  WriteFile(other + "/fusermount3", "#!/bin/sh\n");
  ASSERT_EQ(chmod((other + "/fusermount3").c_str(), 04755), 0);
  paths_.path_env = "/nonexistent::" + other;
  EXPECT_EQ(FindFusermount(paths_), other + "/fusermount3");
  Fusermount(0755);  // the configured directory comes first
  EXPECT_EQ(FindFusermount(paths_), paths_.fusermount_dir + "/fusermount3");
}

}  // namespace
}  // namespace sealfs::fuse
