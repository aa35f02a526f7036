// SPDX-License-Identifier: Apache-2.0
// Tests for StoreWriter (fs/core/store_writer.cc): round trips, dedupe,
// digest checks, batches, discarding uncommitted work, concurrent builders.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "fs/core/store_io.h"
#include "sealfs/digest.h"
#include "sealfs/store.h"
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

// Every file in the store whose name starts with the temp prefix.
std::vector<std::string> TempFiles(const std::string& store) {
  std::vector<std::string> out;
  for (const auto& e :
       std::filesystem::recursive_directory_iterator(store)) {
    if (e.path().filename().string().starts_with(kTempPrefix)) {
      out.push_back(e.path().string());
    }
  }
  return out;
}

// Names of all objects (regular files under objects/XX/).
std::set<std::string> ObjectNames(const std::string& store) {
  std::set<std::string> out;
  for (const auto& e :
       std::filesystem::recursive_directory_iterator(store + "/objects")) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && !name.starts_with(kTempPrefix)) {
      out.insert(name);
    }
  }
  return out;
}

std::string ObjectFile(const std::string& store, const Digest& d) {
  return store + "/" + Store::ObjectPath(d);
}
std::string TreeFile(const std::string& store, const Digest& d) {
  return store + "/" + Store::TreePath(d);
}

