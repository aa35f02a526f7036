// SPDX-License-Identifier: Apache-2.0
// LocalSource: objects and images read from another store directory.
#include "fs/remote/local_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>
#include <vector>

#include "fs/core/store_io.h"
#include "fs/util/io.h"
#include "sealfs/store.h"

namespace sealfs::remote {
namespace {

// Bytes handed to a sink per call.
constexpr size_t kChunkBytes = size_t{1} << 20;

class LocalSource : public ObjectSource {
 public:
  explicit LocalSource(std::shared_ptr<Store> store)
      : store_(std::move(store)) {}

  std::shared_ptr<FetchTicket> Fetch(const FetchRequest& request,
                                     std::shared_ptr<FetchSink> sink) override {
    sink->OnDone(Copy(request, *sink));
    return nullptr;
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

  bool synchronous() const override { return true; }
  const std::string& location() const override { return store_->path(); }

 private:
  // Opens the part beneath the store (Store::OpenObject's rules: no
  // symlink in any component, O_NONBLOCK, regular files only) and checks
  // its size against the manifest's.
  Result<UniqueFd> OpenPart(const FetchRequest& request,
                            const std::string& what) {
    Result<UniqueFd> fd =
        request.part == ObjectPart::kData
            ? store_->OpenObject(request.digest)
            : OpenBeneath(store_->dir_fd(), Store::TreePath(request.digest),
                          O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (!fd.ok()) {
      if (fd.status().err() == ENOENT) {
        return Status::FromErrno(ENOENT, what + ": not found");
      }
      return StoreOpenError(fd.status().err(), what);
    }
    struct stat st;
    if (::fstat(fd->get(), &st) != 0) return ErrnoStatus(what + ": fstat");
    SEALFS_RETURN_IF_ERROR(CheckRegular(st, what));
    const uint64_t size = PartSize(request.part, request.object_size);
    if (static_cast<uint64_t>(st.st_size) != size) {
      return Status::Corrupt(
          what + ": source has " + std::to_string(st.st_size) +
          " bytes, the manifest says " + std::to_string(size));
    }
    return fd;
  }

  Status Copy(const FetchRequest& request, FetchSink& sink) {
    const std::string what = PartName(request) + " at " + store_->path();
    SEALFS_ASSIGN_OR_RETURN(UniqueFd fd, OpenPart(request, what));
    std::vector<uint8_t> buffer(
        static_cast<size_t>(std::min<uint64_t>(request.length, kChunkBytes)));
    const uint64_t end = request.offset + request.length;
    for (uint64_t off = request.offset; off < end;) {
      const size_t want =
          static_cast<size_t>(std::min<uint64_t>(buffer.size(), end - off));
      SEALFS_ASSIGN_OR_RETURN(
          size_t got,
          PreadFull(fd.get(), std::span<uint8_t>(buffer).first(want), off));
      if (got == 0) {
        return Status::Corrupt(what + ": ended at byte " + std::to_string(off) +
                               " of " + std::to_string(end));
      }
      SEALFS_RETURN_IF_ERROR(
          sink.OnData(off, std::span<const uint8_t>(buffer).first(got)));
      off += got;
    }
    return {};
  }

  std::shared_ptr<Store> store_;
};

}  // namespace

Result<std::unique_ptr<ObjectSource>> OpenLocalSource(const std::string& path) {
  SEALFS_ASSIGN_OR_RETURN(std::shared_ptr<Store> store,
                          Store::Open(path, Store::Mode::kReadOnly));
  return std::unique_ptr<ObjectSource>(new LocalSource(std::move(store)));
}

}  // namespace sealfs::remote
