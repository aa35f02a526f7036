// SPDX-License-Identifier: Apache-2.0
// What the service shares between mounts: one verified manifest per
// distinct image (found again by the image file's identity without reading
// it, and by content digest when two files hold the same image), and per
// store one Store and one table of open objects (fds and verified tree
// blocks). Entries live while a mount holds them. Thread-safe.
#ifndef SEALFS_FS_SERVE_SHARED_IMAGES_H_
#define SEALFS_FS_SERVE_SHARED_IMAGES_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "fs/fuse/open_file.h"
#include "sealfs/digest.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/status.h"
#include "sealfs/store.h"

namespace sealfs::serve {

// One distinct image held for its mounts: each mount holds one reference,
// so use_count() is the number of mounts sharing this manifest copy.
struct ImageUse {
  std::shared_ptr<const Manifest> manifest;
};

struct SharedStore {
  std::shared_ptr<Store> store;
  std::shared_ptr<fuse::OpenObjectTable> objects;
};

class SharedImages {
 public:
  // The manifest of the image file open at `fd`, validated (not yet
  // trusted: each mount checks its own keys). Held already if a file with
  // the same device, inode, size, mtime and ctime was read (`*reused` set),
  // or if another file held the same bytes. Errors as Manifest::FromBytes,
  // EINVAL for a file that is not regular, EFBIG past 1 GiB.
  Result<std::shared_ptr<const ImageUse>> Image(int fd, bool* reused);
  // The store whose directory is open at `dir_fd`, shared by every mount
  // of that directory that asks the same: read-only, or `writable` for a
  // lazy mount's fetches (then objects/ and trees/ are made if missing).
  Result<SharedStore> StoreFor(int dir_fd, bool writable);

 private:
  // dev, ino, size, mtime ns, ctime ns: a file's content identity without
  // reading it (as git's index does); ctime cannot be set back by a user.
  using FileKey = std::tuple<dev_t, ino_t, off_t, int64_t, int64_t>;
  std::mutex mu_;
  std::map<FileKey, std::weak_ptr<const ImageUse>> by_file_;
  std::map<Digest, std::weak_ptr<const ImageUse>> by_digest_;
  // dev, ino, writable.
  std::map<std::tuple<dev_t, ino_t, bool>, std::weak_ptr<Store>> stores_;
  std::map<const Store*, std::weak_ptr<fuse::OpenObjectTable>> objects_;
};

}  // namespace sealfs::serve

#endif  // SEALFS_FS_SERVE_SHARED_IMAGES_H_
