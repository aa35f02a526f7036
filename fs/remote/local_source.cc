// SPDX-License-Identifier: Apache-2.0
// LocalSource: objects and images read from another store directory.
#include "fs/remote/local_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "fs/core/store_io.h"
#include "fs/util/io.h"
#include "sealfs/store.h"

namespace sealfs::remote {
namespace {

class FileStream : public ObjectStream {
 public:
  FileStream(UniqueFd fd, uint64_t size, std::string what)
      : fd_(std::move(fd)), size_(size), what_(std::move(what)) {}

  Result<size_t> Read(std::span<uint8_t> out) override {
    if (offset_ >= size_) return size_t{0};
    if (out.size() > size_ - offset_) out = out.first(size_ - offset_);
    SEALFS_ASSIGN_OR_RETURN(size_t got, PreadFull(fd_.get(), out, offset_));
    if (got == 0) {
      return Status::Corrupt(what_ + ": ended after " +
                             std::to_string(offset_) + " of " +
                             std::to_string(size_) + " bytes");
    }
    offset_ += got;
    return got;
  }

 private:
  UniqueFd fd_;
  uint64_t size_;
  uint64_t offset_ = 0;
  std::string what_;
};

class LocalSource : public ObjectSource {
 public:
  explicit LocalSource(std::shared_ptr<Store> store)
      : store_(std::move(store)) {}

  Result<std::unique_ptr<ObjectStream>> OpenObject(const Digest& digest,
                                                   uint64_t size) override {
    const std::string what =
        "object " + digest.ToString() + " at " + store_->path();
    // Store::OpenObject opens beneath the store, O_NOFOLLOW in every
    // component, O_NONBLOCK, and refuses anything but a regular file.
    Result<UniqueFd> fd = store_->OpenObject(digest);
    if (!fd.ok()) {
      if (fd.status().err() == ENOENT) {
        return Status::FromErrno(ENOENT, what + ": not found");
      }
      return fd.status().WithPrefix(store_->path());
    }
    struct stat st;
    if (::fstat(fd->get(), &st) != 0) return ErrnoStatus(what + ": fstat");
    if (static_cast<uint64_t>(st.st_size) != size) {
      return Status::Corrupt(
          what + ": source has " + std::to_string(st.st_size) +
          " bytes, the manifest says " + std::to_string(size));
    }
    return std::unique_ptr<ObjectStream>(
        new FileStream(std::move(*fd), size, what));
  }

  Result<std::vector<uint8_t>> ReadImage(const std::string& name) override {
    const std::string rel = "images/" + name;
    const std::string what = "image " + name + " at " + store_->path();
    Result<UniqueFd> fd =
        OpenBeneath(store_->dir_fd(), rel, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (!fd.ok()) {
      if (fd.status().err() == ENOENT) {
        return Status::FromErrno(ENOENT, what + ": not found");
      }
      return StoreOpenError(fd.status().err(), what);
    }
    struct stat st;
    if (::fstat(fd->get(), &st) != 0) return ErrnoStatus(what + ": fstat");
    SEALFS_RETURN_IF_ERROR(CheckRegular(st, what));
    if (static_cast<uint64_t>(st.st_size) > kMaxImageBytes) {
      return Status::Corrupt(what + ": larger than " +
                             std::to_string(kMaxImageBytes) + " bytes");
    }
    // Read to EOF (bounded), not to st_size, so a file growing under us is
    // caught rather than silently cut.
    std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size) + 1);
    SEALFS_ASSIGN_OR_RETURN(size_t got, PreadFull(fd->get(), bytes, 0));
    if (got != static_cast<size_t>(st.st_size)) {
      return Status::Corrupt(what + ": changed while being read");
    }
    bytes.resize(got);
    return bytes;
  }

  const std::string& location() const override { return store_->path(); }

 private:
  std::shared_ptr<Store> store_;
};

}  // namespace

Result<std::unique_ptr<ObjectSource>> OpenLocalSource(const std::string& path) {
  SEALFS_ASSIGN_OR_RETURN(std::shared_ptr<Store> store,
                          Store::Open(path, Store::Mode::kReadOnly));
  return std::unique_ptr<ObjectSource>(new LocalSource(std::move(store)));
}

}  // namespace sealfs::remote
