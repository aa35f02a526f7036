// SPDX-License-Identifier: Apache-2.0
// Lazy fetch and the repair loop on real mounts: with remote=, a file whose
// object is missing is fetched (verified) on first open and served; 8
// concurrent readers cause one transfer; a remote that is down gives EIO for
// that file only, and a later open retries; an object found corrupt is
// served again after `sealfs pull --verify` repairs the store, same mount.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "sealfs/digest.h"
#include "tests/http_store_server.h"
#include "tests/integration/mount_fixture.h"

namespace sealfs::testing {
namespace {

namespace fs = std::filesystem;

// STORE/objects/XX/<62 hex> for content `data`.
std::string ObjectFor(const std::string& store,
                      const std::vector<uint8_t>& data) {
  const std::string hex = ComputeMerkleTree(data).digest.Hex();
  return store + "/objects/" + hex.substr(0, 2) + "/" + hex.substr(2);
}

// Reads the whole file; returns 0 and the bytes, or the errno of the
// failing open or read.
int ReadAll(const std::string& path, std::vector<uint8_t>* out) {
  out->clear();
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return errno;
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      int err = errno;
      close(fd);
      return err;
    }
    if (n == 0) break;
    out->insert(out->end(), buf, buf + n);
  }
  close(fd);
  return 0;
}

class LazyFetchTest : public MountTest {
 protected:
  void SetUp() override {
    MountTest::SetUp();
    if (IsSkipped()) return;
    src_ = tmp_ / "src";
    for (int i = 0; i < 6; ++i) {
      contents_.push_back(RandomBytes(1000 + i * 70000, 500 + i));
      WriteFile(src_ + "/f" + std::to_string(i), contents_.back());
    }
    image_ = tmp_ / "image";
    identity_ = Mkfs(src_, image_, "");
    // The remote is a full copy; the local store starts empty.
    remote_ = tmp_ / "remote";
    ASSERT_EQ(RunCmd({"cp", "-a", store_, remote_}).exit_code, 0);
    fs::remove_all(store_ + "/objects");
    fs::remove_all(store_ + "/trees");
    fs::create_directories(store_ + "/objects");
    log_ = tmp_ / "requests.log";
  }

  void TearDown() override {
    server_.Stop();
    MountTest::TearDown();
  }

  std::string Options(const std::string& remote) {
    return "store=" + store_ + ",digest=" + identity_ + ",remote=" + remote +
           ",remote_timeout=2";
  }

  std::string src_, image_, identity_, remote_, log_;
  std::vector<std::vector<uint8_t>> contents_;
  HttpStoreServer server_;
};

TEST_F(LazyFetchTest, MissingObjectsAreFetchedVerifiedAndKept) {
  ASSERT_EQ(server_.Start(remote_, "normal", log_), "");
  std::string mnt = tmp_ / "mnt";
  MountOk(image_, mnt, Options(server_.url()));
  for (size_t i = 0; i < contents_.size(); ++i) {
    std::vector<uint8_t> got;
    ASSERT_EQ(ReadAll(mnt + "/f" + std::to_string(i), &got), 0) << i;
    EXPECT_EQ(got, contents_[i]) << i;
    const std::string object = ObjectFor(store_, contents_[i]);
    EXPECT_EQ(ReadFile(object), contents_[i]) << object;
  }
  EXPECT_EQ(CountLogLines(log_, "/objects/"), 6);
  // Kept: with the server gone, every file still reads.
  server_.Stop();
  for (size_t i = 0; i < contents_.size(); ++i) {
    std::vector<uint8_t> got;
    EXPECT_EQ(ReadAll(mnt + "/f" + std::to_string(i), &got), 0) << i;
  }
}

TEST_F(LazyFetchTest, ConcurrentOpensOfOneObjectFetchItOnce) {
  ASSERT_EQ(server_.Start(remote_, "slow", log_), "");
  std::string mnt = tmp_ / "mnt";
  MountOk(image_, mnt, Options(server_.url()) + ",threads=16");
  const std::string path = mnt + "/f5";
  std::atomic<int> good{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 8; ++t) {
    readers.emplace_back([&] {
      std::vector<uint8_t> got;
      if (ReadAll(path, &got) == 0 && got == contents_[5]) ++good;
    });
  }
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(good.load(), 8);
  const std::string hex = ComputeMerkleTree(contents_[5]).digest.Hex();
  EXPECT_EQ(CountLogLines(log_, hex.substr(2)), 1);
}

TEST_F(LazyFetchTest, RemoteDownGivesEioForThatFileOnlyAndRetriesLater) {
  ASSERT_EQ(server_.Start(remote_, "normal", log_), "");
  std::string mnt = tmp_ / "mnt";
  MountOk(image_, mnt, Options(server_.url()));
  std::vector<uint8_t> got;
  ASSERT_EQ(ReadAll(mnt + "/f1", &got), 0);
  const int port = server_.port();
  server_.Stop();
  EXPECT_EQ(ReadAll(mnt + "/f2", &got), EIO);
  EXPECT_EQ(ReadAll(mnt + "/f1", &got), 0);  // already fetched
  EXPECT_EQ(got, contents_[1]);
  EXPECT_FALSE(fs::exists(ObjectFor(store_, contents_[2])));
  // The remote comes back: the failure was not remembered.
  ASSERT_EQ(server_.Start(remote_, "normal", log_, port), "");
  ASSERT_EQ(ReadAll(mnt + "/f2", &got), 0);
  EXPECT_EQ(got, contents_[2]);
}

