// SPDX-License-Identifier: Apache-2.0
// docker:// images served by `sealfs serve` (a real docker-registry on
// loopback): read by the service for its own user, one verified manifest
// shared by two mounts, trust still checked per mount; and a mount that
// survives --replace and kill -9 (keeper) with the registry stopped: the
// new services open the registry only on a fetch, local objects read,
// missing ones fail with EIO, and once the registry is back the session
// serves the image it was mounted with even though its tag has moved. The
// same for a local image mounted with remote=docker://, and for a service
// whose sessions systemd's fd store keeps.
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/fake_systemd.h"
#include "tests/integration/random_readers.h"
#include "tests/integration/serve_fixture.h"
#include "tests/integration/store_files.h"
#include "tests/registry_server.h"

namespace sealfs::testing {
namespace {

namespace fs = std::filesystem;

class ServeRegistryTest : public ServeTest {
 protected:
  void SetUp() override {
    ServeTest::SetUp();
    if (IsSkipped()) return;
    for (int i = 0; i < 4; ++i) {
      contents_.push_back(RandomBytes(100000 + i * 50000, 60 + i));
      WriteFile(tmp_ / ("src/f" + std::to_string(i)), contents_.back());
    }
    BuildImage();
    reg_dir_ = tmp_ / "registry";
    fs::create_directories(reg_dir_);
  }
  void TearDown() override {
    registry_.Stop();
    ServeTest::TearDown();
  }
  void StartRegistry(int port = 0) {
    RegistryConfig config;
    config.dir = reg_dir_;
    config.port = port;
    ASSERT_EQ(registry_.Start(config), "");
  }
  std::string Ref() const {
    return "docker://" + registry_.host() + "/team/app:v1";
  }
  void Push(const std::string& image) {
    CommandResult r = RunCmd({SealfsBin(), "push", "--store", store_, "--to",
                              Ref(), "--tls-verify=false", image});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // A lazy mount of Ref() from an empty store of its own.
  std::string Options(const std::string& store, const std::string& extra) {
    return "store=" + store + ",pubkey=" + (tmp_ / "key.pub") +
           ",tls_verify=false" + extra;
  }
  std::string F(const std::string& mnt, int i) {
    return mnt + "/f" + std::to_string(i);
  }
  void SurvivesRestartsWithTheRegistryDown(bool image_from_registry);

  std::vector<std::vector<uint8_t>> contents_;
  std::string reg_dir_;
  RegistryServer registry_;
};

TEST_F(ServeRegistryTest, DockerImageIsServedSharedAndCheckedPerMount) {
  ASSERT_GT(Serve(), 0);
  StartRegistry();
  Push(tmp_ / "image");
  const std::string a = tmp_ / "a", b = tmp_ / "b", c = tmp_ / "c";
  const std::string store = tmp_ / "store-reg";  // made by the mount
  MountOk(Ref(), a, Options(store, ",prefetch=none"));
  EXPECT_TRUE(DaemonPids(a).empty());  // the service serves it
  EXPECT_EQ(ReadFile(F(a, 1)), contents_[1]);
  EXPECT_EQ(ReadFile(a + "/big"), big_);
  MountOk(Ref(), b, Options(store, ",prefetch=none"));
  EXPECT_TRUE(DaemonPids(b).empty());
  EXPECT_EQ(ReadFile(F(b, 2)), contents_[2]);
  CommandResult list = RunCmd({SealfsBin(), "mounts", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("\"mountpoint\":\"" + a + "\""), std::string::npos)
      << list.out;
  EXPECT_NE(list.out.find("\"image\":\"" + Ref() + "\""), std::string::npos)
      << list.out;
  // Pinned to the registry manifest's digest.
  EXPECT_NE(list.out.find("\"pinned\":\"docker://" + registry_.host() +
                          "/team/app@sha256:"),
            std::string::npos)
      << list.out;
  // Both mounts hold one manifest copy.
  EXPECT_NE(list.out.find("\"image_mounts\":2"), std::string::npos) << list.out;
  // The held image vouches for nothing: a mount trusting another key only
  // is refused.
  MakeKey(tmp_ / "other");
  CommandResult refused =
      Mount(Ref(), c,
            "store=" + store + ",pubkey=" + (tmp_ / "other.pub") +
                ",tls_verify=false");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_FALSE(IsMounted(c));
  // Every object in the background, then the image is kept as a tag.
  const std::string d = tmp_ / "d";
  MountOk(Ref(), d, Options(store, ""));
  const std::string kept = store + "/images/127.0.0.1_" +
                           std::to_string(registry_.port()) + "_team_app_v1";
  for (int i = 0; i < 1500 && !fs::exists(kept); ++i) {  // hang guard
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(fs::exists(kept));
}

// The image from the registry (docker://), or a local image whose objects
// come from there (remote=docker://).
void ServeRegistryTest::SurvivesRestartsWithTheRegistryDown(
    bool image_from_registry) {
  ASSERT_GT(Serve(), 0);
  StartRegistry();
  const int port = registry_.port();
  Push(tmp_ / "image");
  const std::string mnt = tmp_ / "mnt";
  const std::string store = tmp_ / "store-reg";
  const std::string lazy = ",prefetch=none,remote_timeout=2";
  if (image_from_registry) {
    MountOk(Ref(), mnt, Options(store, lazy));
  } else {
    MountOk(tmp_ / "image", mnt, Options(store, ",remote=" + Ref() + lazy));
  }
  EXPECT_TRUE(DaemonPids(mnt).empty());  // the service serves it
  // f0 and big are fetched now; f2 and f3 never before the restarts.
  EXPECT_EQ(ReadFile(F(mnt, 0)), contents_[0]);
  EXPECT_EQ(ReadFile(mnt + "/big"), big_);
  std::vector<ReaderFile> files = {{F(mnt, 0), contents_[0]},
                                   {mnt + "/big", big_}};
  auto readers = std::async(std::launch::async, [&] {
    return ReadRandomly(files, 4, std::chrono::seconds(5));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  pid_t old = serve_pids_.back();
  ASSERT_GT(Serve({"--replace"}), 0);
  Reap(old);
  registry_.Stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  old = serve_pids_.back();
  kill(old, SIGKILL);
  Reap(old);
  ASSERT_GT(Serve(), 0);  // takes the session back from the keeper
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  old = serve_pids_.back();
  ASSERT_GT(Serve({"--replace"}), 0);
  Reap(old);
  ReaderStats stats = readers.get();
  EXPECT_GT(stats.reads, 50u);
  EXPECT_EQ(stats.mismatches, 0u);
  EXPECT_EQ(stats.errors, 0u);
  // With the registry down, a missing object fails (remote_timeout=2);
  // the mount stays.
  std::vector<uint8_t> got;
  EXPECT_EQ(ReadAll(F(mnt, 2), &got), EIO);
  struct stat st {};
  ASSERT_EQ(stat(F(mnt, 3).c_str(), &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(contents_[3].size()));
  EXPECT_EQ(ReadFile(F(mnt, 0)), contents_[0]);

  // The registry comes back with another image under the tag: the session
  // was pinned to the manifest it was mounted with, and fetches from it.
  StartRegistry(port);
  WriteFile(tmp_ / "src2/f2", RandomBytes(4000, 99));
  Mkfs(tmp_ / "src2", tmp_ / "image2", tmp_ / "key");
  Push(tmp_ / "image2");
  EXPECT_EQ(ReadAll(F(mnt, 2), &got), 0);
  EXPECT_EQ(got, contents_[2]);
  EXPECT_EQ(ReadFile(F(mnt, 3)), contents_[3]);
  CommandResult list = RunCmd({SealfsBin(), "mounts", "--json"});
  EXPECT_NE(list.out.find("\"mountpoint\":\"" + mnt + "\""), std::string::npos)
      << list.out;
}

// Under systemd, the image (a sealed memfd) goes to the fd store with the
// session; a service started after kill -9 serves the mount again with
// the registry down.
TEST_F(ServeRegistryTest, FdStoreKeepsADockerMountWithTheRegistryDown) {
  StartRegistry();
  Push(tmp_ / "image");
  FakeSystemd systemd(tmp_ / "notify.sock");
  const std::vector<std::string> argv = {SealfsBin(), "serve", "--socket",
                                         socket_, "--fd-store"};
  pid_t serve = ServeUnder(systemd, argv, 0);
  ASSERT_GT(serve, 0);
  const std::string mnt = tmp_ / "mnt";
  MountOk(Ref(), mnt,
          Options(tmp_ / "store-reg", ",prefetch=none,remote_timeout=2"));
  systemd.Pump();
  EXPECT_EQ(systemd.store().count("sealfs-1-image"), 1u);
  EXPECT_EQ(ReadFile(F(mnt, 0)), contents_[0]);
  registry_.Stop();
  kill(serve, SIGKILL);
  Reap(serve);
  serve = ServeUnder(systemd, argv, 1);
  ASSERT_GT(serve, 0);
  EXPECT_EQ(ReadFile(F(mnt, 0)), contents_[0]);
  std::vector<uint8_t> got;
  EXPECT_EQ(ReadAll(F(mnt, 2), &got), EIO);
  struct stat st {};
  EXPECT_EQ(stat(F(mnt, 3).c_str(), &st), 0);
}

TEST_F(ServeRegistryTest, DockerMountSurvivesRestartsWithTheRegistryDown) {
  SurvivesRestartsWithTheRegistryDown(true);
}

TEST_F(ServeRegistryTest, RemoteDockerMountSurvivesRestartsWithRegistryDown) {
  SurvivesRestartsWithTheRegistryDown(false);
}

}  // namespace
}  // namespace sealfs::testing
