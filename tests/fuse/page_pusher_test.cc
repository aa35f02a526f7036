// SPDX-License-Identifier: Apache-2.0
// Tests for PagePusher (fs/fuse/page_pusher.cc), with a pipe standing in for
// the FUSE device: each pushed object arrives as one FUSE_NOTIFY_STORE of
// exactly its bytes for its inode; a corrupt object, one too large, one a
// read reached first, and any while no small file is being read are not
// pushed; and the thread keeps only the store and the device in a
// descriptor table of its own.
#include "fs/fuse/page_pusher.h"

#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
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

struct Pushed {
  uint64_t ino = 0;
  uint64_t offset = 0;
  std::vector<uint8_t> data;
};

class PagePusherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    read_end_.reset(fds[0]);
    write_end_.reset(fds[1]);
  }

  // Stores an object of `size` bytes; returns its digest.
  Digest Add(size_t size, uint32_t seed) {
    Result<std::shared_ptr<Store>> rw =
        Store::Open(dir_ / "store", Store::Mode::kCreate);
    EXPECT_TRUE(rw.ok()) << rw.status().ToString();
    StoreWriter writer(*rw);
    const std::vector<uint8_t> data = RandomBytes(size, seed);
    const MerkleTree tree = ComputeMerkleTree(data);
    EXPECT_TRUE(writer.AddFromBytes(data, tree).ok());
    EXPECT_TRUE(writer.Commit().ok());
    contents_[tree.digest] = data;
    return tree.digest;
  }

  std::shared_ptr<const Store> ReadOnlyStore() {
    Result<std::shared_ptr<Store>> ro =
        Store::Open(dir_ / "store", Store::Mode::kReadOnly);
    EXPECT_TRUE(ro.ok()) << ro.status().ToString();
    return ro.ok() ? *ro : nullptr;
  }

  // The next message on the pipe, waiting up to `ms`; false if none came.
  bool NextPush(Pushed* out, int ms = 10000) {
    pollfd p{read_end_.get(), POLLIN, 0};
    if (poll(&p, 1, ms) != 1) return false;
    fuse_out_header header{};
    fuse_notify_store_out store{};
    if (!ReadExactly(&header, sizeof(header)) ||
        !ReadExactly(&store, sizeof(store))) {
      return false;
    }
    EXPECT_EQ(header.error, FUSE_NOTIFY_STORE);
    EXPECT_EQ(header.unique, 0u);
    EXPECT_EQ(header.len, sizeof(header) + sizeof(store) + store.size);
    out->ino = store.nodeid;
    out->offset = store.offset;
    out->data.resize(store.size);
    return ReadExactly(out->data.data(), out->data.size());
  }

  // pushed() once it reaches `want` (counted after the write we read
  // returns), or after ~5 s.
  static uint64_t PushedReaching(const PagePusher& p, uint64_t want) {
    for (int i = 0; i < 500 && p.pushed() < want; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return p.pushed();
  }

  bool ReadExactly(void* buf, size_t n) {
    auto* p = static_cast<uint8_t*>(buf);
    while (n > 0) {
      ssize_t got = read(read_end_.get(), p, n);
      if (got <= 0) return false;
      p += got;
      n -= static_cast<size_t>(got);
    }
    return true;
  }

  TempDir dir_;
  UniqueFd read_end_, write_end_;
  std::map<Digest, std::vector<uint8_t>> contents_;
};

TEST_F(PagePusherTest, PushesExactlyTheVerifiedBytesOfEachInode) {
  const std::vector<size_t> sizes = {1, 100, kBlockSize, kBlockSize + 1,
                                     70000, 256 * 1024};
  std::vector<Digest> digests;
  for (size_t i = 0; i < sizes.size(); ++i) {
    digests.push_back(Add(sizes[i], 10 + static_cast<uint32_t>(i)));
  }
  PagePusher pusher(ReadOnlyStore(), std::move(write_end_));
  pusher.NoteRead(1, 10);  // a walk reads small files
  for (size_t i = 0; i < sizes.size(); ++i) {
    pusher.Enqueue(100 + i, digests[i], sizes[i]);
  }
  for (size_t i = 0; i < sizes.size(); ++i) {
    Pushed got;
    ASSERT_TRUE(NextPush(&got)) << i;
    EXPECT_EQ(got.ino, 100 + i);
    EXPECT_EQ(got.offset, 0u);
    EXPECT_EQ(got.data, contents_[digests[i]]) << i;
  }
  EXPECT_EQ(PushedReaching(pusher, sizes.size()), sizes.size());
}

