// SPDX-License-Identifier: Apache-2.0
#include "fs/serve/fd_names.h"

#include <gtest/gtest.h>

namespace sealfs::serve {
namespace {

TEST(FdNames, RoundTripsEveryKind) {
  const std::string names = FdName(7, FdKind::kFuse) + ":" +
                            FdName(7, FdKind::kImage) + ":" +
                            FdName(18446744073709551615u, FdKind::kStore) +
                            ":" + FdName(1, FdKind::kRecord);
  EXPECT_EQ(FdName(7, FdKind::kFuse), "sealfs-7-fuse");
  Result<std::vector<NamedFd>> r = ParseListenFdNames(names, 4);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_TRUE((*r)[0].ours);
  EXPECT_EQ((*r)[0].id, 7u);
  EXPECT_EQ((*r)[1].kind, FdKind::kImage);
  EXPECT_EQ((*r)[2].id, 18446744073709551615u);
  EXPECT_EQ((*r)[2].kind, FdKind::kStore);
  EXPECT_EQ((*r)[3].kind, FdKind::kRecord);
}

TEST(FdNames, OtherNamesAreNotOurs) {
  for (const char* name :
       {"", "unknown", "stored", "sealfs-", "sealfs-7", "sealfs-7-",
        "sealfs--fuse", "sealfs-0-fuse", "sealfs-07-fuse", "sealfs-7-fusex",
        "sealfs-x-fuse", "sealfs-18446744073709551616-fuse", "sealfs-+7-fuse",
        "SEALFS-7-fuse", "sealfs-7-fuse\n"}) {
    Result<std::vector<NamedFd>> r = ParseListenFdNames(name, 1);
    ASSERT_TRUE(r.ok()) << name;
    EXPECT_FALSE((*r)[0].ours) << name;
  }
}

TEST(FdNames, CountMustMatchTheNames) {
  EXPECT_EQ(ParseListenFdNames("a:b", 3).status().err(), EINVAL);
  EXPECT_EQ(ParseListenFdNames("a:b:c", 2).status().err(), EINVAL);
  EXPECT_EQ(ParseListenFdNames("a", 0).status().err(), EINVAL);
  EXPECT_EQ(ParseListenFdNames("", kMaxListenFds + 1).status().err(), EINVAL);
  EXPECT_TRUE(ParseListenFdNames("", 0).ok());
  // An empty name is one name: "a::b" counts three.
  EXPECT_TRUE(ParseListenFdNames("a::b", 3).ok());
  EXPECT_TRUE(ParseListenFdNames("", 1).ok());
}

}  // namespace
}  // namespace sealfs::serve
