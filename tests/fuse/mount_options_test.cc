// SPDX-License-Identifier: Apache-2.0
#include "fs/fuse/mount_options.h"

#include <string>

#include "gtest/gtest.h"

namespace sealfs::fuse {
namespace {

Status Parse(std::string_view text, MountOptions* out) {
  return ParseMountOptions(text, out);
}

TEST(MountOptions, OwnerMapsAreParsed) {
  MountOptions o;
  ASSERT_TRUE(
      Parse("store=/s,uidmap=0:100000:65536,gidmap=0:200000:10:10:5:1", &o)
          .ok());
  EXPECT_EQ(o.owners.Uid(0), 100000u);
  EXPECT_EQ(o.owners.Uid(65536), kOverflowId);
  EXPECT_EQ(o.owners.Gid(9), 200009u);
  EXPECT_EQ(o.owners.Gid(10), 5u);
  EXPECT_EQ(o.owners.Gid(11), kOverflowId);
  // Owner options are ours: none reaches the kernel's option string.
  EXPECT_EQ(KernelOptionString(o, /*is_root=*/false, /*auto_unmount=*/true),
            "ro,default_permissions,fsname=sealfs,subtype=sealfs,auto_unmount");
}

TEST(MountOptions, SquashIsParsed) {
  MountOptions o;
  ASSERT_TRUE(Parse("squash_to_uid=1000", &o).ok());
  ASSERT_TRUE(Parse("squash_to_gid=0", &o).ok());
  EXPECT_EQ(o.owners.Uid(5), 1000u);
  EXPECT_EQ(o.owners.Gid(5), 0u);
  MountOptions top;
  ASSERT_TRUE(Parse("squash_to_uid=4294967294", &top).ok());
  EXPECT_EQ(top.owners.Uid(0), 4294967294u);
}

TEST(MountOptions, OwnerOptionsRefuseBadValues) {
  const char* bad[] = {
      "uidmap",                     // no value
      "uidmap=",                    //
      "uidmap=0:1",                 // not a triple
      "gidmap=0:1:0",               // empty range
      "uidmap=0:100:10:5:200:1",    // overlap
      "uidmap=0:4294967295:1",      // (uid_t)-1
      "squash_to_uid=",             //
      "squash_to_uid=-1",           //
      "squash_to_uid=4294967295",   // (uid_t)-1
      "squash_to_gid=4294967296",   // over 32 bits
      "squash_to_gid=1x",           //
      "uidmap=0:1:1,uidmap=5:6:1",  // twice
      "squash_to_uid=1,squash_to_uid=1",
      "uidmap=0:1:1,squash_to_uid=1",  // exclusive, either order
      "squash_to_gid=1,gidmap=0:1:1",
  };
  for (const char* text : bad) {
    MountOptions o;
    Status st = Parse(text, &o);
    EXPECT_EQ(st.err(), EINVAL) << "'" << text << "' accepted";
  }
}

TEST(MountOptions, OwnerErrorsNameTheOption) {
  MountOptions o;
  Status st = Parse("uidmap=0:1", &o);
  EXPECT_EQ(
      st.context(),
      "bad uidmap '0:1': want CONTAINER:HOST:COUNT triples, got 2 numbers");
  MountOptions twice;
  ASSERT_TRUE(Parse("gidmap=0:1:1", &twice).ok());
  EXPECT_EQ(Parse("squash_to_gid=3", &twice).context(),
            "squash_to_gid= and gidmap= exclude each other");
}

TEST(MountOptions, UidAndGidSidesAreIndependent) {
  MountOptions o;
  ASSERT_TRUE(Parse("uidmap=0:1000:1,squash_to_gid=100", &o).ok());
  EXPECT_EQ(o.owners.Uid(0), 1000u);
  EXPECT_EQ(o.owners.Gid(0), 100u);
}

}  // namespace
}  // namespace sealfs::fuse
