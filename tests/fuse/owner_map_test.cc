// SPDX-License-Identifier: Apache-2.0
#include "fs/fuse/owner_map.h"

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace sealfs::fuse {
namespace {

IdMap MustParse(std::string_view text) {
  Result<IdMap> m = IdMap::Parse(text);
  EXPECT_TRUE(m.ok()) << text << ": " << m.status().ToString();
  return m.ok() ? *m : IdMap();
}

TEST(IdMap, DefaultIsIdentity) {
  IdMap m;
  EXPECT_TRUE(m.identity());
  EXPECT_EQ(m.Map(0), 0u);
  EXPECT_EQ(m.Map(1000), 1000u);
  EXPECT_EQ(m.Map(kMaxId), kMaxId);
}

TEST(IdMap, ShiftsEachRangeAsFuseOverlayfsDoes) {
  // uidmapping=0:100000:1000:1000:1000:1: root to 100000, 1000 stays.
  IdMap m = MustParse("0:100000:1000:1000:1000:1");
  EXPECT_FALSE(m.identity());
  EXPECT_EQ(m.Map(0), 100000u);
  EXPECT_EQ(m.Map(1), 100001u);
  EXPECT_EQ(m.Map(999), 100999u);
  EXPECT_EQ(m.Map(1000), 1000u);
  EXPECT_EQ(m.Map(1001), kOverflowId);
  EXPECT_EQ(m.Map(kMaxId), kOverflowId);
  EXPECT_EQ(m.Map(0xFFFFFFFFu), kOverflowId);
}

TEST(IdMap, RangesInAnyOrderAreSorted) {
  IdMap m = MustParse("500:1:10:0:200:5:100:300:1");
  ASSERT_EQ(m.ranges().size(), 3u);
  EXPECT_EQ(m.ranges()[0], (IdRange{0, 200, 5}));
  EXPECT_EQ(m.ranges()[1], (IdRange{100, 300, 1}));
  EXPECT_EQ(m.ranges()[2], (IdRange{500, 1, 10}));
  EXPECT_EQ(m.Map(4), 204u);
  EXPECT_EQ(m.Map(5), kOverflowId);
  EXPECT_EQ(m.Map(99), kOverflowId);
  EXPECT_EQ(m.Map(100), 300u);
  EXPECT_EQ(m.Map(101), kOverflowId);
  EXPECT_EQ(m.Map(509), 10u);
  EXPECT_EQ(m.Map(510), kOverflowId);
}

TEST(IdMap, WholeIdSpaceIsAccepted) {
  IdMap m = MustParse("0:0:4294967295");
  EXPECT_EQ(m.Map(kMaxId), kMaxId);
  IdMap top = MustParse("4294967294:0:1");
  EXPECT_EQ(top.Map(kMaxId), 0u);
  EXPECT_EQ(top.Map(0), kOverflowId);
}

TEST(IdMap, RefusesMalformedText) {
  const char* bad[] = {
      "",                          // nothing
      "0",                         // not a triple
      "0:1",                       //
      "0:1:1:2",                   // 4 numbers
      "0:1:1:",                    // trailing colon
      ":0:1:1",                    // leading colon
      "0::1",                      // empty field
      "0:1:x",                     // not a number
      "0:1:-1",                    // signs
      "+0:1:1",                    //
      " 0:1:1",                    // spaces
      "0:1:1 ",                    //
      "0x10:1:1",                  // hex
      "0:1:0",                     // empty range
      "4294967296:0:1",            // over 32 bits
      "0:4294967296:1",            //
      "0:0:4294967296",            //
      "99999999999999999999:0:1",  //
      "4294967295:0:1",            // (uid_t)-1
      "0:4294967295:1",            //
      "4294967290:0:6",            // passes 4294967294
      "0:4294967290:6",            //
      "0:0:4294967296",            //
      "1:0:4294967295",            // 1 + 4294967295 - 1 passes it
  };
  for (const char* text : bad) {
    Result<IdMap> m = IdMap::Parse(text);
    EXPECT_FALSE(m.ok()) << "'" << text << "' was accepted";
    if (!m.ok()) {
      EXPECT_EQ(m.status().err(), EINVAL) << text;
    }
  }
}

TEST(IdMap, RefusesOverlapOnEitherSide) {
  // Image side: 0..9 and 5..5.
  Result<IdMap> inside = IdMap::Parse("0:100:10:5:200:1");
  ASSERT_FALSE(inside.ok());
  EXPECT_NE(inside.status().context().find("image id 5"), std::string::npos)
      << inside.status().context();
  // Host side: two image ids would be reported as the same id.
  Result<IdMap> outside = IdMap::Parse("0:100:10:50:109:1");
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.status().context().find("host id 109"), std::string::npos)
      << outside.status().context();
  // Ranges that touch are fine; the same range twice is not.
  EXPECT_TRUE(IdMap::Parse("0:100:10:10:110:10").ok());
  EXPECT_FALSE(IdMap::Parse("0:100:10:0:100:10").ok());
  // Overlap found whatever the order given, also with a range in between.
  EXPECT_FALSE(IdMap::Parse("20:0:5:0:50:1:22:60:1").ok());
  // A range ending at the top of the id space still overlaps exactly.
  EXPECT_FALSE(IdMap::Parse("4294967294:0:1:4294967290:10:5").ok());
}

TEST(IdMap, BoundsTheNumberOfRanges) {
  auto ranges = [](size_t n) {
    std::string text;
    for (size_t i = 0; i < n; ++i) {
      if (i > 0) text += ":";
      text += std::to_string(i) + ":" + std::to_string(1000 + i) + ":1";
    }
    return text;
  };
  Result<IdMap> most = IdMap::Parse(ranges(kMaxIdRanges));
  ASSERT_TRUE(most.ok()) << most.status().ToString();
  EXPECT_EQ(most->ranges().size(), kMaxIdRanges);
  EXPECT_EQ(most->Map(kMaxIdRanges - 1), 1000 + kMaxIdRanges - 1);
  EXPECT_FALSE(IdMap::Parse(ranges(kMaxIdRanges + 1)).ok());
}

TEST(OwnerMap, SquashWinsForOwnersOnly) {
  OwnerMap m;
  EXPECT_TRUE(m.identity());
  m.squash_uid = 1234;
  EXPECT_FALSE(m.identity());
  EXPECT_EQ(m.Uid(0), 1234u);
  EXPECT_EQ(m.Uid(99), 1234u);
  EXPECT_EQ(m.Gid(99), 99u);
  m.gids = MustParse("0:500:100");
  EXPECT_EQ(m.Gid(99), 599u);
  EXPECT_EQ(m.Gid(100), kOverflowId);
}

// A POSIX ACL as the kernel exchanges it: version 2, then (tag, perm, id).
std::string Acl(const std::vector<std::array<uint32_t, 3>>& entries) {
  std::string v;
  auto put16 = [&](uint32_t x) {
    v.push_back(static_cast<char>(x & 0xFF));
    v.push_back(static_cast<char>((x >> 8) & 0xFF));
  };
  auto put32 = [&](uint32_t x) {
    put16(x & 0xFFFF);
    put16(x >> 16);
  };
  put32(2);
  for (const auto& e : entries) {
    put16(e[0]);
    put16(e[1]);
    put32(e[2]);
  }
  return v;
}

constexpr uint32_t kUndefined = 0xFFFFFFFFu;

TEST(OwnerMap, AclNamedEntriesAreMapped) {
  OwnerMap m;
  m.uids = MustParse("0:100000:65536");
  m.gids = MustParse("0:200000:65536");
  std::string in = Acl({{0x01, 6, kUndefined},  // user::rw-
                        {0x02, 4, 1000},        // user:1000:r--
                        {0x02, 4, 70000},       // user:70000 (unmapped)
                        {0x04, 4, kUndefined},  // group::r--
                        {0x08, 5, 50},          // group:50:r-x
                        {0x10, 5, kUndefined},  // mask::r-x
                        {0x20, 0, kUndefined}});
  std::string want = Acl({{0x01, 6, kUndefined},
                          {0x02, 4, 101000},
                          {0x02, 4, kOverflowId},
                          {0x04, 4, kUndefined},
                          {0x08, 5, 200050},
                          {0x10, 5, kUndefined},
                          {0x20, 0, kUndefined}});
  for (const char* name :
       {"system.posix_acl_access", "system.posix_acl_default"}) {
    ASSERT_TRUE(m.MapsXattr(name));
    Result<std::string> out = m.MapXattr(name, in);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(*out, want) << name;
  }
}

TEST(OwnerMap, AclUnchangedWithoutAMap) {
  OwnerMap m;
  m.squash_uid = 7;
  m.squash_gid = 7;
  EXPECT_FALSE(m.MapsXattr("system.posix_acl_access"));
  std::string in = Acl({{0x02, 4, 1000}});
  Result<std::string> out = m.MapXattr("system.posix_acl_access", in);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, in);
}

