// SPDX-License-Identifier: Apache-2.0
// Tests for fs/util/io.h and fs/util/mapped_file.h.
#include "fs/util/io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "fs/util/mapped_file.h"
#include "sealfs/unique_fd.h"
#include "tests/test_util.h"

namespace sealfs {
namespace {

using testing::TempDir;

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(WriteFileAtomic, CreatesWithModeAndLeavesNoTemp) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir / "f", AsBytes("hello"), 0640).ok());
  struct stat st;
  ASSERT_EQ(::stat((dir / "f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(testing::ReadFile(dir / "f"), std::vector<uint8_t>({'h', 'e', 'l', 'l', 'o'}));
  EXPECT_EQ(testing::Shell("ls -A " + dir.path() + " | wc -l").out, "1\n");
}

TEST(WriteFileAtomic, ReplacesExisting) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir / "f", AsBytes("one"), 0644).ok());
  ASSERT_TRUE(WriteFileAtomic(dir / "f", AsBytes("two!"), 0644).ok());
  EXPECT_EQ(testing::ReadFile(dir / "f").size(), 4u);
}

TEST(WriteFileAtomic, NoReplaceRefusesExistingAndKeepsIt) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir / "f", AsBytes("one"), 0644).ok());
  Status s = WriteFileAtomic(dir / "f", AsBytes("two"), 0644, true);
  EXPECT_EQ(s.err(), EEXIST);
  EXPECT_EQ(testing::ReadFile(dir / "f").size(), 3u);
  EXPECT_EQ(testing::Shell("ls -A " + dir.path() + " | wc -l").out, "1\n");
}

TEST(WriteFileAtomic, MissingDirectoryIsENOENTNamingThePath) {
  TempDir dir;
  Status s = WriteFileAtomic(dir / "no/such/f", AsBytes("x"), 0644);
  EXPECT_EQ(s.err(), ENOENT);
  EXPECT_NE(s.ToString().find("no/such/f"), std::string::npos);
}

TEST(WriteExistingFile, WritesAtTheStartOfAnExistingFile) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir / "f", AsBytes("0000"), 0644).ok());
  ASSERT_TRUE(WriteExistingFile(dir / "f", "12").ok());
  EXPECT_EQ(testing::ReadFile(dir / "f"),
            std::vector<uint8_t>({'1', '2', '0', '0'}));
}

// As sysfs would say of a connection gone: ENOENT, naming the path, and
// nothing created.
TEST(WriteExistingFile, MissingFileIsENOENTNamingItAndNotCreated) {
  TempDir dir;
  Status s = WriteExistingFile(dir / "abort", "1");
  EXPECT_EQ(s.err(), ENOENT);
  EXPECT_NE(s.ToString().find(dir / "abort"), std::string::npos);
  EXPECT_NE(::access((dir / "abort").c_str(), F_OK), 0);
}

TEST(PreadFull, StopsAtEofAndReportsCount) {
  TempDir dir;
  testing::WriteFile(dir / "f", testing::RandomBytes(10000, 1));
  UniqueFd fd(::open((dir / "f").c_str(), O_RDONLY));
  std::vector<uint8_t> buf(8192);
  Result<size_t> got = PreadFull(fd.get(), buf, 4096);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, 10000u - 4096u);
}

TEST(ReadFileBytes, RefusesNonRegularFiles) {
  TempDir dir;
  Result<std::vector<uint8_t>> r = ReadFileBytes(dir.path());
  EXPECT_EQ(r.status().err(), EINVAL);
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  r = ReadFileBytes(dir / "fifo");  // must not block
  EXPECT_EQ(r.status().err(), EINVAL);
}

TEST(MappedFile, MapsContentAndEmptyFiles) {
  TempDir dir;
  auto data = testing::RandomBytes(12345, 2);
  testing::WriteFile(dir / "f", data);
  testing::WriteFile(dir / "empty", std::string());
  Result<MappedFile> m = MappedFile::Open(dir / "f");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(std::equal(data.begin(), data.end(), m->bytes().begin(), m->bytes().end()));
  Result<MappedFile> e = MappedFile::Open(dir / "empty");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->bytes().empty());
  MappedFile moved = std::move(*m);
  EXPECT_EQ(moved.bytes().size(), data.size());
}

TEST(MappedFile, FromBytesSurvivesMove) {
  MappedFile a = MappedFile::FromBytes({1, 2, 3});
  MappedFile b = std::move(a);
  ASSERT_EQ(b.bytes().size(), 3u);
  EXPECT_EQ(b.bytes()[2], 3);
}

