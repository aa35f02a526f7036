// SPDX-License-Identifier: Apache-2.0
// Tests for Prefetcher (fs/fuse/prefetch.cc): the descriptor it opened to
// warm an object is handed over once, to the read that asks for it; objects
// it cannot open are not handed over; and it keeps few descriptors, and
// none for long.
#include "fs/fuse/prefetch.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "sealfs/digest.h"
#include "sealfs/store.h"
#include "tests/test_util.h"

namespace sealfs::fuse {
namespace {

using testing::RandomBytes;
using testing::TempDir;

// Descriptors this process has open.
int OpenFds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n;
}

class PrefetcherTest : public ::testing::Test {
 protected:
  // Stores `count` distinct objects of `size` bytes; their trees in trees_.
  void Fill(int count, size_t size) {
    Result<std::shared_ptr<Store>> rw =
        Store::Open(dir_ / "store", Store::Mode::kCreate);
    ASSERT_TRUE(rw.ok()) << rw.status().ToString();
    StoreWriter writer(*rw);
    for (int i = 0; i < count; ++i) {
      const std::vector<uint8_t> data =
          RandomBytes(size, 100 + static_cast<uint32_t>(i));
      trees_.push_back(ComputeMerkleTree(data));
      ASSERT_TRUE(writer.AddFromBytes(data, trees_.back()).ok());
    }
    ASSERT_TRUE(writer.Commit().ok());
    Result<std::shared_ptr<Store>> ro =
        Store::Open(dir_ / "store", Store::Mode::kReadOnly);
    ASSERT_TRUE(ro.ok()) << ro.status().ToString();
    store_ = *ro;
  }

  // Takes `digest`'s descriptor, waiting up to 10 s for the threads.
  bool TakeWithin10s(Prefetcher& p, const Digest& digest, UniqueFd* fd,
                     struct stat* st) {
    for (int i = 0; i < 1000; ++i) {
      if (p.Take(digest, fd, st)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  TempDir dir_;
  std::shared_ptr<const Store> store_;
  std::vector<MerkleTree> trees_;
};

TEST_F(PrefetcherTest, HandsTheWarmedObjectOverOnce) {
  Fill(1, 3 * kBlockSize + 5);
  Prefetcher p(store_);
  p.Enqueue(trees_[0].digest, trees_[0].data_size);
  UniqueFd fd;
  struct stat st {};
  ASSERT_TRUE(TakeWithin10s(p, trees_[0].digest, &fd, &st));
  ASSERT_TRUE(fd.valid());
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), trees_[0].data_size);
  // The same file the store opens.
  Result<UniqueFd> direct = store_->OpenObject(trees_[0].digest);
  ASSERT_TRUE(direct.ok());
  struct stat want {};
  ASSERT_EQ(fstat(direct->get(), &want), 0);
  EXPECT_EQ(st.st_ino, want.st_ino);
  EXPECT_EQ(st.st_dev, want.st_dev);
  UniqueFd again;
  EXPECT_FALSE(p.Take(trees_[0].digest, &again, &st));
}

TEST_F(PrefetcherTest, HandsOverNothingForAMissingObjectOrOneNotQueued) {
  Fill(2, kBlockSize + 1);
  Prefetcher p(store_);
  Digest missing = trees_[1].digest;
  missing.bytes[0] ^= 1;
  p.Enqueue(missing, 100);
  p.Enqueue(trees_[0].digest, trees_[0].data_size);
  UniqueFd fd;
  struct stat st {};
  // A missing object leaves nothing to hand over; one never queued neither.
  ASSERT_TRUE(TakeWithin10s(p, trees_[0].digest, &fd, &st));
  EXPECT_FALSE(p.Take(missing, &fd, &st));
  EXPECT_FALSE(p.Take(trees_[1].digest, &fd, &st));
}

TEST_F(PrefetcherTest, KeepsAtMost64DescriptorsAndClosesThemSoon) {
  Fill(200, 2 * kBlockSize);
  const int before = OpenFds();
  {
    Prefetcher p(store_);
    for (const MerkleTree& t : trees_) p.Enqueue(t.digest, t.data_size);
    // The last one queued is handed over once everything was warmed.
    UniqueFd last;
    struct stat st {};
    ASSERT_TRUE(TakeWithin10s(p, trees_.back().digest, &last, &st));
    last.reset();
    EXPECT_LE(OpenFds() - before, 64);
    EXPECT_GE(OpenFds() - before, 1);
    // The idle reaper sweeps every second and closes what is 2 s old.
    bool closed = false;
    for (int i = 0; i < 100 && !closed; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      closed = OpenFds() == before;
    }
    EXPECT_TRUE(closed) << OpenFds() - before << " descriptors left";
    // None of the early ones is handed over any more.
    UniqueFd fd;
    EXPECT_FALSE(p.Take(trees_[0].digest, &fd, &st));
  }
  EXPECT_EQ(OpenFds(), before);
}

}  // namespace
}  // namespace sealfs::fuse
