// SPDX-License-Identifier: Apache-2.0
// Owners shifted for user namespaces (uidmap=, gidmap=) and squashed
// (squash_to_uid=, squash_to_gid=): what stat reports, and what the kernel
// then lets each user do (default_permissions, POSIX ACLs).
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/integration/mount_fixture.h"

namespace sealfs::testing {
namespace {

class OwnerMapTest : public MountTest {
 protected:
  void SetUp() override {
    MountTest::SetUp();
    if (IsSkipped()) return;
    // Other users must reach the mount point below the TempDir.
    ASSERT_EQ(chmod(tmp_.path().c_str(), 0755), 0);
    src_ = tmp_ / "src";
    // Owners as an image of a container's root filesystem has them: root,
    // a user of the image (1000), and one no map below covers (70000).
    CommandResult r =
        Shell("set -e; mkdir -p '" + src_ + "/home/u'; cd '" + src_ + "'; " +
              "echo root-file > rootfile; chmod 0640 rootfile; " +
              "echo user-file > home/u/secret; chmod 0600 home/u/secret; " +
              "chmod 0700 home/u; chown -R 1000:1000 home/u; " +
              "echo far > far; chown 70000:70000 far; chmod 0600 far; " +
              // rw for the owner (root), r for user 1000 by ACL, nothing else.
              "echo acl-file > aclfile; chmod 0600 aclfile; " +
              "setfattr -n system.posix_acl_access -v "
              "0x0200000001000600ffffffff02000400e803000004000000ffffffff"
              "10000400ffffffff20000000ffffffff aclfile");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    image_ = tmp_ / "image";
    Mkfs(src_, image_, "");
    mnt_ = tmp_ / "mnt";
  }

  // "uid:gid" of `path` as the mount reports it.
  std::string Owner(const std::string& path) {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) return "stat failed";
    return std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
  }

  std::string src_, image_, mnt_;
};

TEST_F(OwnerMapTest, UidmapShiftsOwnersAndOverflowsTheRest) {
  MountOk(image_, mnt_,
          "store=" + store_ +
              ",insecure,uidmap=0:100000:65536,gidmap=0:200000:65536");
  EXPECT_EQ(Owner(mnt_), "100000:200000");
  EXPECT_EQ(Owner(mnt_ + "/rootfile"), "100000:200000");
  EXPECT_EQ(Owner(mnt_ + "/home/u"), "101000:201000");
  EXPECT_EQ(Owner(mnt_ + "/home/u/secret"), "101000:201000");
  EXPECT_EQ(Owner(mnt_ + "/far"), "65534:65534");
  // Entries listed with readdirplus carry the same owners.
  CommandResult ls = RunCmd({"ls", "-ln", mnt_});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_NE(ls.out.find(" 100000 200000 "), std::string::npos) << ls.out;
  EXPECT_EQ(ls.out.find(" 0 0 "), std::string::npos) << ls.out;
}

TEST_F(OwnerMapTest, PermissionsFollowTheReportedOwners) {
  MountOk(
      image_, mnt_,
      "store=" + store_ + ",insecure,uidmap=1000:2000:1,gidmap=1000:2000:1");
  const std::string secret = mnt_ + "/home/u/secret";
  EXPECT_EQ(Owner(secret), "2000:2000");
  // The kernel checks modes against what is reported: the shifted owner may
  // read the 0600 file in its 0700 directory, the owner recorded may not.
  CommandResult as_shifted = RunAs(2000, 2000, {"cat", secret});
  EXPECT_EQ(as_shifted.exit_code, 0) << as_shifted.err;
  EXPECT_EQ(as_shifted.out, "user-file\n");
  CommandResult as_recorded = RunAs(1000, 1000, {"cat", secret});
  EXPECT_NE(as_recorded.exit_code, 0);
  EXPECT_NE(as_recorded.err.find("Permission denied"), std::string::npos)
      << as_recorded.err;
}

TEST_F(OwnerMapTest, AclNamedUsersAreShiftedToo) {
  MountOk(image_, mnt_, "store=" + store_ + ",insecure,uidmap=0:100000:65536");
  const std::string file = mnt_ + "/aclfile";
  // The ACL's user:1000 entry is user 101000 on this mount: the kernel
  // grants it, and no longer grants user 1000.
  CommandResult shifted = RunAs(101000, 101000, {"cat", file});
  EXPECT_EQ(shifted.exit_code, 0) << shifted.err;
  EXPECT_EQ(shifted.out, "acl-file\n");
  CommandResult recorded = RunAs(1000, 1000, {"cat", file});
  EXPECT_NE(recorded.exit_code, 0) << recorded.out;
  CommandResult xattr =
      RunCmd({"getfattr", "-n", "system.posix_acl_access", "-e", "hex", file});
  ASSERT_EQ(xattr.exit_code, 0) << xattr.err;
  // 101000 = 0x18a88, little-endian in the named entry.
  EXPECT_NE(xattr.out.find("02000400888a0100"), std::string::npos) << xattr.out;
}

TEST_F(OwnerMapTest, SquashReportsOneOwner) {
  MountOk(
      image_, mnt_,
      "store=" + store_ + ",insecure,squash_to_uid=1234,squash_to_gid=4321");
  for (const char* p : {"", "/rootfile", "/home/u", "/home/u/secret", "/far"}) {
    EXPECT_EQ(Owner(mnt_ + p), "1234:4321") << p;
  }
  CommandResult owner = RunAs(1234, 1, {"cat", mnt_ + "/far"});
  EXPECT_EQ(owner.exit_code, 0) << owner.err;
  EXPECT_EQ(owner.out, "far\n");
}

TEST_F(OwnerMapTest, WithoutOptionsOwnersAreAsRecorded) {
  MountOk(image_, mnt_, "store=" + store_ + ",insecure");
  EXPECT_EQ(Owner(mnt_ + "/rootfile"), "0:0");
  EXPECT_EQ(Owner(mnt_ + "/home/u/secret"), "1000:1000");
  EXPECT_EQ(Owner(mnt_ + "/far"), "70000:70000");
  CommandResult recorded = RunAs(1000, 1000, {"cat", mnt_ + "/aclfile"});
  EXPECT_EQ(recorded.exit_code, 0) << recorded.err;
}

TEST_F(OwnerMapTest, BadMapIsAUsageErrorAndMountsNothing) {
  CommandResult r = Mount(
      image_, mnt_, "store=" + store_ + ",insecure,uidmap=0:100:10:5:1:1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.substr(0, r.err.find('\n')),
            "sealfs mount: bad uidmap '0:100:10:5:1:1': ranges overlap at "
            "image id 5");
  EXPECT_FALSE(IsMounted(mnt_));
}

}  // namespace
}  // namespace sealfs::testing
