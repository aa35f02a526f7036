// SPDX-License-Identifier: Apache-2.0
// Shared manifests and stores of the service.
#include "fs/serve/shared_images.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "fs/util/io.h"

namespace sealfs::serve {
namespace {

constexpr uint64_t kMaxImageBytes = uint64_t{1} << 30;

int64_t Ns(const timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

}  // namespace

Result<std::shared_ptr<const ImageUse>> SharedImages::Image(int fd,
                                                            bool* reused) {
  *reused = false;
  struct stat st {};
  if (fstat(fd, &st) != 0) return ErrnoStatus("image");
  if (!S_ISREG(st.st_mode)) {
    return Status::FromErrno(EINVAL, "image is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxImageBytes) {
    return Status::FromErrno(EFBIG, "image larger than 1 GiB");
  }
  const FileKey key{st.st_dev, st.st_ino, st.st_size, Ns(st.st_mtim),
                    Ns(st.st_ctim)};
  {
    std::lock_guard lock(mu_);
    auto it = by_file_.find(key);
    if (it != by_file_.end()) {
      if (auto held = it->second.lock()) {
        *reused = true;
        return held;
      }
    }
  }
  // Read through the caller's descriptor (never reopened by path), then
  // validated privately: later writes to the file cannot reach it.
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  SEALFS_ASSIGN_OR_RETURN(size_t got, PreadFull(fd, bytes, 0));
  if (got != bytes.size()) {
    return Status::FromErrno(EIO, "image shrank while being read");
  }
  SEALFS_ASSIGN_OR_RETURN(std::shared_ptr<const Manifest> manifest,
                          Manifest::FromBytes(std::move(bytes)));
  std::shared_ptr<const ImageUse> fresh(new ImageUse{std::move(manifest)});
  std::lock_guard lock(mu_);
  std::weak_ptr<const ImageUse>& same = by_digest_[fresh->manifest->identity()];
  if (auto held = same.lock()) {
    *reused = true;
    fresh = held;
  } else {
    same = fresh;
  }
  by_file_[key] = fresh;
  // Forget what no mount holds any more, so the maps stay small.
  std::erase_if(by_file_, [](const auto& e) { return e.second.expired(); });
  std::erase_if(by_digest_, [](const auto& e) { return e.second.expired(); });
  return fresh;
}

Result<SharedStore> SharedImages::StoreFor(int dir_fd, bool writable) {
  struct stat st {};
  if (fstat(dir_fd, &st) != 0) return ErrnoStatus("store");
  if (!S_ISDIR(st.st_mode)) {
    return Status::FromErrno(ENOTDIR, "store is not a directory");
  }
  std::lock_guard lock(mu_);
  const std::tuple<dev_t, ino_t, bool> key{st.st_dev, st.st_ino, writable};
  std::shared_ptr<Store> store = stores_[key].lock();
  if (store == nullptr) {
    // The caller's own descriptor names the directory: a path it gave
    // could be swapped for another between its check and this open.
    SEALFS_ASSIGN_OR_RETURN(
        store,
        Store::Open("/proc/self/fd/" + std::to_string(dir_fd),
                    writable ? Store::Mode::kCreate : Store::Mode::kReadOnly));
    stores_[key] = store;
  }
  std::shared_ptr<fuse::OpenObjectTable> objects = objects_[store.get()].lock();
  if (objects == nullptr) {
    objects = std::make_shared<fuse::OpenObjectTable>();
    objects_[store.get()] = objects;
  }
  std::erase_if(stores_, [](const auto& e) { return e.second.expired(); });
  std::erase_if(objects_, [](const auto& e) { return e.second.expired(); });
  return SharedStore{store, objects};
}

}  // namespace sealfs::serve
