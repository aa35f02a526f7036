// SPDX-License-Identifier: Apache-2.0
// One FUSE session the service serves: a connection somebody else mounted
// (or an earlier service served), the Filesystem behind it, and the worker
// threads that answer it. Thread-safety: Start, then finished() from any
// thread; Join once.
#ifndef SEALFS_FS_SERVE_SERVED_MOUNT_H_
#define SEALFS_FS_SERVE_SERVED_MOUNT_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fuse_lowlevel.h>

#include "fs/fuse/filesystem.h"
#include "fs/serve/protocol.h"
#include "fs/serve/shared_images.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/status.h"
#include "sealfs/unique_fd.h"

namespace sealfs::serve {

class ServedMount {
 public:
  // Serves `record` on `fuse_fd` with `fs`. A fresh connection
  // (record.init empty) has its INIT read and answered first, and
  // record.init is filled in; a connection taken over has that INIT
  // replayed and the requests its earlier server left unanswered queued
  // again. `kernel_options` as the mount was made with (libfuse checks the
  // INIT against them). Returns once the session is ready.
  static Result<std::unique_ptr<ServedMount>> Start(
      SessionRecord record, UniqueFd fuse_fd, UniqueFd image_fd,
      UniqueFd store_fd, std::unique_ptr<fuse::Filesystem> fs,
      std::shared_ptr<const ImageUse> image, const std::string& kernel_options,
      unsigned threads);
  ~ServedMount();
  ServedMount(const ServedMount&) = delete;
  ServedMount& operator=(const ServedMount&) = delete;

  // True once every worker has stopped: the mount is gone (or the process
  // stops serving, see fuse::SetDeviceStopFd).
  bool finished() const { return running_.load() == 0; }
  // Waits for the workers.
  void Join();

  const SessionRecord& record() const { return record_; }
  int fuse_fd() const { return fuse_fd_.get(); }
  int image_fd() const { return image_fd_.get(); }
  int store_fd() const { return store_fd_.get(); }
  const Manifest& manifest() const { return *image_->manifest; }
  fuse::Filesystem& fs() { return *fs_; }

 private:
  ServedMount() = default;
  void Work();

  SessionRecord record_;
  UniqueFd fuse_fd_;  // the service's own copy; the session has a dup
  UniqueFd image_fd_;
  UniqueFd store_fd_;
  std::shared_ptr<const ImageUse> image_;
  std::unique_ptr<fuse::Filesystem> fs_;
  fuse_session* se_ = nullptr;
  std::vector<std::thread> workers_;
  std::atomic<int> running_{0};
};

}  // namespace sealfs::serve

#endif  // SEALFS_FS_SERVE_SERVED_MOUNT_H_