TEST_F(LazyFetchTest, StallingRemoteGivesEioNotAHang) {
  ASSERT_EQ(server_.Start(remote_, "stall", log_), "");
  std::string mnt = tmp_ / "mnt";
  MountOk(image_, mnt, Options(server_.url()) + ",remote_timeout=1");
  std::vector<uint8_t> got;
  EXPECT_EQ(ReadAll(mnt + "/f3", &got), EIO);
  // Not poisoned: the same remote, now healthy, serves it.
  const int port = server_.port();
  server_.Stop();
  ASSERT_EQ(server_.Start(remote_, "normal", log_, port), "");
  ASSERT_EQ(ReadAll(mnt + "/f3", &got), 0);
  EXPECT_EQ(got, contents_[3]);
}

TEST_F(LazyFetchTest, CorruptRemoteIsRefusedAndTheNextOpenRetries) {
  ASSERT_EQ(server_.Start(remote_, "corrupt", log_), "");
  std::string mnt = tmp_ / "mnt";
  MountOk(image_, mnt, Options(server_.url()));
  std::vector<uint8_t> got;
  EXPECT_EQ(ReadAll(mnt + "/f4", &got), EIO);
  EXPECT_FALSE(fs::exists(ObjectFor(store_, contents_[4])));
  EXPECT_EQ(ReadAll(mnt + "/f4", &got), EIO);
  // Each open tried again: the failure was not remembered.
  const std::string hex = ComputeMerkleTree(contents_[4]).digest.Hex();
  EXPECT_EQ(CountLogLines(log_, hex.substr(2)), 2);
}

TEST_F(LazyFetchTest, StoreDirectoryRemoteWorksToo) {
  std::string mnt = tmp_ / "mnt";
  MountOk(image_, mnt, Options(remote_));
  std::vector<uint8_t> got;
  ASSERT_EQ(ReadAll(mnt + "/f2", &got), 0);
  EXPECT_EQ(got, contents_[2]);
  EXPECT_EQ(ReadFile(ObjectFor(store_, contents_[2])), contents_[2]);
}

TEST_F(LazyFetchTest, RepairLoopServesARepairedObjectWithoutRemount) {
  // Everything local, no remote= at all: the repair comes from pull.
  ASSERT_EQ(RunCmd({SealfsBin(), "pull", "--from", remote_, "--store", store_,
                    image_})
                .exit_code,
            0);
  const std::string object = ObjectFor(store_, contents_[3]);
  std::vector<uint8_t> bad = contents_[3];
  bad[bad.size() / 2] ^= 0x01;
  fs::permissions(object, fs::perms::owner_write, fs::perm_options::add);
  WriteFile(object, bad);

  std::string mnt = tmp_ / "mnt";
  MountOk(image_, mnt, "store=" + store_ + ",digest=" + identity_);
  std::vector<uint8_t> got;
  EXPECT_EQ(ReadAll(mnt + "/f3", &got), EIO);

  CommandResult r = RunCmd({SealfsBin(), "pull", "--verify", "--from", remote_,
                            "--store", store_, image_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(object), contents_[3]);

  ASSERT_EQ(ReadAll(mnt + "/f3", &got), 0);
  EXPECT_EQ(got, contents_[3]);
}

TEST_F(LazyFetchTest, RepairLoopWhileAHandleStaysOpen) {
  ASSERT_EQ(RunCmd({SealfsBin(), "pull", "--from", remote_, "--store", store_,
                    image_})
                .exit_code,
            0);
  const std::string object = ObjectFor(store_, contents_[4]);
  std::vector<uint8_t> bad = contents_[4];
  bad[100] ^= 0x01;
  fs::permissions(object, fs::perms::owner_write, fs::perm_options::add);
  WriteFile(object, bad);

  std::string mnt = tmp_ / "mnt";
  MountOk(image_, mnt, "store=" + store_ + ",digest=" + identity_);
  // A handle that stays open across the repair.
  int held = open((mnt + "/f4").c_str(), O_RDONLY);
  ASSERT_GE(held, 0);
  uint8_t buf[4096];
  EXPECT_EQ(pread(held, buf, sizeof(buf), 0), -1);
  EXPECT_EQ(errno, EIO);

  CommandResult r = RunCmd({SealfsBin(), "pull", "--verify", "--from", remote_,
                            "--store", store_, image_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<uint8_t> got;
  EXPECT_EQ(ReadAll(mnt + "/f4", &got), 0);
  EXPECT_EQ(got, contents_[4]);
  close(held);
}

TEST_F(LazyFetchTest, BadRemoteOptionsAreRefused) {
  std::string mnt = tmp_ / "mnt";
  CommandResult r = Mount(image_, mnt, Options(remote_) + ",remote_timeout=0");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("remote_timeout must be 1..3600"), std::string::npos)
      << r.err;
  r = Mount(image_, mnt, Options("ftp://example.invalid/store"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("only http:// and https://"), std::string::npos)
      << r.err;
  r = Mount(image_, mnt, Options(tmp_ / "no-such-store"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_FALSE(IsMounted(mnt));
}

}  // namespace
}  // namespace sealfs::testing
