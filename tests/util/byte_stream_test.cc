// SPDX-License-Identifier: Apache-2.0
// Tests for fs/util/byte_stream.h: file streams and the producer/consumer
// pipe (order, bounded depth, a failure passed on, cancellation).
#include "fs/util/byte_stream.h"

#include <fcntl.h>

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace sealfs {
namespace {

using testing::TempDir;

// Everything `in` yields, or the failure.
Result<std::string> ReadAll(ByteStream& in) {
  std::string out;
  for (;;) {
    SEALFS_ASSIGN_OR_RETURN(std::span<const uint8_t> piece, in.Next());
    if (piece.empty()) return out;
    out.append(piece.begin(), piece.end());
  }
}

TEST(ByteStream, FdStreamReadsToTheEnd) {
  TempDir dir;
  const std::string data(3000, 'x');
  testing::WriteFile(dir / "f", data);
  UniqueFd fd(open((dir / "f").c_str(), O_RDONLY | O_CLOEXEC));
  std::unique_ptr<ByteStream> in = FdStream(fd.get(), 1000);
  Result<std::string> got = ReadAll(*in);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, data);
  EXPECT_TRUE(in->Next()->empty());  // and stays at the end
}

TEST(ByteStream, PreadStreamReadsItsRangeAndEndsWithTheFile) {
  TempDir dir;
  testing::WriteFile(dir / "f", std::string("0123456789"));
  auto fd = std::make_shared<const UniqueFd>(
      open((dir / "f").c_str(), O_RDONLY | O_CLOEXEC));
  std::unique_ptr<ByteStream> mid = PreadStream(fd, 2, 5, 2);
  EXPECT_EQ(*ReadAll(*mid), "23456");
  std::unique_ptr<ByteStream> past = PreadStream(fd, 8, 100);
  EXPECT_EQ(*ReadAll(*past), "89");
  std::unique_ptr<ByteStream> none = PreadStream(fd, 3, 0);
  EXPECT_EQ(*ReadAll(*none), "");
}

TEST(BytePipe, PassesPiecesInOrderThroughABoundedQueue) {
  BytePipe pipe(4, 2);
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) {
      Result<std::vector<uint8_t>> buffer = pipe.TakeBuffer();
      ASSERT_TRUE(buffer.ok());
      ASSERT_EQ(buffer->size(), 4u);
      buffer->assign(1, static_cast<uint8_t>('a' + i % 26));
      ASSERT_TRUE(pipe.Push(std::move(*buffer)).ok());
    }
    pipe.Close(Status());
  });
  std::unique_ptr<ByteStream> reader = pipe.Reader();
  Result<std::string> got = ReadAll(*reader);
  producer.join();
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ((*got)[i], 'a' + i % 26);
}

TEST(BytePipe, TheProducersFailureReachesTheReader) {
  BytePipe pipe(4, 2);
  std::thread producer([&] {
    Result<std::vector<uint8_t>> buffer = pipe.TakeBuffer();
    ASSERT_TRUE(buffer.ok());
    buffer->assign(2, 'z');
    ASSERT_TRUE(pipe.Push(std::move(*buffer)).ok());
    pipe.Close(Status::FromErrno(kErrDigest, "blob: bad"));
  });
  std::unique_ptr<ByteStream> reader = pipe.Reader();
  Result<std::span<const uint8_t>> first = reader->Next();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->size(), 2u);
  Result<std::span<const uint8_t>> second = reader->Next();
  producer.join();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().err(), kErrDigest);
  EXPECT_EQ(second.status().context(), "blob: bad");
}

TEST(BytePipe, CancelStopsAProducerWaitingForRoom) {
  BytePipe pipe(4, 2);
  Status stopped;
  std::thread producer([&] {
    for (;;) {
      Result<std::vector<uint8_t>> buffer = pipe.TakeBuffer();
      if (!buffer.ok()) {
        stopped = buffer.status();
        return;
      }
      if (Status st = pipe.Push(std::move(*buffer)); !st.ok()) {
        stopped = st;
        return;
      }
    }
  });
  // Nobody reads: the producer fills the queue and waits, until cancelled.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  pipe.Cancel();
  producer.join();
  EXPECT_EQ(stopped.err(), ECANCELED);
}

}  // namespace
}  // namespace sealfs