TEST(OwnerMap, MalformedAclIsCorrupt) {
  OwnerMap m;
  m.uids = MustParse("0:100000:65536");
  std::string good = Acl({{0x02, 4, 1000}});
  std::string bad_version = good;
  bad_version[0] = 1;
  for (const std::string& v :
       {std::string(), std::string("\x02\x00\x00", 3), good + "x",
        good.substr(0, good.size() - 1), bad_version}) {
    Result<std::string> out = m.MapXattr("system.posix_acl_access", v);
    ASSERT_FALSE(out.ok()) << v.size() << " bytes accepted";
    EXPECT_EQ(out.status().err(), kErrCorrupt);
  }
}

std::string CapV3(uint32_t rootid) {
  std::string v(24, '\0');
  uint32_t words[6] = {0x03000001u, 0x400, 0, 0, 0, rootid};  // cap_net_bind
  for (int i = 0; i < 6; ++i) {
    for (int b = 0; b < 4; ++b) {
      v[static_cast<size_t>(i * 4 + b)] =
          static_cast<char>((words[i] >> (8 * b)) & 0xFF);
    }
  }
  return v;
}

TEST(OwnerMap, CapabilityRootIdIsMapped) {
  OwnerMap m;
  m.uids = MustParse("0:100000:65536");
  Result<std::string> v3 = m.MapXattr("security.capability", CapV3(0));
  ASSERT_TRUE(v3.ok()) << v3.status().ToString();
  EXPECT_EQ(*v3, CapV3(100000));
  // Version 2 names no id: valid in every namespace, as on any filesystem.
  std::string v2 = CapV3(0).substr(0, 20);
  v2[3] = 0x02;
  Result<std::string> same = m.MapXattr("security.capability", v2);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, v2);
  // A version 3 capability of the wrong size is refused, not passed on.
  EXPECT_EQ(m.MapXattr("security.capability", CapV3(0) + "x").status().err(),
            kErrCorrupt);
  // Other xattrs are never touched.
  EXPECT_FALSE(m.MapsXattr("user.note"));
  Result<std::string> other = m.MapXattr("user.note", CapV3(0));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(*other, CapV3(0));
}

}  // namespace
}  // namespace sealfs::fuse
