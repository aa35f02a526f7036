// SPDX-License-Identifier: Apache-2.0
// Tests for PartialObject (fs/remote/partial_object.cc): blocks come by
// range, verified against a tree checked against the digest; a server that
// ignores Range still works; wrong bytes cost their blocks only; a lying
// tree is caught; the whole object lands in the store once complete.
#include "fs/remote/partial_object.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fs/util/io.h"
#include "tests/http_store_server.h"
#include "tests/remote/remote_test_util.h"
#include "tests/test_util.h"

namespace sealfs::remote {
namespace {

namespace fs = std::filesystem;
using ::sealfs::testing::HttpStoreServer;
using ::sealfs::testing::RandomBytes;
using ::sealfs::testing::TempDir;

constexpr uint64_t kSize = (6u << 20) + 1234;  // 6 MiB and a short tail
constexpr uint64_t kCorruptAt = (5u << 20) + 100;

class PartialObjectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    content_ = RandomBytes(kSize, 99);
    item_ = ::sealfs::testing::MakeStore(remote_, {content_})[0];
    store_ = ::sealfs::testing::OpenStore(tmp_ / "local");
    writer_ = std::make_shared<StoreWriter>(store_, Durability::kUnsynced);
  }

  std::shared_ptr<ObjectSource> Http(const std::string& mode) {
    EXPECT_EQ(server_.Start(remote_, mode, log_, 0,
                            {"--corrupt-at", std::to_string(kCorruptAt)}),
              "");
    SourceOptions options;
    options.limits.connect_timeout_s = 2;
    options.limits.stall_timeout_s = 2;
    Result<std::unique_ptr<ObjectSource>> source =
        OpenObjectSource(server_.url(), options);
    EXPECT_TRUE(source.ok());
    return std::move(*source);
  }

  Result<std::shared_ptr<PartialObject>> Open(
      std::shared_ptr<ObjectSource> source) {
    return PartialObject::Open(std::move(source), writer_, item_.digest, kSize,
                               Priority::kUrgent);
  }

  // Block `b`'s bytes read back through a descriptor the object hands out.
  std::vector<uint8_t> ReadBlock(PartialObject& object, uint64_t b) {
    Result<UniqueFd> fd = object.Dup();
    EXPECT_TRUE(fd.ok());
    std::vector<uint8_t> out(kBlockSize);
    Result<size_t> got = PreadFull(fd->get(), out, b * kBlockSize);
    EXPECT_TRUE(got.ok());
    out.resize(*got);
    return out;
  }

  std::vector<uint8_t> Expected(uint64_t b) {
    const uint64_t from = b * kBlockSize;
    const uint64_t to = std::min<uint64_t>(kSize, from + kBlockSize);
    return {content_.begin() + static_cast<ptrdiff_t>(from),
            content_.begin() + static_cast<ptrdiff_t>(to)};
  }

  // FetchRest, and waits for its outcome (bounded by the fetch limits).
  Status Rest(PartialObject& object) {
    auto done = std::make_shared<std::promise<Status>>();
    object.FetchRest([done](const Status& st) { done->set_value(st); });
    return done->get_future().get();
  }

  TempDir tmp_;
  std::string remote_ = tmp_ / "remote";
  std::string log_ = tmp_ / "requests.log";
  std::vector<uint8_t> content_;
  PullItem item_;
  std::shared_ptr<Store> store_;
  std::shared_ptr<StoreWriter> writer_;
  HttpStoreServer server_;
};

TEST_F(PartialObjectTest, ReaderGetsItsBlocksByRangeThenTheRestArrives) {
  Result<std::shared_ptr<PartialObject>> object = Open(Http("normal"));
  ASSERT_TRUE(object.ok()) << object.status().ToString();
  const uint64_t last = (kSize - 1) / kBlockSize;
  ASSERT_TRUE((*object)->Ensure(700, 701).ok());
  EXPECT_EQ(ReadBlock(**object, 700), Expected(700));
  ASSERT_TRUE((*object)->Ensure(last, last).ok());  // the short tail
  EXPECT_EQ(ReadBlock(**object, last), Expected(last));
  EXPECT_FALSE((*object)->whole());
  EXPECT_LT((*object)->bytes_fetched(), kSize / 2);
  EXPECT_GE(::sealfs::testing::CountLogLinesAtLeast(log_, "bytes=", 2), 2);

  ASSERT_TRUE(Rest(**object).ok());
  EXPECT_TRUE((*object)->whole());
  ASSERT_TRUE((*object)->AddToStore().ok());
  EXPECT_EQ(::sealfs::testing::ReadFile(
                tmp_ / ("local/" + Store::ObjectPath(item_.digest))),
            content_);
  // A reader's descriptor outlives the temp file.
  EXPECT_EQ(ReadBlock(**object, 3), Expected(3));
}

