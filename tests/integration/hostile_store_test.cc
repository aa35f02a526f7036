// SPDX-License-Identifier: Apache-2.0
// A hostile store under a mount: an object replaced by a symlink, a
// directory, a FIFO or a file of another size; a tree truncated or swapped
// for another object's; a fan-out directory that is a symlink. Each is an
// error for that file only: never a hang, never a byte that is not the
// file's. A store path reached through a symlink chain (the operator's
// choice) works.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/integration/mount_fixture.h"
#include "tests/integration/store_files.h"

namespace sealfs::testing {
namespace {

// Two levels of tree (200 blocks > 128 hashes per block), so a truncated
// tree loses some blocks' paths but not others'.
constexpr size_t kVictimBlocks = 200;

class HostileStoreTest : public MountTest {
 protected:
  void SetUp() override {
    MountTest::SetUp();
    if (IsSkipped()) return;
    src_ = tmp_ / "src";
    victim_ = RandomBytes(kVictimBlocks * kTestBlock, 21);
    WriteFile(src_ + "/victim.bin", victim_);
    // Same size as the victim: its tree has the victim tree's shape.
    WriteFile(src_ + "/twin.bin", RandomBytes(kVictimBlocks * kTestBlock, 22));
    WriteFile(src_ + "/other.bin", RandomBytes(5 * kTestBlock + 3, 24));
    MakeKey(tmp_ / "key");
    image_ = tmp_ / "image";
    Mkfs(src_, image_, tmp_ / "key");
    object_ = ObjectPathFor(store_, src_ + "/victim.bin");
    tree_ = TreePathFor(store_, src_ + "/victim.bin");
    mnt_ = tmp_ / "mnt";
  }

  void MountStore(const std::string& store) {
    MountOk(image_, mnt_,
            "store=" + store + ",pubkey=" + (tmp_ / "key.pub"));
  }

  // Replaces the victim's object with what `make` creates at the path.
  template <typename F>
  void ReplaceObject(F make) {
    ASSERT_EQ(unlink(object_.c_str()), 0);
    make(object_);
  }

  // The victim cannot be opened, or (where the kernel opens without asking
  // the daemon) read: EIO; the rest of the tree is intact.
  void ExpectVictimFailsAlone() {
    std::vector<uint8_t> got;
    EXPECT_EQ(ReadBlock(mnt_ + "/victim.bin", 0, &got), EIO);
    ExpectOthersIntact();
  }

  void ExpectOthersIntact() {
    EXPECT_EQ(ReadFile(mnt_ + "/other.bin"), ReadFile(src_ + "/other.bin"));
    EXPECT_EQ(ReadFile(mnt_ + "/twin.bin"), ReadFile(src_ + "/twin.bin"));
  }

  // Reads every block of the victim; returns how many failed with EIO.
  // Fails the test for any other error and for any byte that differs.
  size_t FailedVictimBlocks() {
    size_t failed = 0;
    std::vector<uint8_t> got;
    for (size_t b = 0; b < kVictimBlocks; ++b) {
      int err = ReadBlock(mnt_ + "/victim.bin", b, &got);
      if (err == EIO) {
        ++failed;
        continue;
      }
      EXPECT_EQ(err, 0) << "block " << b;
      EXPECT_TRUE(got.size() == kTestBlock &&
                  std::equal(got.begin(), got.end(),
                             victim_.begin() + b * kTestBlock))
          << "block " << b << " returned bytes that are not the file's";
    }
    return failed;
  }

