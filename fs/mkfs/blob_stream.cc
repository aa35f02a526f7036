// SPDX-License-Identifier: Apache-2.0
// Digest-checking and decompressing streams for OCI layers. Decompression
// goes through libarchive's "raw" format with exactly one filter enabled:
// the decoders Debian's libarchive links (zlib, libzstd), in-process.
#include "fs/mkfs/blob_stream.h"

#include <utility>

#include "fs/mkfs/archive_api.h"

namespace sealfs::mkfs {
namespace {

class Checked : public ByteStream {
 public:
  Checked(ByteStream& in, const Digest& digest, std::optional<uint64_t> size,
          std::string what)
      : in_(in), digest_(digest), size_(size), what_(std::move(what)) {}

  Result<std::span<const uint8_t>> Next() override {
    if (!failure_.ok()) return failure_;
    if (done_) return std::span<const uint8_t>();
    Result<std::span<const uint8_t>> piece = in_.Next();
    if (!piece.ok()) return Fail(piece.status());
    if (piece->empty()) {
      done_ = true;
      if (size_.has_value() && seen_ != *size_) {
        return Fail(Status::Corrupt(what_ + ": " + std::to_string(seen_) +
                                    " bytes, its descriptor says " +
                                    std::to_string(*size_) + " (truncated)"));
      }
      const Digest got = sha_.Finish();
      if (got != digest_) {
        return Fail(Status::FromErrno(
            kErrDigest, what_ + ": sha256 " + got.ToString() + ", expected " +
                            digest_.ToString()));
      }
      return piece;
    }
    if (size_.has_value() && piece->size() > *size_ - seen_) {
      return Fail(Status::Corrupt(what_ + ": longer than the " +
                                  std::to_string(*size_) +
                                  " bytes its descriptor says"));
    }
    seen_ += piece->size();
    sha_.Update(*piece);
    return piece;
  }

 private:
  Status Fail(Status status) {
    failure_ = std::move(status);
    return failure_;
  }

  ByteStream& in_;
  const Digest digest_;
  const std::optional<uint64_t> size_;
  const std::string what_;
  Sha256Stream sha_;
  uint64_t seen_ = 0;
  bool done_ = false;
  Status failure_;
};

class Passthrough : public ByteStream {
 public:
  explicit Passthrough(ByteStream& in) : in_(in) {}
  Result<std::span<const uint8_t>> Next() override { return in_.Next(); }

 private:
  ByteStream& in_;
};

struct ArchiveDeleter {
  void operator()(archive* a) const { Archive().read_free(a); }
};

class Decompressed : public ByteStream {
 public:
  Decompressed(ByteStream& in, Compression compression)
      : in_(in), compression_(compression) {}

  Status Open() {
    a_.reset(Archive().read_new());
    if (a_ == nullptr) return Status::FromErrno(ENOMEM, "archive_read_new");
    const bool gzip = compression_ == Compression::kGzip;
    const int enabled = gzip ? Archive().read_support_filter_gzip(a_.get())
                             : Archive().read_support_filter_zstd(a_.get());
    // ARCHIVE_WARN would mean an external program: not for hostile bytes.
    if (enabled != ARCHIVE_OK) {
      return Status::FromErrno(ENOTSUP, std::string("libarchive lacks an "
                                                    "in-process ") +
                                            Name() + " decoder");
    }
    if (Archive().read_support_format_raw(a_.get()) != ARCHIVE_OK) {
      return Status::FromErrno(ENOTSUP, "libarchive lacks the raw format");
    }
    if (Archive().read_open(a_.get(), this, nullptr, &Decompressed::Read,
                            nullptr) != ARCHIVE_OK) {
      return Error();
    }
    archive_entry* entry = nullptr;
    const int r = Archive().read_next_header(a_.get(), &entry);
    if (r == ARCHIVE_EOF) {
      return Status::Corrupt(std::string("not ") + Name() + " data (empty)");
    }
    if (r != ARCHIVE_OK) return Error();
    // With one filter enabled libarchive still falls back to none for
    // bytes that are not that format; the media type said compressed.
    const int want = gzip ? ARCHIVE_FILTER_GZIP : ARCHIVE_FILTER_ZSTD;
    if (Archive().filter_code(a_.get(), 0) != want) {
      return Status::Corrupt(std::string("not ") + Name() +
                             " data, as the layer's media type says");
    }
    return {};
  }

  Result<std::span<const uint8_t>> Next() override {
    if (!failure_.ok()) return failure_;
    if (done_) return std::span<const uint8_t>();
    for (;;) {
      const void* buf = nullptr;
      size_t len = 0;
      la_int64_t offset = 0;
      const int r = Archive().read_data_block(a_.get(), &buf, &len, &offset);
      if (r == ARCHIVE_EOF) {
        done_ = true;
        return std::span<const uint8_t>();
      }
      if (r != ARCHIVE_OK) {
        failure_ = Error();
        return failure_;
      }
      // The raw format yields its one entry in order, without holes.
      if (offset < 0 || static_cast<uint64_t>(offset) != produced_) {
        failure_ = Status::Corrupt(std::string(Name()) +
                                   ": decoder output out of order");
        return failure_;
      }
      produced_ += len;
      if (len == 0) continue;
      return std::span<const uint8_t>(static_cast<const uint8_t*>(buf), len);
    }
  }

 private:
  const char* Name() const {
    return compression_ == Compression::kGzip ? "gzip" : "zstd";
  }

  static la_ssize_t Read(archive* a, void* client_data, const void** out) {
    auto* self = static_cast<Decompressed*>(client_data);
    Result<std::span<const uint8_t>> piece = self->in_.Next();
    if (!piece.ok()) {
      self->read_status_ = piece.status();
      Archive().set_error(a, piece.status().err(), "%s",
                          piece.status().ToString().c_str());
      return -1;
    }
    *out = piece->data();
    return static_cast<la_ssize_t>(piece->size());
  }

  // The stream's own failure if reading failed, else the decoder's reason.
  Status Error() {
    if (!read_status_.ok()) return read_status_;
    const char* msg = Archive().error_string(a_.get());
    return Status::Corrupt(std::string(Name()) + ": " +
                           (msg != nullptr ? msg : "undecodable data"));
  }

  ByteStream& in_;
  const Compression compression_;
  std::unique_ptr<archive, ArchiveDeleter> a_;
  Status read_status_;
  Status failure_;
  uint64_t produced_ = 0;
  bool done_ = false;
};

}  // namespace

std::unique_ptr<ByteStream> CheckedStream(ByteStream& in, const Digest& digest,
                                          std::optional<uint64_t> size,
                                          std::string what) {
  return std::make_unique<Checked>(in, digest, size, std::move(what));
}

Status Drain(ByteStream& in) {
  for (;;) {
    SEALFS_ASSIGN_OR_RETURN(std::span<const uint8_t> piece, in.Next());
    if (piece.empty()) return {};
  }
}

Result<std::unique_ptr<ByteStream>> DecompressStream(ByteStream& in,
                                                     Compression compression) {
  if (compression == Compression::kNone) {
    return std::unique_ptr<ByteStream>(std::make_unique<Passthrough>(in));
  }
  SEALFS_RETURN_IF_ERROR(LoadArchive().status());
  auto stream = std::make_unique<Decompressed>(in, compression);
  SEALFS_RETURN_IF_ERROR(stream->Open());
  return std::unique_ptr<ByteStream>(std::move(stream));
}

}  // namespace sealfs::mkfs
