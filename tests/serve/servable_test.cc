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
  EXPECT_TRUE(CheckServable(Parsed("store=/s"), false, 1000, 0).ok());
  EXPECT_TRUE(CheckServable(Parsed("store=/s,uidmap=0:5000:10"), false, 0, 0).ok());
}

TEST(Servable, DaemonOptionsAreNotServed) {
  for (const char* text :
       {"store=/s,user=nobody", "store=/s,record=/tmp/r", "store=/s,debug"}) {
    EXPECT_EQ(CheckServable(Parsed(text), false, 0, 0).err(), EOPNOTSUPP) << text;
  }
}

TEST(Servable, RemoteOnlyForTheServicesOwnUser) {
  const fuse::MountOptions o = Parsed("store=/s,remote=http://127.0.0.1:1");
  EXPECT_TRUE(CheckServable(o, false, 0, 0).ok());
  EXPECT_TRUE(CheckServable(o, false, 1000, 1000).ok());
  Status other = CheckServable(o, false, 1000, 0);
  EXPECT_EQ(other.err(), EPERM);
  EXPECT_NE(other.context().find("uid 1000"), std::string::npos)
      << other.ToString();
  EXPECT_EQ(CheckServable(o, false, 0, 1000).err(), EPERM);
}

TEST(Servable, RemotePathsMustBeAbsolute) {
  EXPECT_TRUE(CheckServable(Parsed("store=/s,remote=/srv/store"), false, 0, 0).ok());
  EXPECT_TRUE(
      CheckServable(Parsed("store=/s,remote=https://h/x,prefetch=/l"), false, 0, 0)
          .ok());
  EXPECT_EQ(CheckServable(Parsed("store=/s,remote=rel/store"), false, 0, 0).err(),
            EINVAL);
  EXPECT_EQ(
      CheckServable(Parsed("store=/s,remote=/srv/s,prefetch=list"), false, 0, 0).err(),
      EINVAL);
}

TEST(Servable, RegistryImagesOnlyForTheServicesOwnUser) {
  const fuse::MountOptions o = Parsed("store=/s");
  EXPECT_TRUE(CheckServable(o, true, 1000, 1000).ok());
  Status other = CheckServable(o, true, 1000, 0);
  EXPECT_EQ(other.err(), EPERM);
  EXPECT_NE(other.context().find("docker://"), std::string::npos)
      << other.ToString();
  // The local image of the same caller is served whoever runs the service.
  EXPECT_TRUE(CheckServable(o, false, 1000, 0).ok());
}

TEST(Servable, RegistryCredentialPathsMustBeAbsolute) {
  EXPECT_TRUE(
      CheckServable(Parsed("store=/s,authfile=/a.json,cert_dir=/c"), true, 0, 0)
          .ok());
  EXPECT_EQ(CheckServable(Parsed("store=/s,authfile=a.json"), true, 0, 0).err(),
            EINVAL);
  EXPECT_EQ(CheckServable(Parsed("store=/s,cert_dir=certs"), true, 0, 0).err(),
            EINVAL);
}

TEST(Servable, RemoteDockerLikeAnyRemote) {
  const fuse::MountOptions o = Parsed("store=/s,remote=docker://h/r:t");
  EXPECT_TRUE(CheckServable(o, false, 1000, 1000).ok());
  EXPECT_EQ(CheckServable(o, false, 1000, 0).err(), EPERM);
}

}  // namespace
}  // namespace sealfs::serve
