// SPDX-License-Identifier: Apache-2.0
// StoreLock: flock(2) on STORE/lock. Every writer (StoreWriter, tagging)
// holds it shared for its whole life; gc holds it exclusive while it sweeps,
// so a sweep never runs while a build is between "object already present"
// and "image tagged" (docs/DESIGN.md#store-lifecycle). flock favours no
// one, so builds that overlap without end would starve gc; a turnstile (a
// flock on the store directory, held shared only while a writer takes its
// lock, and exclusive by gc while it waits) stops new writers while gc
// waits for the ones in flight. Thread-safe.
#ifndef SEALFS_FS_CORE_STORE_LOCK_H_
#define SEALFS_FS_CORE_STORE_LOCK_H_

#include <sys/types.h>

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
  ~StoreLock();
  StoreLock(StoreLock&& other) noexcept;
  StoreLock& operator=(StoreLock&& other) noexcept;
  bool held() const { return fd_.valid(); }

 private:
  explicit StoreLock(UniqueFd fd) : fd_(std::move(fd)) {}
  void Release();
  UniqueFd fd_;
  // For a shared lock: the lock file's identity, counted process-wide so
  // that a thread whose process already holds the store shared skips the
  // turnstile (else it could wait for a gc that waits for its process).
  bool counted_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

// Processes holding a shared flock on the file open at `fd`, from
// /proc/locks; -1 if that cannot be read. For messages only.
int CountSharedLockHolders(int fd);

}  // namespace sealfs

#endif  // SEALFS_FS_CORE_STORE_LOCK_H_
