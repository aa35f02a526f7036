// SPDX-License-Identifier: Apache-2.0
// ByteStream: bytes read once, in order, in pieces (a tar layer, an OCI blob
// from a file, an archive member or a download), and BytePipe, which hands
// pieces from a producer thread to a consumer thread through a bounded
// queue. A stream is used by one thread at a time; BytePipe's two ends are
// used by two.
#ifndef SEALFS_FS_UTIL_BYTE_STREAM_H_
#define SEALFS_FS_UTIL_BYTE_STREAM_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "sealfs/status.h"
#include "sealfs/unique_fd.h"

namespace sealfs {

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // The next piece, valid until the next call or the stream's destruction;
  // empty only at the end (and from then on). A failure is returned once
  // and again on every later call.
  virtual Result<std::span<const uint8_t>> Next() = 0;
};

// Reads `fd` (not owned; a file, a pipe, stdin) to its end, in pieces of up
// to `piece` bytes.
std::unique_ptr<ByteStream> FdStream(int fd, size_t piece = size_t{1} << 20);

// Reads bytes [offset, offset + length) of the file `fd` with pread, in
// pieces of up to `piece` bytes; ends early if the file does.
std::unique_ptr<ByteStream> PreadStream(std::shared_ptr<const UniqueFd> fd,
                                        uint64_t offset, uint64_t length,
                                        size_t piece = size_t{1} << 20);

// A bounded queue of pieces between one producer and one consumer thread.
// The producer fills buffers it takes from the pipe (so they are reused)
// and ends with Close(); the consumer reads the pipe as a ByteStream.
// Thread-safe.
class BytePipe {
 public:
  // At most `depth` pieces of `piece` bytes are in the pipe or being
  // filled at once.
  BytePipe(size_t piece, size_t depth);
  BytePipe(const BytePipe&) = delete;
  BytePipe& operator=(const BytePipe&) = delete;

  // Producer: a buffer of `piece` bytes to fill, waiting while the pipe is
  // full. ECANCELED once the consumer has called Cancel().
  Result<std::vector<uint8_t>> TakeBuffer();
  // Producer: queues `buffer` (its size() bytes); ECANCELED after Cancel().
  Status Push(std::vector<uint8_t> buffer);
  // Producer: the end of the stream: OK, or why it failed (the consumer's
  // Next() then returns that failure).
  void Close(Status status);

  // Consumer: the pipe as a stream. REQUIRES: at most one, used by one
  // thread, outliving neither the pipe.
  std::unique_ptr<ByteStream> Reader();
  // Consumer: stops the producer (TakeBuffer and Push fail with ECANCELED).
  void Cancel();

 private:
  class ReaderImpl;

  const size_t piece_;
  const size_t depth_;
  std::mutex mu_;                           // guards the members below
  std::condition_variable cv_;              // any change of the members below
  std::deque<std::vector<uint8_t>> queue_;  // filled, not yet read
  std::vector<std::vector<uint8_t>> free_;  // read, for reuse
  size_t outstanding_ = 0;  // buffers handed out, queued or being read
  bool closed_ = false;
  Status end_;  // set by Close
  bool cancelled_ = false;
};

}  // namespace sealfs

#endif  // SEALFS_FS_UTIL_BYTE_STREAM_H_
