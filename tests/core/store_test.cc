// SPDX-License-Identifier: Apache-2.0
// Tests for Store (fs/core/store.cc): opening a store, objects and trees,
// refusing what is not a regular file, and rebuilding missing trees.
#include "sealfs/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fs/core/store_io.h"
#include "sealfs/digest.h"
#include "tests/test_util.h"

namespace sealfs {
namespace {

using testing::RandomBytes;
using testing::TempDir;

std::shared_ptr<Store> MustOpen(const std::string& path, Store::Mode mode) {
  Result<std::shared_ptr<Store>> store = Store::Open(path, mode);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? *store : nullptr;
}

// Adds `data` to the store at `path` and commits; returns its tree.
MerkleTree Put(const std::string& path, const std::vector<uint8_t>& data) {
  MerkleTree tree = ComputeMerkleTree(data);
  StoreWriter writer(MustOpen(path, Store::Mode::kReadWrite));
  EXPECT_TRUE(writer.AddFromBytes(data, tree).ok());
  EXPECT_TRUE(writer.Commit().ok());
  return tree;
}

std::vector<uint8_t> ReadAll(int fd) {
  struct stat st;
  EXPECT_EQ(::fstat(fd, &st), 0);
  std::vector<uint8_t> out(static_cast<size_t>(st.st_size));
  EXPECT_EQ(::pread(fd, out.data(), out.size(), 0),
            static_cast<ssize_t>(out.size()));
  return out;
}

// Every block of `data` passes a BlockVerifier reading the store's tree.
void ExpectVerifies(const Store& store, const MerkleTree& tree,
                    const std::vector<uint8_t>& data) {
  Result<UniqueFd> fd = store.OpenObject(tree.digest);
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  Result<TreeBlockReader> reader =
      store.OpenTree(tree.digest, tree.data_size, fd->get());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  BlockVerifier verifier(tree.digest, tree.data_size, *reader);
  for (uint64_t i = 0; i * kBlockSize < data.size(); ++i) {
    const size_t len = std::min<size_t>(kBlockSize, data.size() - i * kBlockSize);
    Status s = verifier.VerifyBlock(
        i, std::span<const uint8_t>(data).subspan(i * kBlockSize, len));
    ASSERT_TRUE(s.ok()) << "block " << i << ": " << s.ToString();
  }
}

TEST(Store, CreateMakesTheLayout) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->writable());
  for (const char* sub : {"s", "s/objects", "s/trees"}) {
    struct stat st;
    ASSERT_EQ(::lstat((dir / sub).c_str(), &st), 0) << sub;
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << sub;
    EXPECT_EQ(st.st_mode & 0777, 0755u) << sub;
  }
  // Opening an existing store with kCreate is fine.
  EXPECT_NE(MustOpen(dir / "s", Store::Mode::kCreate), nullptr);
}

TEST(Store, OpenRefusesWhatIsNotAStore) {
  TempDir dir;
  testing::WriteFile(dir / "file", "x");
  Result<std::shared_ptr<Store>> r =
      Store::Open(dir / "file", Store::Mode::kReadOnly);
  EXPECT_EQ(r.status().err(), ENOTDIR);
  r = Store::Open(dir / "file", Store::Mode::kCreate);
  EXPECT_EQ(r.status().err(), ENOTDIR);
  r = Store::Open(dir / "missing", Store::Mode::kReadOnly);
  EXPECT_EQ(r.status().err(), ENOENT);
  // A directory without objects/ is not a store.
  ASSERT_EQ(::mkdir((dir / "empty").c_str(), 0755), 0);
  r = Store::Open(dir / "empty", Store::Mode::kReadWrite);
  EXPECT_EQ(r.status().err(), ENOENT);
  // objects/ as a symlink to a directory is refused: it could point anywhere.
  ASSERT_EQ(::mkdir((dir / "linked").c_str(), 0755), 0);
  ASSERT_EQ(::symlink((dir / "empty").c_str(), (dir / "linked/objects").c_str()),
            0);
  r = Store::Open(dir / "linked", Store::Mode::kReadOnly);
  EXPECT_EQ(r.status().err(), ENOTDIR);
}

TEST(Store, ReadOnlyStoreWithoutTreesDirOpens) {
  TempDir dir;
  ASSERT_EQ(::mkdir((dir / "s").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dir / "s/objects").c_str(), 0755), 0);
  auto store = MustOpen(dir / "s", Store::Mode::kReadOnly);
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(store->writable());
}

