// SPDX-License-Identifier: Apache-2.0
// StoreLock: flock(2) on STORE/lock. Every writer (StoreWriter, tagging)
// holds it shared for its whole life; gc holds it exclusive while it sweeps,
// so a sweep never runs while a build is between "object already present"
// and "image tagged" (docs/DESIGN.md#store-lifecycle). Thread-compatible.
#ifndef SEALFS_FS_CORE_STORE_LOCK_H_
#define SEALFS_FS_CORE_STORE_LOCK_H_

#include <functional>

#include "sealfs/status.h"
#include "sealfs/unique_fd.h"

namespace sealfs {

// Creates STORE/lock (an empty regular file, 0644) beneath `store_fd` if it
// is missing. kErrCorrupt if the name is not a regular file.
Status CreateStoreLockFile(int store_fd);

class StoreLock {
 public:
  enum class Kind { kShared, kExclusive };

  // Called once, before blocking, with the number of processes holding the
  // lock shared (-1 if unknown), when the lock is not free.
  using WaitCallback = std::function<void(int holders)>;

  // Takes the lock on STORE/lock beneath `store_fd`, creating the file if it
  // is missing. With `wait` false, a lock held by someone else is
  // EWOULDBLOCK instead of a wait. The lock lasts until the StoreLock is
  // destroyed. A shared lock blocks only while an exclusive one is held.
  static Result<StoreLock> Acquire(int store_fd, Kind kind, bool wait,
                                   const WaitCallback& on_wait = {});

  StoreLock() = default;
  bool held() const { return fd_.valid(); }

 private:
  explicit StoreLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// Processes holding a shared flock on the file open at `fd`, from
// /proc/locks; -1 if that cannot be read. For messages only.
int CountSharedLockHolders(int fd);

}  // namespace sealfs

#endif  // SEALFS_FS_CORE_STORE_LOCK_H_