ino_t Inode(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

// Content and tree of `d` in the store match `data`, and the content
// re-hashes to the digest.
void ExpectStored(const std::string& store, const std::vector<uint8_t>& data) {
  MerkleTree tree = ComputeMerkleTree(data);
  const std::string object = ObjectFile(store, tree.digest);
  ASSERT_TRUE(std::filesystem::exists(object)) << object;
  std::vector<uint8_t> content = testing::ReadFile(object);
  EXPECT_EQ(ComputeMerkleTree(content).digest, tree.digest);
  EXPECT_EQ(content, data);
  struct stat st;
  ASSERT_EQ(::lstat(object.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  if (data.size() > kBlockSize) {
    EXPECT_EQ(testing::ReadFile(TreeFile(store, tree.digest)), tree.tree);
  } else {
    EXPECT_FALSE(std::filesystem::exists(TreeFile(store, tree.digest)));
  }
}

const std::vector<size_t> kSizes = {0,    1,    4095, 4096,
                                    4097, 8192, 129 * 4096 + 3, (3 << 20) + 5};

TEST(StoreWriter, AddFromBytesRoundTrip) {
  TempDir dir;
  const std::string path = dir / "s";
  StoreWriter writer(MustOpen(path, Store::Mode::kCreate));
  uint64_t total = 0;
  for (size_t i = 0; i < kSizes.size(); ++i) {
    std::vector<uint8_t> data = RandomBytes(kSizes[i], i);
    Status s = writer.AddFromBytes(data, ComputeMerkleTree(data));
    ASSERT_TRUE(s.ok()) << s.ToString();
    total += kSizes[i];
  }
  ASSERT_TRUE(writer.Commit().ok());
  EXPECT_EQ(writer.objects_written(), kSizes.size());
  EXPECT_EQ(writer.bytes_written(), total);
  for (size_t i = 0; i < kSizes.size(); ++i) {
    ExpectStored(path, RandomBytes(kSizes[i], i));
  }
  EXPECT_TRUE(TempFiles(path).empty());
}

TEST(StoreWriter, AddFromFdRoundTrip) {
  TempDir dir;
  const std::string path = dir / "s";
  StoreWriter writer(MustOpen(path, Store::Mode::kCreate));
  for (size_t i = 0; i < kSizes.size(); ++i) {
    std::vector<uint8_t> data = RandomBytes(kSizes[i], 100 + i);
    const std::string src = dir / ("src" + std::to_string(i));
    testing::WriteFile(src, data);
    UniqueFd fd(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    Status s = writer.AddFromFd(fd.get(), ComputeMerkleTree(data));
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  ASSERT_TRUE(writer.Commit().ok());
  EXPECT_EQ(writer.objects_written(), kSizes.size());
  for (size_t i = 0; i < kSizes.size(); ++i) {
    ExpectStored(path, RandomBytes(kSizes[i], 100 + i));
  }
  EXPECT_TRUE(TempFiles(path).empty());
}

TEST(StoreWriter, ExistingObjectIsNotRewritten) {
  TempDir dir;
  const std::string path = dir / "s";
  std::vector<uint8_t> data = RandomBytes(50000, 1);
  MerkleTree tree = ComputeMerkleTree(data);
  {
    StoreWriter writer(MustOpen(path, Store::Mode::kCreate));
    ASSERT_TRUE(writer.AddFromBytes(data, tree).ok());
    ASSERT_TRUE(writer.Commit().ok());
    EXPECT_EQ(writer.objects_written(), 1u);
  }
  const ino_t object_ino = Inode(ObjectFile(path, tree.digest));
  const ino_t tree_ino = Inode(TreeFile(path, tree.digest));
  StoreWriter writer(MustOpen(path, Store::Mode::kReadWrite));
  ASSERT_TRUE(writer.AddFromBytes(data, tree).ok());
  ASSERT_TRUE(writer.Commit().ok());
  EXPECT_EQ(writer.objects_written(), 0u);
  EXPECT_EQ(writer.bytes_written(), 0u);
  EXPECT_EQ(Inode(ObjectFile(path, tree.digest)), object_ino);
  EXPECT_EQ(Inode(TreeFile(path, tree.digest)), tree_ino);
}

TEST(StoreWriter, SameContentTwiceInOneBatchIsWrittenOnce) {
  TempDir dir;
  const std::string path = dir / "s";
  std::vector<uint8_t> data = RandomBytes(9000, 2);
  MerkleTree tree = ComputeMerkleTree(data);
  StoreWriter writer(MustOpen(path, Store::Mode::kCreate));
  ASSERT_TRUE(writer.AddFromBytes(data, tree).ok());
  ASSERT_TRUE(writer.AddFromBytes(data, tree).ok());
  ASSERT_TRUE(writer.Commit().ok());
  EXPECT_EQ(writer.objects_written(), 1u);
  ExpectStored(path, data);
}

TEST(StoreWriter, MissingTreeOfExistingObjectIsWritten) {
  TempDir dir;
  const std::string path = dir / "s";
  std::vector<uint8_t> data = RandomBytes(20000, 3);
  MerkleTree tree = ComputeMerkleTree(data);
  {
    StoreWriter writer(MustOpen(path, Store::Mode::kCreate));
    ASSERT_TRUE(writer.AddFromBytes(data, tree).ok());
    ASSERT_TRUE(writer.Commit().ok());
  }
  const ino_t object_ino = Inode(ObjectFile(path, tree.digest));
  ASSERT_EQ(::unlink(TreeFile(path, tree.digest).c_str()), 0);
  StoreWriter writer(MustOpen(path, Store::Mode::kReadWrite));
  ASSERT_TRUE(writer.AddFromBytes(data, tree).ok());
  ASSERT_TRUE(writer.Commit().ok());
  EXPECT_EQ(writer.objects_written(), 0u);
  EXPECT_EQ(Inode(ObjectFile(path, tree.digest)), object_ino);
  ExpectStored(path, data);
}

TEST(StoreWriter, BadTreeForExistingObjectIsRefused) {
  TempDir dir;
  const std::string path = dir / "s";
  // Two tree levels: a top block and two leaf-level blocks.
  std::vector<uint8_t> data = RandomBytes(129 * kBlockSize + 5, 4);
  MerkleTree tree = ComputeMerkleTree(data);
  ASSERT_EQ(tree.tree.size(), 3u * kBlockSize);
  {
    StoreWriter writer(MustOpen(path, Store::Mode::kCreate));
    ASSERT_TRUE(writer.AddFromBytes(data, tree).ok());
    ASSERT_TRUE(writer.Commit().ok());
  }
  ASSERT_EQ(::unlink(TreeFile(path, tree.digest).c_str()), 0);
  MerkleTree bad = tree;
  bad.tree[kBlockSize + 10] ^= 1;  // a leaf-level block
  StoreWriter writer(MustOpen(path, Store::Mode::kReadWrite));
  EXPECT_EQ(writer.AddFromBytes(data, bad).err(), kErrDigest);
  bad.tree.pop_back();
  EXPECT_EQ(writer.AddFromBytes(data, bad).err(), EINVAL);
  ASSERT_TRUE(writer.Commit().ok());
  EXPECT_FALSE(std::filesystem::exists(TreeFile(path, tree.digest)));
}

TEST(StoreWriter, WrongExpectedDigestIsRefusedAndInvisible) {
  TempDir dir;
  const std::string path = dir / "s";
  std::vector<uint8_t> data = RandomBytes(10000, 5);
  std::vector<uint8_t> other = RandomBytes(10000, 6);
  MerkleTree other_tree = ComputeMerkleTree(other);
  const std::string src = dir / "src";
  testing::WriteFile(src, data);
  UniqueFd fd(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());

  StoreWriter writer(MustOpen(path, Store::Mode::kCreate));
  Status s = writer.AddFromBytes(data, other_tree);
  EXPECT_EQ(s.err(), kErrDigest);
  EXPECT_NE(s.context().find("do not match"), std::string::npos)
      << s.context();
  EXPECT_EQ(writer.AddFromFd(fd.get(), other_tree).err(), kErrDigest);
  ASSERT_TRUE(writer.Commit().ok());
  EXPECT_EQ(writer.objects_written(), 0u);
  EXPECT_TRUE(ObjectNames(path).empty());
  EXPECT_TRUE(TempFiles(path).empty());
}

TEST(StoreWriter, SourceChangedWhileReadingIsRefused) {
  TempDir dir;
  const std::string path = dir / "s";
  std::vector<uint8_t> data = RandomBytes(3 * kBlockSize, 7);
  MerkleTree tree = ComputeMerkleTree(data);
  const std::string src = dir / "src";
  // Same size, one byte changed after hashing; then a shorter file.
  std::vector<uint8_t> changed = data;
  changed[100] ^= 0xff;
  testing::WriteFile(src, changed);
  StoreWriter writer(MustOpen(path, Store::Mode::kCreate));
  {
    UniqueFd fd(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_EQ(writer.AddFromFd(fd.get(), tree).err(), kErrDigest);
  }
  testing::WriteFile(src, std::vector<uint8_t>(data.begin(), data.end() - 1));
  {
    UniqueFd fd(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_EQ(writer.AddFromFd(fd.get(), tree).err(), kErrDigest);
  }
  ASSERT_TRUE(writer.Commit().ok());
  EXPECT_TRUE(ObjectNames(path).empty());
  EXPECT_TRUE(TempFiles(path).empty());
}

// Something other than the right object already sits at its name.
class StoreWriterBadNameTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MustOpen(path_, Store::Mode::kCreate);
    ASSERT_EQ(::mkdir((path_ + "/objects/" + tree_.digest.Hex().substr(0, 2))
                          .c_str(),
                      0755),
              0);
  }
  void ExpectCorrupt() {
    StoreWriter writer(MustOpen(path_, Store::Mode::kReadWrite));
    Status s = writer.AddFromBytes(data_, tree_);
    EXPECT_EQ(s.err(), kErrCorrupt) << s.ToString();
    EXPECT_NE(s.context().find(tree_.digest.Hex().substr(2)),
              std::string::npos)
        << s.context();
  }
  std::string Name() const { return ObjectFile(path_, tree_.digest); }

  TempDir dir_;
  std::string path_ = dir_ / "s";
  std::vector<uint8_t> data_ = RandomBytes(6000, 8);
  MerkleTree tree_ = ComputeMerkleTree(data_);
};

TEST_F(StoreWriterBadNameTest, Symlink) {
  testing::WriteFile(dir_ / "outside", data_);
  ASSERT_EQ(::symlink((dir_ / "outside").c_str(), Name().c_str()), 0);
  ExpectCorrupt();
}

TEST_F(StoreWriterBadNameTest, Directory) {
  ASSERT_EQ(::mkdir(Name().c_str(), 0755), 0);
  ExpectCorrupt();
}

TEST_F(StoreWriterBadNameTest, FifoWithoutBlocking) {
  ASSERT_EQ(::mkfifo(Name().c_str(), 0644), 0);
  ExpectCorrupt();
}

TEST_F(StoreWriterBadNameTest, WrongSize) {
  testing::WriteFile(Name(), std::vector<uint8_t>(data_.begin(),
                                                  data_.end() - 1));
  ExpectCorrupt();
}

TEST(StoreWriter, UncommittedWriterLeavesNothing) {
  TempDir dir;
  const std::string path = dir / "s";
  {
    StoreWriter writer(MustOpen(path, Store::Mode::kCreate));
    for (size_t i = 0; i < 20; ++i) {
      std::vector<uint8_t> data = RandomBytes(1000 * i, 200 + i);
      ASSERT_TRUE(writer.AddFromBytes(data, ComputeMerkleTree(data)).ok());
    }
  }
  EXPECT_TRUE(ObjectNames(path).empty());
  EXPECT_TRUE(TempFiles(path).empty());
}

// A stream over `data` handing out at most `chunk` bytes per call.
StoreWriter::StreamReader StreamOf(const std::vector<uint8_t>& data,
                                   size_t chunk = 7777) {
  auto pos = std::make_shared<size_t>(0);
  return [&data, pos, chunk](std::span<uint8_t> buf) -> Result<size_t> {
    const size_t n = std::min({buf.size(), chunk, data.size() - *pos});
    std::copy_n(data.begin() + static_cast<ptrdiff_t>(*pos), n, buf.begin());
    *pos += n;
    return n;
  };
}

TEST(StoreWriterStream, RoundTripWithAndWithoutExpectedDigest) {
  TempDir dir;
  const std::string path = dir / "s";
  StoreWriter writer(MustOpen(path, Store::Mode::kCreate));
  for (size_t i = 0; i < kSizes.size(); ++i) {
    std::vector<uint8_t> data = RandomBytes(kSizes[i], 500 + i);
    const Digest want = ComputeMerkleTree(data).digest;
    Result<Digest> got = writer.AddFromStream(data.size(), StreamOf(data),
                                              i % 2 ? &want : nullptr);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, want);
  }
  EXPECT_TRUE(ObjectNames(path).empty()) << "visible before Commit";
  ASSERT_TRUE(writer.Commit().ok());
  EXPECT_EQ(writer.objects_written(), kSizes.size());
  for (size_t i = 0; i < kSizes.size(); ++i) {
    ExpectStored(path, RandomBytes(kSizes[i], 500 + i));
  }
  EXPECT_TRUE(TempFiles(path).empty());
}

TEST(StoreWriterStream, WrongExpectedDigestIsRefusedAndInvisible) {
  TempDir dir;
  const std::string path = dir / "s";
  StoreWriter writer(MustOpen(path, Store::Mode::kCreate));
  std::vector<uint8_t> data = RandomBytes(3 * kBlockSize + 11, 600);
  std::vector<uint8_t> other = data;
  other[kBlockSize + 1] ^= 1;
  const Digest want = ComputeMerkleTree(other).digest;
  Result<Digest> got = writer.AddFromStream(data.size(), StreamOf(data), &want);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().err(), kErrDigest);
  ASSERT_TRUE(writer.Commit().ok());
  EXPECT_TRUE(ObjectNames(path).empty());
  EXPECT_FALSE(std::filesystem::exists(TreeFile(path, want)));
  EXPECT_TRUE(TempFiles(path).empty());
}

TEST(StoreWriterStream, ShortStreamIsCorrupt) {
  TempDir dir;
  const std::string path = dir / "s";
  StoreWriter writer(MustOpen(path, Store::Mode::kCreate));
  std::vector<uint8_t> data = RandomBytes(10000, 601);
  Result<Digest> got = writer.AddFromStream(data.size() + 1, StreamOf(data));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().err(), kErrCorrupt);
  ASSERT_TRUE(writer.Commit().ok());
  EXPECT_TRUE(ObjectNames(path).empty());
}

TEST(StoreWriterStream, ReaderErrorIsReturned) {
  TempDir dir;
  StoreWriter writer(MustOpen(dir / "s", Store::Mode::kCreate));
  Result<Digest> got = writer.AddFromStream(
      100, [](std::span<uint8_t>) -> Result<size_t> {
        return Status::FromErrno(ETIMEDOUT, "remote stalled");
      });
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().err(), ETIMEDOUT);
}

TEST(StoreWriterStream, PresentObjectIsNotRewrittenButMissingTreeIs) {
  TempDir dir;
  const std::string path = dir / "s";
  std::vector<uint8_t> data = RandomBytes(5 * kBlockSize, 602);
  const MerkleTree tree = ComputeMerkleTree(data);
  {
    StoreWriter first(MustOpen(path, Store::Mode::kCreate));
    ASSERT_TRUE(first.AddFromBytes(data, tree).ok());
    ASSERT_TRUE(first.Commit().ok());
  }
  const ino_t before = Inode(ObjectFile(path, tree.digest));
  ASSERT_EQ(::unlink(TreeFile(path, tree.digest).c_str()), 0);
  StoreWriter second(MustOpen(path, Store::Mode::kReadWrite));
  ASSERT_TRUE(second.AddFromStream(data.size(), StreamOf(data)).ok());
  ASSERT_TRUE(second.Commit().ok());
  EXPECT_EQ(second.objects_written(), 0u);
  EXPECT_EQ(Inode(ObjectFile(path, tree.digest)), before);
  ExpectStored(path, data);
  EXPECT_TRUE(TempFiles(path).empty());
}

// The fallback for filesystems without O_TMPFILE: named temps, link, unlink.
class StoreWriterNamedTempTest : public ::testing::Test {
 protected:
  void SetUp() override { SetTmpfileDisabledForTesting(true); }
  void TearDown() override { SetTmpfileDisabledForTesting(false); }
};

TEST_F(StoreWriterNamedTempTest, CommitLinksAndRemovesTemps) {
  TempDir dir;
  const std::string path = dir / "s";
  StoreWriter writer(MustOpen(path, Store::Mode::kCreate));
  for (size_t i = 0; i < kSizes.size(); ++i) {
    std::vector<uint8_t> data = RandomBytes(kSizes[i], 300 + i);
    ASSERT_TRUE(writer.AddFromBytes(data, ComputeMerkleTree(data)).ok());
  }
  // Before the commit, only temp files exist.
  EXPECT_TRUE(ObjectNames(path).empty());
  EXPECT_FALSE(TempFiles(path).empty());
  ASSERT_TRUE(writer.Commit().ok());
  for (size_t i = 0; i < kSizes.size(); ++i) {
    ExpectStored(path, RandomBytes(kSizes[i], 300 + i));
  }
  EXPECT_TRUE(TempFiles(path).empty());
}

TEST_F(StoreWriterNamedTempTest, UncommittedWriterRemovesTemps) {
  TempDir dir;
  const std::string path = dir / "s";
  {
    StoreWriter writer(MustOpen(path, Store::Mode::kCreate));
    for (size_t i = 0; i < 5; ++i) {
      std::vector<uint8_t> data = RandomBytes(5000 * i, 400 + i);
      ASSERT_TRUE(writer.AddFromBytes(data, ComputeMerkleTree(data)).ok());
    }
    EXPECT_FALSE(TempFiles(path).empty());
  }
  EXPECT_TRUE(ObjectNames(path).empty());
  EXPECT_TRUE(TempFiles(path).empty());
}

TEST_F(StoreWriterNamedTempTest, StreamLinksAcrossDirectories) {
  TempDir dir;
  const std::string path = dir / "s";
  StoreWriter writer(MustOpen(path, Store::Mode::kCreate));
  std::vector<uint8_t> data = RandomBytes(9 * kBlockSize + 1, 603);
  ASSERT_TRUE(writer.AddFromStream(data.size(), StreamOf(data)).ok());
  EXPECT_FALSE(TempFiles(path).empty());
  ASSERT_TRUE(writer.Commit().ok());
  ExpectStored(path, data);
  EXPECT_TRUE(TempFiles(path).empty());
}

TEST(StoreWriter, ManyObjectsAcrossBatches) {
  // More objects than one batch holds descriptors for, from several threads
  // with overlapping content. A writer sizes its batches from RLIMIT_NOFILE
  // when it is made; a low limit makes this one flush every few dozen files.
  TempDir dir;
  const std::string path = dir / "s";
  constexpr size_t kObjects = 800;
  struct rlimit saved;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  struct rlimit low = saved;
  low.rlim_cur = std::min<rlim_t>(saved.rlim_cur, 768);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  StoreWriter writer(MustOpen(path, Store::Mode::kCreate));
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = static_cast<size_t>(t) * kObjects / 4;
           i < static_cast<size_t>(t + 2) * kObjects / 4; ++i) {
        std::vector<uint8_t> data = RandomBytes(1 + (i * 37) % 12000, i);
        if (!writer.AddFromBytes(data, ComputeMerkleTree(data)).ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  // Full batches were flushed (synced and linked) before the commit.
  EXPECT_GT(ObjectNames(path).size(), 0u);
  ASSERT_TRUE(writer.Commit().ok());
  EXPECT_EQ(writer.objects_written(), kObjects);
  EXPECT_EQ(ObjectNames(path).size(), kObjects);
  for (size_t i = 0; i < kObjects; i += 7) {
    ExpectStored(path, RandomBytes(1 + (i * 37) % 12000, i));
  }
  EXPECT_TRUE(TempFiles(path).empty());
}

TEST(StoreWriter, TwoProcessesIntoOneFreshStore) {
  TempDir dir;
  const std::string path = dir / "s";
  constexpr size_t kObjects = 300;
  // Process p adds objects [p * 100, p * 100 + 200): 100 of them overlap.
  auto object = [](size_t i) { return RandomBytes(1 + (i * 331) % 20000, i); };
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  std::vector<pid_t> children;
  for (size_t p = 0; p < 2; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Both children start adding together, once the parent says so.
      char go;
      ::close(ready[1]);
      if (::read(ready[0], &go, 1) != 0) ::_exit(3);
      Result<std::shared_ptr<Store>> store =
          Store::Open(path, Store::Mode::kCreate);
      if (!store.ok()) ::_exit(1);
      StoreWriter writer(*store);
      for (size_t i = p * 100; i < p * 100 + 200; ++i) {
        std::vector<uint8_t> data = object(i);
        if (!writer.AddFromBytes(data, ComputeMerkleTree(data)).ok()) {
          ::_exit(2);
        }
      }
      ::_exit(writer.Commit().ok() ? 0 : 2);
    }
    children.push_back(pid);
  }
  ::close(ready[0]);
  ::close(ready[1]);  // EOF releases both children at once
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  EXPECT_EQ(ObjectNames(path).size(), kObjects);
  for (size_t i = 0; i < kObjects; ++i) ExpectStored(path, object(i));
  EXPECT_TRUE(TempFiles(path).empty());
}

}  // namespace
}  // namespace sealfs