// Sizes around the huge-page path (2 MiB and up is aligned and advised).
TEST(MappedFile, ReadPrivateIsASnapshotAtEverySize) {
  TempDir dir;
  for (size_t size : {size_t{0}, size_t{1}, size_t{4096}, size_t{70001},
                      size_t{2} << 20, (size_t{5} << 20) + 123}) {
    SCOPED_TRACE(size);
    auto data = testing::RandomBytes(size, 7);
    testing::WriteFile(dir / "f", data);
    Result<MappedFile> m = MappedFile::ReadPrivate(dir / "f");
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_TRUE(std::equal(data.begin(), data.end(), m->bytes().begin(),
                           m->bytes().end()));
    // Changing or truncating the file afterwards reaches nothing read.
    testing::WriteFile(dir / "f", std::string("changed"));
    EXPECT_TRUE(std::equal(data.begin(), data.end(), m->bytes().begin(),
                           m->bytes().end()));
    MappedFile moved = std::move(*m);
    EXPECT_EQ(moved.bytes().size(), size);
  }
}

// Records what ReadPrivate tells an observer.
struct RecordingObserver : MappedFile::ReadObserver {
  void Started(size_t size) override { started.push_back(size); }
  void Ready(std::span<const uint8_t> ready) override {
    if (!ready.empty() && first == nullptr) first = ready.data();
    same_buffer = same_buffer && ready.data() == first;
    ready_sizes.push_back(ready.size());
  }
  void Failed() override { ++failed; }

  std::vector<size_t> started;
  std::vector<size_t> ready_sizes;
  const uint8_t* first = nullptr;
  bool same_buffer = true;
  int failed = 0;
};

TEST(MappedFile, ReadPrivateShowsAnObserverAGrowingPrefix) {
  TempDir dir;
  for (size_t size : {size_t{1}, size_t{4096}, size_t{256} << 10,
                      (size_t{3} << 20) + 5}) {
    SCOPED_TRACE(size);
    auto data = testing::RandomBytes(size, 9);
    testing::WriteFile(dir / "f", data);
    RecordingObserver seen;
    Result<MappedFile> m = MappedFile::ReadPrivate(dir / "f", &seen);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(seen.started, std::vector<size_t>{size});
    ASSERT_FALSE(seen.ready_sizes.empty());
    EXPECT_TRUE(std::is_sorted(seen.ready_sizes.begin(),
                               seen.ready_sizes.end()));
    EXPECT_EQ(std::adjacent_find(seen.ready_sizes.begin(),
                                 seen.ready_sizes.end()),
              seen.ready_sizes.end());  // strictly growing
    EXPECT_EQ(seen.ready_sizes.back(), size);
    EXPECT_EQ(seen.first, m->bytes().data());
    EXPECT_TRUE(seen.same_buffer);
    EXPECT_EQ(seen.failed, 0);
    EXPECT_TRUE(std::equal(data.begin(), data.end(), m->bytes().begin(),
                           m->bytes().end()));
  }
  // An empty file is read without starting anything; a failure to open
  // never reaches the observer.
  testing::WriteFile(dir / "empty", std::string());
  RecordingObserver quiet;
  ASSERT_TRUE(MappedFile::ReadPrivate(dir / "empty", &quiet).ok());
  EXPECT_EQ(MappedFile::ReadPrivate(dir / "none", &quiet).status().err(),
            ENOENT);
  EXPECT_TRUE(quiet.started.empty());
  EXPECT_TRUE(quiet.ready_sizes.empty());
  EXPECT_EQ(quiet.failed, 0);
}

TEST(MappedFile, ReadPrivateRefusesWhatIsNotARegularFile) {
  TempDir dir;
  Result<MappedFile> d = MappedFile::ReadPrivate(dir.path());
  EXPECT_EQ(d.status().err(), EINVAL);
  Result<MappedFile> missing = MappedFile::ReadPrivate(dir / "nothing");
  EXPECT_EQ(missing.status().err(), ENOENT);
}

TEST(Status, ToStringNamesContextAndError) {
  EXPECT_EQ(Status::FromErrno(ENOENT, "/x").ToString(),
            "/x: No such file or directory");
  EXPECT_EQ(Status::Corrupt("manifest: bad magic").ToString(),
            "manifest: bad magic");
  EXPECT_EQ(Status::FromErrno(EIO, "a").WithPrefix("b").context(), "b: a");
  Result<int> r = Status::FromErrno(EINVAL, "bad");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().err(), EINVAL);
}

}  // namespace
}  // namespace sealfs