TEST_F(PagePusherTest, PushesNothingTooLargeCorruptOrAlreadyRead) {
  EXPECT_FALSE(PagePusher::Wants(0));
  EXPECT_FALSE(PagePusher::Wants(256 * 1024 + 1));
  const Digest large = Add(256 * 1024 + 1, 1);
  const Digest corrupt = Add(2 * kBlockSize, 2);
  const Digest blocking = Add(256 * 1024, 3);  // fills the pipe
  const Digest read_first = Add(5000, 4);
  const Digest last = Add(300, 5);
  {
    // One byte flipped behind the store's back.
    const std::string hex = corrupt.Hex();
    const std::string path =
        dir_ / ("store/objects/" + hex.substr(0, 2) + "/" + hex.substr(2));
    ASSERT_EQ(chmod(path.c_str(), 0644), 0);
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(pwrite(fd, "\xff", 1, kBlockSize + 9), 1);
    close(fd);
  }
  PagePusher pusher(ReadOnlyStore(), std::move(write_end_));
  pusher.NoteRead(100, 10);
  pusher.Enqueue(1, large, 256 * 1024 + 1);
  pusher.Enqueue(2, corrupt, 2 * kBlockSize);
  pusher.Enqueue(3, blocking, 256 * 1024);
  pusher.Enqueue(4, read_first, 5000);
  pusher.Enqueue(5, last, 300);
  // The thread waits to write inode 3 into the full pipe (or has not come
  // to inode 4 yet): a read of 4 takes it off the queue.
  pusher.NoteRead(4, 5000);
  Pushed got;
  ASSERT_TRUE(NextPush(&got));
  EXPECT_EQ(got.ino, 3u);
  EXPECT_EQ(got.data, contents_[blocking]);
  ASSERT_TRUE(NextPush(&got));
  EXPECT_EQ(got.ino, 5u);
  EXPECT_EQ(got.data, contents_[last]);
  EXPECT_FALSE(NextPush(&got, 200));
  EXPECT_EQ(PushedReaching(pusher, 2), 2u);
}

TEST_F(PagePusherTest, PushesOnlyWhileSmallFilesAreBeingRead) {
  const Digest a = Add(1000, 8);
  const Digest b = Add(2000, 9);
  PagePusher pusher(ReadOnlyStore(), std::move(write_end_));
  // Listed, nothing read (ls -l, find): not pushed. Nor is a read of a
  // large file a walk of small ones.
  pusher.NoteRead(1, 256 * 1024 + 1);
  pusher.Enqueue(2, a, 1000);
  Pushed got;
  EXPECT_FALSE(NextPush(&got, 300));
  // A small file read: what is listed next is pushed.
  pusher.NoteRead(3, 10);
  pusher.Enqueue(4, b, 2000);
  ASSERT_TRUE(NextPush(&got));
  EXPECT_EQ(got.ino, 4u);
  EXPECT_EQ(got.data, contents_[b]);
  EXPECT_EQ(PushedReaching(pusher, 1), 1u);
}

TEST_F(PagePusherTest, ThreadKeepsOnlyTheStoreAndTheDevice) {
  const Digest d = Add(1000, 7);
  const int device = write_end_.get();
  PagePusher pusher(ReadOnlyStore(), std::move(write_end_));
  pusher.NoteRead(1, 10);
  pusher.Enqueue(9, d, 1000);
  Pushed got;
  ASSERT_TRUE(NextPush(&got));
  namespace fs = std::filesystem;
  int own = 0;
  for (const fs::directory_entry& task : fs::directory_iterator("/proc/self/task")) {
    std::vector<std::string> links;
    std::error_code ec;
    for (const fs::directory_entry& fd :
         fs::directory_iterator(task.path() / "fd", ec)) {
      links.push_back(fs::read_symlink(fd.path(), ec).string());
    }
    if (links.size() != 2) continue;
    ++own;
    std::sort(links.begin(), links.end());
    EXPECT_EQ(links[0], fs::canonical(dir_ / "store").string());
    EXPECT_EQ(links[1].rfind("pipe:", 0), 0u) << links[1];
  }
  EXPECT_EQ(own, 1);
  // This process's own copy of the device stays open until the pusher goes.
  EXPECT_EQ(fcntl(device, F_GETFD), FD_CLOEXEC);
}

}  // namespace
}  // namespace sealfs::fuse
