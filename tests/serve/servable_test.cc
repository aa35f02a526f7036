// SPDX-License-Identifier: Apache-2.0
#include "fs/serve/servable.h"

#include <gtest/gtest.h>

namespace sealfs::serve {
namespace {

fuse::MountOptions Parsed(const std::string& text) {
  fuse::MountOptions o;
  Status st = fuse::ParseMountOptions(text, &o);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return o;
}

TEST(Servable, LocalMountsAreServedForAnyCaller) {
  EXPECT_TRUE(CheckServable(Parsed("store=/s"), 1000, 0).ok());
  EXPECT_TRUE(CheckServable(Parsed("store=/s,uidmap=0:5000:10"), 0, 0).ok());
}

TEST(Servable, DaemonOptionsAreNotServed) {
  for (const char* text :
       {"store=/s,user=nobody", "store=/s,record=/tmp/r", "store=/s,debug"}) {
    EXPECT_EQ(CheckServable(Parsed(text), 0, 0).err(), EOPNOTSUPP) << text;
  }
}

TEST(Servable, RemoteOnlyForTheServicesOwnUser) {
  const fuse::MountOptions o = Parsed("store=/s,remote=http://127.0.0.1:1");
  EXPECT_TRUE(CheckServable(o, 0, 0).ok());
  EXPECT_TRUE(CheckServable(o, 1000, 1000).ok());
  Status other = CheckServable(o, 1000, 0);
  EXPECT_EQ(other.err(), EPERM);
  EXPECT_NE(other.context().find("uid 1000"), std::string::npos)
      << other.ToString();
  EXPECT_EQ(CheckServable(o, 0, 1000).err(), EPERM);
}

TEST(Servable, RemotePathsMustBeAbsolute) {
  EXPECT_TRUE(CheckServable(Parsed("store=/s,remote=/srv/store"), 0, 0).ok());
  EXPECT_TRUE(
      CheckServable(Parsed("store=/s,remote=https://h/x,prefetch=/l"), 0, 0)
          .ok());
  EXPECT_EQ(CheckServable(Parsed("store=/s,remote=rel/store"), 0, 0).err(),
            EINVAL);
  EXPECT_EQ(
      CheckServable(Parsed("store=/s,remote=/srv/s,prefetch=list"), 0, 0).err(),
      EINVAL);
}

}  // namespace
}  // namespace sealfs::serve