TEST(Store, PathsAreFannedOut) {
  Result<Digest> d = Digest::Parse(
      "ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(Store::ObjectPath(*d),
            "objects/ab/"
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd");
  EXPECT_EQ(Store::TreePath(*d),
            "trees/ab/"
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd");
}

TEST(Store, OpenObjectReturnsContent) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  std::vector<uint8_t> data = RandomBytes(10000, 1);
  MerkleTree tree = Put(dir / "s", data);
  EXPECT_TRUE(store->HasObject(tree.digest));
  Result<UniqueFd> fd = store->OpenObject(tree.digest);
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  EXPECT_EQ(ReadAll(fd->get()), data);
  ExpectVerifies(*store, tree, data);
}

TEST(Store, MissingObjectIsEnoent) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  MerkleTree tree = ComputeMerkleTree(RandomBytes(10, 2));
  EXPECT_FALSE(store->HasObject(tree.digest));
  EXPECT_EQ(store->OpenObject(tree.digest).status().err(), ENOENT);
}

// Places something other than a regular file at the object's name.
class StoreBadObjectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = MustOpen(dir_ / "s", Store::Mode::kCreate);
    tree_ = ComputeMerkleTree(data_);
    ASSERT_EQ(::mkdir((dir_ / "s/objects/" + tree_.digest.Hex().substr(0, 2))
                          .c_str(),
                      0755),
              0);
    testing::WriteFile(dir_ / "outside", data_);
  }
  std::string ObjectFile() const {
    return dir_ / "s/" + Store::ObjectPath(tree_.digest);
  }
  void ExpectCorrupt() {
    EXPECT_FALSE(store_->HasObject(tree_.digest));
    Result<UniqueFd> fd = store_->OpenObject(tree_.digest);
    EXPECT_EQ(fd.status().err(), kErrCorrupt);
    EXPECT_NE(fd.status().context().find(tree_.digest.Hex().substr(2)),
              std::string::npos)
        << fd.status().context();
  }

  TempDir dir_;
  std::shared_ptr<Store> store_;
  std::vector<uint8_t> data_ = RandomBytes(100, 3);
  MerkleTree tree_;
};

TEST_F(StoreBadObjectTest, SymlinkIsCorrupt) {
  ASSERT_EQ(::symlink((dir_ / "outside").c_str(), ObjectFile().c_str()), 0);
  ExpectCorrupt();
}

TEST_F(StoreBadObjectTest, DirectoryIsCorrupt) {
  ASSERT_EQ(::mkdir(ObjectFile().c_str(), 0755), 0);
  ExpectCorrupt();
}

TEST_F(StoreBadObjectTest, FifoIsCorruptWithoutBlocking) {
  ASSERT_EQ(::mkfifo(ObjectFile().c_str(), 0644), 0);
  ExpectCorrupt();
}

TEST_F(StoreBadObjectTest, DeviceIsCorrupt) {
  // /dev/null's device numbers; mknod needs CAP_MKNOD.
  if (::mknod(ObjectFile().c_str(), S_IFCHR | 0644, makedev(1, 3)) != 0) {
    GTEST_SKIP() << "mknod: " << std::strerror(errno);
  }
  ExpectCorrupt();
}

TEST_F(StoreBadObjectTest, SymlinkedFanoutIsNeverFollowed) {
  // objects/XX -> a directory outside the store that holds the right bytes.
  const std::string fanout =
      dir_ / "s/objects/" + tree_.digest.Hex().substr(0, 2);
  ASSERT_EQ(::rmdir(fanout.c_str()), 0);
  testing::WriteFile(dir_ / "elsewhere/" + tree_.digest.Hex().substr(2), data_);
  ASSERT_EQ(::symlink((dir_ / "elsewhere").c_str(), fanout.c_str()), 0);
  ExpectCorrupt();
}

// The same refusals on kernels without openat2 (component walk).
class StoreWalkTest : public StoreBadObjectTest {
 protected:
  void SetUp() override {
    StoreBadObjectTest::SetUp();
    SetOpenat2DisabledForTesting(true);
  }
  void TearDown() override { SetOpenat2DisabledForTesting(false); }
};

TEST_F(StoreWalkTest, RegularObjectOpens) {
  testing::WriteFile(ObjectFile(), data_);
  EXPECT_TRUE(store_->HasObject(tree_.digest));
  Result<UniqueFd> fd = store_->OpenObject(tree_.digest);
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  EXPECT_EQ(ReadAll(fd->get()), data_);
}

TEST_F(StoreWalkTest, SymlinkIsCorrupt) {
  ASSERT_EQ(::symlink((dir_ / "outside").c_str(), ObjectFile().c_str()), 0);
  ExpectCorrupt();
}