TEST_F(PartialObjectTest, ServerIgnoringRangeStillWorks) {
  Result<std::shared_ptr<PartialObject>> object = Open(Http("no-range"));
  ASSERT_TRUE(object.ok()) << object.status().ToString();
  ASSERT_TRUE((*object)->Ensure(10, 10).ok());
  EXPECT_EQ(ReadBlock(**object, 10), Expected(10));
  ASSERT_TRUE(Rest(**object).ok());
  EXPECT_TRUE((*object)->whole());
  ASSERT_TRUE((*object)->AddToStore().ok());
  EXPECT_TRUE(store_->HasObject(item_.digest));
}

TEST_F(PartialObjectTest, WrongBytesCostTheirBlockOnlyAndNeverLand) {
  Result<std::shared_ptr<PartialObject>> object = Open(Http("range-corrupt"));
  ASSERT_TRUE(object.ok()) << object.status().ToString();
  const uint64_t bad = kCorruptAt / kBlockSize;
  Status st = (*object)->Ensure(bad, bad);
  EXPECT_EQ(st.err(), kErrDigest) << st.ToString();
  // Its neighbours came in the same range and are fine.
  ASSERT_TRUE((*object)->Ensure(bad + 1, bad + 1).ok());
  EXPECT_EQ(ReadBlock(**object, bad + 1), Expected(bad + 1));
  ASSERT_TRUE((*object)->Ensure(0, 3).ok());
  // The background gives up on the bad block; nothing is named.
  EXPECT_FALSE(Rest(**object).ok());
  EXPECT_FALSE((*object)->whole());
  EXPECT_FALSE(store_->HasObject(item_.digest));
}

TEST_F(PartialObjectTest, RangeWithWrongBoundsIsRefused) {
  Result<std::shared_ptr<PartialObject>> object = Open(Http("range-wrong"));
  ASSERT_TRUE(object.ok()) << object.status().ToString();
  Status st = (*object)->Ensure(20, 20);
  EXPECT_EQ(st.err(), kErrCorrupt) << st.ToString();
}

TEST_F(PartialObjectTest, ALyingTreeIsCaughtBeforeAnyBlockIsKept) {
  // The source's tree file is rewritten with garbage of the right size.
  const std::string tree = remote_ + "/" + Store::TreePath(item_.digest);
  const uint64_t tree_size = fs::file_size(tree);
  fs::permissions(tree, fs::perms::owner_write, fs::perm_options::add);
  ::sealfs::testing::WriteFile(tree, RandomBytes(tree_size, 5));
  Result<std::shared_ptr<PartialObject>> object = Open(Http("normal"));
  ASSERT_TRUE(object.ok()) << object.status().ToString();
  EXPECT_EQ((*object)->Ensure(0, 0).err(), kErrDigest);
  EXPECT_EQ((*object)->bytes_fetched(), 0u);
}

TEST_F(PartialObjectTest, NoTreeAtTheSourceIsENOENT) {
  fs::remove(remote_ + "/" + Store::TreePath(item_.digest));
  Result<std::shared_ptr<PartialObject>> object = Open(Http("normal"));
  ASSERT_FALSE(object.ok());
  EXPECT_EQ(object.status().err(), ENOENT);
}

TEST_F(PartialObjectTest, DirectorySourceDeliversInLine) {
  SourceOptions options;
  Result<std::unique_ptr<ObjectSource>> source =
      OpenObjectSource(remote_, options);
  ASSERT_TRUE(source.ok());
  Result<std::shared_ptr<PartialObject>> object = Open(std::move(*source));
  ASSERT_TRUE(object.ok()) << object.status().ToString();
  ASSERT_TRUE((*object)->Ensure(100, 300).ok());
  EXPECT_EQ(ReadBlock(**object, 200), Expected(200));
  ASSERT_TRUE(Rest(**object).ok());
  ASSERT_TRUE((*object)->AddToStore().ok());
  EXPECT_TRUE(store_->HasObject(item_.digest));
}

}  // namespace
}  // namespace sealfs::remote
