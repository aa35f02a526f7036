// SPDX-License-Identifier: Apache-2.0
#include "fs/util/byte_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "fs/util/io.h"

namespace sealfs {
namespace {

class FdStreamImpl : public ByteStream {
 public:
  FdStreamImpl(int fd, size_t piece) : fd_(fd), buffer_(piece) {}

  Result<std::span<const uint8_t>> Next() override {
    if (!failed_.ok()) return failed_;
    for (;;) {
      ssize_t n = ::read(fd_, buffer_.data(), buffer_.size());
      if (n >= 0) {
        return std::span<const uint8_t>(buffer_).first(static_cast<size_t>(n));
      }
      if (errno == EINTR) continue;
      failed_ = ErrnoStatus("read");
      return failed_;
    }
  }

 private:
  const int fd_;
  std::vector<uint8_t> buffer_;
  Status failed_;
};

class PreadStreamImpl : public ByteStream {
 public:
  PreadStreamImpl(std::shared_ptr<const UniqueFd> fd, uint64_t offset,
                  uint64_t length, size_t piece)
      : fd_(std::move(fd)),
        offset_(offset),
        left_(length),
        buffer_(static_cast<size_t>(std::clamp<uint64_t>(length, 1, piece))) {
    // Read ahead generously: the whole range is wanted, in order.
    (void)::posix_fadvise(fd_->get(), static_cast<off_t>(offset),
                          static_cast<off_t>(length), POSIX_FADV_SEQUENTIAL);
  }

  Result<std::span<const uint8_t>> Next() override {
    if (!failed_.ok()) return failed_;
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(left_, buffer_.size()));
    if (want == 0) return std::span<const uint8_t>();
    Result<size_t> got =
        PreadFull(fd_->get(), std::span<uint8_t>(buffer_).first(want), offset_);
    if (!got.ok()) {
      failed_ = got.status();
      return failed_;
    }
    offset_ += *got;
    // A short read is the end of the file: the stream ends there.
    left_ = *got < want ? 0 : left_ - *got;
    return std::span<const uint8_t>(buffer_).first(*got);
  }

 private:
  const std::shared_ptr<const UniqueFd> fd_;
  uint64_t offset_;
  uint64_t left_;
  std::vector<uint8_t> buffer_;
  Status failed_;
};

}  // namespace

std::unique_ptr<ByteStream> FdStream(int fd, size_t piece) {
  return std::make_unique<FdStreamImpl>(fd, piece);
}

std::unique_ptr<ByteStream> PreadStream(std::shared_ptr<const UniqueFd> fd,
                                        uint64_t offset, uint64_t length,
                                        size_t piece) {
  return std::make_unique<PreadStreamImpl>(std::move(fd), offset, length,
                                           piece);
}

// ---------------------------------------------------------------------------
// BytePipe

class BytePipe::ReaderImpl : public ByteStream {
 public:
  explicit ReaderImpl(BytePipe& pipe) : pipe_(pipe) {}
  ~ReaderImpl() override { Release(); }

  Result<std::span<const uint8_t>> Next() override {
    Release();
    std::unique_lock lock(pipe_.mu_);
    pipe_.cv_.wait(lock, [this] {
      return !pipe_.queue_.empty() || pipe_.closed_ || pipe_.cancelled_;
    });
    if (!pipe_.queue_.empty()) {
      current_ = std::move(pipe_.queue_.front());
      pipe_.queue_.pop_front();
      holding_ = true;
      pipe_.cv_.notify_all();
      return std::span<const uint8_t>(current_);
    }
    if (pipe_.cancelled_) return Status::FromErrno(ECANCELED, "cancelled");
    if (!pipe_.end_.ok()) return pipe_.end_;
    return std::span<const uint8_t>();
  }

 private:
  // Gives the piece last returned back to the producer.
  void Release() {
    if (!holding_) return;
    std::lock_guard lock(pipe_.mu_);
    pipe_.free_.push_back(std::move(current_));
    --pipe_.outstanding_;
    holding_ = false;
    pipe_.cv_.notify_all();
  }

  BytePipe& pipe_;
  std::vector<uint8_t> current_;
  bool holding_ = false;
};

BytePipe::BytePipe(size_t piece, size_t depth)
    : piece_(piece), depth_(std::max<size_t>(depth, 2)) {}

Result<std::vector<uint8_t>> BytePipe::TakeBuffer() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return cancelled_ || outstanding_ < depth_; });
  if (cancelled_) return Status::FromErrno(ECANCELED, "cancelled");
  ++outstanding_;
  std::vector<uint8_t> buffer;
  if (!free_.empty()) {
    buffer = std::move(free_.back());
    free_.pop_back();
  }
  buffer.resize(piece_);
  return buffer;
}

Status BytePipe::Push(std::vector<uint8_t> buffer) {
  std::lock_guard lock(mu_);
  if (cancelled_) return Status::FromErrno(ECANCELED, "cancelled");
  if (buffer.empty()) {
    // Nothing to read: the buffer goes straight back.
    free_.push_back(std::move(buffer));
    --outstanding_;
  } else {
    queue_.push_back(std::move(buffer));
  }
  cv_.notify_all();
  return {};
}

void BytePipe::Close(Status status) {
  std::lock_guard lock(mu_);
  closed_ = true;
  end_ = std::move(status);
  cv_.notify_all();
}

std::unique_ptr<ByteStream> BytePipe::Reader() {
  return std::make_unique<ReaderImpl>(*this);
}

void BytePipe::Cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  cv_.notify_all();
}

}  // namespace sealfs