TEST_F(StoreWalkTest, FifoIsCorruptWithoutBlocking) {
  ASSERT_EQ(::mkfifo(ObjectFile().c_str(), 0644), 0);
  ExpectCorrupt();
}

TEST_F(StoreWalkTest, SymlinkedFanoutIsNeverFollowed) {
  const std::string fanout =
      dir_ / "s/objects/" + tree_.digest.Hex().substr(0, 2);
  ASSERT_EQ(::rmdir(fanout.c_str()), 0);
  testing::WriteFile(dir_ / "elsewhere/" + tree_.digest.Hex().substr(2), data_);
  ASSERT_EQ(::symlink((dir_ / "elsewhere").c_str(), fanout.c_str()), 0);
  ExpectCorrupt();
}

TEST(Store, StorePathMayBeASymlink) {
  TempDir dir;
  MustOpen(dir / "real", Store::Mode::kCreate);
  std::vector<uint8_t> data = RandomBytes(5000, 4);
  MerkleTree tree = Put(dir / "real", data);
  ASSERT_EQ(::symlink((dir / "real").c_str(), (dir / "link").c_str()), 0);
  auto store = MustOpen(dir / "link", Store::Mode::kReadOnly);
  ASSERT_NE(store, nullptr);
  ExpectVerifies(*store, tree, data);
}

TEST(Store, SmallObjectHasNoTree) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  std::vector<uint8_t> data = RandomBytes(kBlockSize, 5);
  MerkleTree tree = Put(dir / "s", data);
  EXPECT_FALSE(std::filesystem::exists(dir / "s/" + Store::TreePath(tree.digest)));
  ExpectVerifies(*store, tree, data);
  // Still no tree file: nothing was rebuilt or stored.
  EXPECT_FALSE(std::filesystem::exists(dir / "s/" + Store::TreePath(tree.digest)));
}

TEST(Store, MissingTreeIsRebuiltCheckedAndStored) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  std::vector<uint8_t> data = RandomBytes(200 * kBlockSize + 7, 6);
  MerkleTree tree = Put(dir / "s", data);
  const std::string tree_file = dir / "s/" + Store::TreePath(tree.digest);
  ASSERT_EQ(testing::ReadFile(tree_file), tree.tree);
  ASSERT_EQ(::unlink(tree_file.c_str()), 0);

  ExpectVerifies(*store, tree, data);
  EXPECT_EQ(testing::ReadFile(tree_file), tree.tree);
  struct stat st;
  ASSERT_EQ(::stat(tree_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
}

TEST(Store, MissingTreeInReadOnlyStoreIsServedFromMemory) {
  TempDir dir;
  MustOpen(dir / "s", Store::Mode::kCreate);
  std::vector<uint8_t> data = RandomBytes(3 * kBlockSize, 7);
  MerkleTree tree = Put(dir / "s", data);
  const std::string tree_file = dir / "s/" + Store::TreePath(tree.digest);
  ASSERT_EQ(::unlink(tree_file.c_str()), 0);

  auto store = MustOpen(dir / "s", Store::Mode::kReadOnly);
  ExpectVerifies(*store, tree, data);
  EXPECT_FALSE(std::filesystem::exists(tree_file));
}

TEST(Store, CorruptObjectWithMissingTreeIsDigestError) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  std::vector<uint8_t> data = RandomBytes(3 * kBlockSize, 8);
  MerkleTree tree = Put(dir / "s", data);
  const std::string object_file = dir / "s/" + Store::ObjectPath(tree.digest);
  ASSERT_EQ(::unlink((dir / "s/" + Store::TreePath(tree.digest)).c_str()), 0);
  data[5000] ^= 1;
  ASSERT_EQ(::chmod(object_file.c_str(), 0644), 0);
  testing::WriteFile(object_file, data);

  Result<UniqueFd> fd = store->OpenObject(tree.digest);
  ASSERT_TRUE(fd.ok());
  Result<TreeBlockReader> reader =
      store->OpenTree(tree.digest, tree.data_size, fd->get());
  EXPECT_EQ(reader.status().err(), kErrDigest);
  // The bad tree was not stored.
  EXPECT_FALSE(
      std::filesystem::exists(dir / "s/" + Store::TreePath(tree.digest)));
}