  std::string src_, image_, object_, tree_, mnt_;
  std::vector<uint8_t> victim_;
};

TEST_F(HostileStoreTest, ObjectReplacedBySymlinkToTheSameBytes) {
  // Even a symlink to a file with the right content is refused: nothing in
  // the store is ever followed.
  ReplaceObject([&](const std::string& at) {
    ASSERT_EQ(symlink((src_ + "/victim.bin").c_str(), at.c_str()), 0);
  });
  MountStore(store_);
  ExpectVictimFailsAlone();
}

TEST_F(HostileStoreTest, ObjectReplacedByDirectory) {
  ReplaceObject([](const std::string& at) {
    ASSERT_EQ(mkdir(at.c_str(), 0755), 0);
  });
  MountStore(store_);
  ExpectVictimFailsAlone();
}

TEST_F(HostileStoreTest, ObjectReplacedByFifoDoesNotHang) {
  ReplaceObject([](const std::string& at) {
    ASSERT_EQ(mkfifo(at.c_str(), 0644), 0);
  });
  MountStore(store_);
  ExpectVictimFailsAlone();
}

TEST_F(HostileStoreTest, ObjectOfAnotherSizeIsRefused) {
  for (off_t size : {static_cast<off_t>(victim_.size() - 1),
                     static_cast<off_t>(victim_.size() + kTestBlock)}) {
    SCOPED_TRACE(size);
    ASSERT_EQ(chmod(object_.c_str(), 0644), 0);
    ASSERT_EQ(truncate(object_.c_str(), size), 0);
    MountStore(store_);
    ExpectVictimFailsAlone();
    CleanUpMount(mnt_);
  }
}

TEST_F(HostileStoreTest, TruncatedTreeNeverYieldsWrongBytes) {
  // Top level first: the root block and the first level-0 block remain, so
  // the first 128 blocks can still be verified and the rest cannot.
  ASSERT_EQ(chmod(tree_.c_str(), 0644), 0);
  ASSERT_EQ(truncate(tree_.c_str(), 2 * kTestBlock), 0);
  MountStore(store_);
  // Blocks whose path is gone must fail; failing the whole file for a tree
  // of the wrong size is allowed too. Wrong bytes never are.
  EXPECT_GE(FailedVictimBlocks(), kVictimBlocks - 128);
  ExpectOthersIntact();
}

TEST_F(HostileStoreTest, TreeSwappedForAnotherObjectsTreeFailsEveryBlock) {
  const std::string twin_tree = TreePathFor(store_, src_ + "/twin.bin");
  ASSERT_EQ(unlink(tree_.c_str()), 0);
  ASSERT_EQ(link(twin_tree.c_str(), tree_.c_str()), 0);
  MountStore(store_);
  EXPECT_EQ(FailedVictimBlocks(), kVictimBlocks);
  ExpectOthersIntact();
}

TEST_F(HostileStoreTest, FanoutDirectorySymlinkIsNotFollowed) {
  // objects/XX moved elsewhere and replaced by a symlink to it: the bytes
  // are right, but reaching them means following a link out of the store.
  const std::filesystem::path fanout =
      std::filesystem::path(object_).parent_path();
  const std::string moved = tmp_ / "elsewhere";
  ASSERT_NE(std::filesystem::path(ObjectPathFor(store_, src_ + "/other.bin"))
                .parent_path(),
            fanout)
      << "precondition: other.bin lives in another fan-out directory";
  std::filesystem::rename(fanout, moved);
  std::filesystem::create_directory_symlink(moved, fanout);
  MountStore(store_);
  std::vector<uint8_t> got;
  EXPECT_EQ(ReadBlock(mnt_ + "/victim.bin", 0, &got), EIO);
  EXPECT_EQ(ReadFile(mnt_ + "/other.bin"), ReadFile(src_ + "/other.bin"));
}

TEST_F(HostileStoreTest, StorePathThroughSymlinkChainWorks) {
  const std::string link1 = tmp_ / "link1";
  const std::string link2 = tmp_ / "link2";
  ASSERT_EQ(symlink(store_.c_str(), link2.c_str()), 0);
  ASSERT_EQ(symlink(link2.c_str(), link1.c_str()), 0);
  MountStore(link1);
  EXPECT_EQ(FailedVictimBlocks(), 0u);
  ExpectOthersIntact();
}

}  // namespace
}  // namespace sealfs::testing