TEST(Store, TreeReaderReadsRunsOfBlocksWithinTheTree) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  // 300 data blocks: a top block and three leaves.
  std::vector<uint8_t> data = RandomBytes(300 * kBlockSize, 12);
  MerkleTree tree = Put(dir / "s", data);
  ASSERT_EQ(tree.tree.size(), 4 * kBlockSize);
  Result<UniqueFd> fd = store->OpenObject(tree.digest);
  ASSERT_TRUE(fd.ok());
  Result<TreeBlockReader> reader =
      store->OpenTree(tree.digest, tree.data_size, fd->get());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<uint8_t> out(3 * kBlockSize);
  ASSERT_TRUE((*reader)(1, out).ok());
  EXPECT_TRUE(
      std::equal(out.begin(), out.end(), tree.tree.begin() + kBlockSize));
  // Past the end, empty, or not whole blocks: refused.
  const std::span<uint8_t> one = std::span<uint8_t>(out).first(kBlockSize);
  EXPECT_EQ((*reader)(2, out).err(), EINVAL);
  EXPECT_EQ((*reader)(4, one).err(), EINVAL);
  EXPECT_EQ((*reader)(~uint64_t{0}, one).err(), EINVAL);
  EXPECT_EQ((*reader)(0, std::span<uint8_t>()).err(), EINVAL);
  EXPECT_EQ((*reader)(0, std::span<uint8_t>(out).first(kBlockSize + 1)).err(),
            EINVAL);
}

TEST(Store, TreeOfWrongSizeIsCorrupt) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  std::vector<uint8_t> data = RandomBytes(3 * kBlockSize, 9);
  MerkleTree tree = Put(dir / "s", data);
  const std::string tree_file = dir / "s/" + Store::TreePath(tree.digest);
  ASSERT_EQ(::chmod(tree_file.c_str(), 0644), 0);
  std::vector<uint8_t> longer = tree.tree;
  longer.resize(longer.size() + kBlockSize);
  testing::WriteFile(tree_file, longer);

  Result<UniqueFd> fd = store->OpenObject(tree.digest);
  ASSERT_TRUE(fd.ok());
  Result<TreeBlockReader> reader =
      store->OpenTree(tree.digest, tree.data_size, fd->get());
  EXPECT_EQ(reader.status().err(), kErrCorrupt);
  EXPECT_NE(reader.status().context().find("size"), std::string::npos);
}

TEST(Store, TreeThatIsNotARegularFileIsCorrupt) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  std::vector<uint8_t> data = RandomBytes(3 * kBlockSize, 10);
  MerkleTree tree = Put(dir / "s", data);
  const std::string tree_file = dir / "s/" + Store::TreePath(tree.digest);
  testing::WriteFile(dir / "outside", tree.tree);
  ASSERT_EQ(::unlink(tree_file.c_str()), 0);
  ASSERT_EQ(::symlink((dir / "outside").c_str(), tree_file.c_str()), 0);
  Result<UniqueFd> fd = store->OpenObject(tree.digest);
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(store->OpenTree(tree.digest, tree.data_size, fd->get())
                .status()
                .err(),
            kErrCorrupt);

  ASSERT_EQ(::unlink(tree_file.c_str()), 0);
  ASSERT_EQ(::mkfifo(tree_file.c_str(), 0644), 0);
  EXPECT_EQ(store->OpenTree(tree.digest, tree.data_size, fd->get())
                .status()
                .err(),
            kErrCorrupt);
}

TEST(Store, TreeTruncatedAfterOpenFailsTheRead) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  std::vector<uint8_t> data = RandomBytes(300 * kBlockSize, 11);
  MerkleTree tree = Put(dir / "s", data);
  ASSERT_EQ(tree.tree.size(), 4u * kBlockSize);  // top + 3 leaf-level blocks
  Result<UniqueFd> fd = store->OpenObject(tree.digest);
  ASSERT_TRUE(fd.ok());
  Result<TreeBlockReader> reader =
      store->OpenTree(tree.digest, tree.data_size, fd->get());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_EQ(::truncate((dir / "s/" + Store::TreePath(tree.digest)).c_str(),
                       static_cast<off_t>(2 * kBlockSize)),
            0);

  std::vector<uint8_t> block(kBlockSize);
  EXPECT_TRUE((*reader)(1, block).ok());
  EXPECT_EQ((*reader)(3, block).err(), kErrCorrupt);
  EXPECT_EQ((*reader)(4, block).err(), EINVAL);  // past the tree

  // Through a verifier: block 0 is covered by tree block 1, block 299 by the
  // missing tree block 3.
  BlockVerifier verifier(tree.digest, tree.data_size, *reader);
  EXPECT_TRUE(verifier
                  .VerifyBlock(0, std::span<const uint8_t>(data).first(
                                      kBlockSize))
                  .ok());
  EXPECT_EQ(verifier
                .VerifyBlock(299, std::span<const uint8_t>(data).last(
                                      kBlockSize))
                .err(),
            kErrCorrupt);
}

}  // namespace
}  // namespace sealfs
