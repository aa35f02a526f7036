// SPDX-License-Identifier: Apache-2.0
// StoreLock: the lock file, shared and exclusive flock, and counting holders
// through /proc/locks for gc's "waiting for N writers" message.
#include "fs/core/store_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <utility>

#include "fs/core/store_io.h"
#include "sealfs/format.h"

namespace sealfs {
namespace {

const std::string kWhat = std::string("store lock file ") + kLockFile;

// Opens (creating if missing) the lock file. O_NONBLOCK and O_NOFOLLOW: a
// FIFO or symlink planted under the name is refused, never waited on.
Result<UniqueFd> OpenLockFile(int store_fd) {
  int fd;
  do {
    fd = ::openat(store_fd, kLockFile,
                  O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                  0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int err = errno;
    return StoreOpenError(err, kWhat);
  }
  UniqueFd owned(fd);
  struct stat st;
  if (::fstat(owned.get(), &st) != 0) return ErrnoStatus(kWhat + ": fstat");
  SEALFS_RETURN_IF_ERROR(CheckRegular(st, kWhat));
  return owned;
}

int Flock(int fd, int op) {
  int rc;
  do {
    rc = ::flock(fd, op);
  } while (rc != 0 && errno == EINTR);
  return rc;
}

// Shared locks this process holds, by lock file.
std::mutex g_shared_mu;
std::map<std::pair<dev_t, ino_t>, int>& SharedHeld() {
  static auto* held = new std::map<std::pair<dev_t, ino_t>, int>();
  return *held;
}

// The turnstile: a new open file description of the store directory, so
// that its flock is this call's alone. `op` LOCK_SH for a writer passing
// through, LOCK_EX for gc; released when the fd is closed.
Result<UniqueFd> PassTurnstile(int store_fd, int op, bool wait) {
  UniqueFd dir(::openat(store_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return ErrnoStatus("store directory");
  if (Flock(dir.get(), op | LOCK_NB) == 0) return dir;
  if (errno != EWOULDBLOCK) return ErrnoStatus("store directory: flock");
  if (!wait) {
    return Status::FromErrno(EWOULDBLOCK,
                             op == LOCK_SH ? "store is being garbage collected"
                                           : "store is being garbage "
                                             "collected by another gc");
  }
  if (Flock(dir.get(), op) != 0) return ErrnoStatus("store directory: flock");
  return dir;
}

}  // namespace

StoreLock::~StoreLock() { Release(); }

StoreLock::StoreLock(StoreLock&& other) noexcept
    : fd_(std::move(other.fd_)),
      counted_(std::exchange(other.counted_, false)),
      dev_(other.dev_),
      ino_(other.ino_) {}

StoreLock& StoreLock::operator=(StoreLock&& other) noexcept {
  if (this != &other) {
    Release();
    fd_ = std::move(other.fd_);
    counted_ = std::exchange(other.counted_, false);
    dev_ = other.dev_;
    ino_ = other.ino_;
  }
  return *this;
}

void StoreLock::Release() {
  fd_.reset();
  if (counted_) {
    std::lock_guard lock(g_shared_mu);
    auto it = SharedHeld().find({dev_, ino_});
    if (it != SharedHeld().end() && --it->second <= 0) SharedHeld().erase(it);
    counted_ = false;
  }
}

Status CreateStoreLockFile(int store_fd) {
  SEALFS_ASSIGN_OR_RETURN(UniqueFd fd, OpenLockFile(store_fd));
  return {};
}

Result<StoreLock> StoreLock::Acquire(int store_fd, Kind kind, bool wait,
                                     const WaitCallback& on_wait) {
  SEALFS_ASSIGN_OR_RETURN(UniqueFd fd, OpenLockFile(store_fd));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(kWhat + ": fstat");
  const std::pair<dev_t, ino_t> key{st.st_dev, st.st_ino};
  const bool shared = kind == Kind::kShared;
  bool nested = false;
  if (shared) {
    std::lock_guard lock(g_shared_mu);
    auto it = SharedHeld().find(key);
    nested = it != SharedHeld().end() && it->second > 0;
  }
  // Held until the lock itself is taken: a writer only passes through; gc
  // keeps new writers out while it waits for those already in.
  UniqueFd turnstile;
  if (!nested) {
    SEALFS_ASSIGN_OR_RETURN(
        turnstile, PassTurnstile(store_fd, shared ? LOCK_SH : LOCK_EX, wait));
  }
  const int op = shared ? LOCK_SH : LOCK_EX;
  if (Flock(fd.get(), op | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return ErrnoStatus(kWhat + ": flock");
    if (!wait) {
      return Status::FromErrno(
          EWOULDBLOCK, shared ? "store is being garbage collected"
                              : "store is in use by " +
                                    std::to_string(std::max(
                                        CountSharedLockHolders(fd.get()), 1)) +
                                    " writer(s)");
    }
    if (on_wait) on_wait(CountSharedLockHolders(fd.get()));
    if (Flock(fd.get(), op) != 0) return ErrnoStatus(kWhat + ": flock");
  }
  StoreLock held(std::move(fd));
  if (shared) {
    std::lock_guard lock(g_shared_mu);
    ++SharedHeld()[key];
    held.counted_ = true;
    held.dev_ = key.first;
    held.ino_ = key.second;
  }
  return held;
}

int CountSharedLockHolders(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return -1;
  char id[64];
  std::snprintf(id, sizeof(id), "%02x:%02x:%llu", major(st.st_dev),
                minor(st.st_dev), static_cast<unsigned long long>(st.st_ino));
  std::ifstream locks("/proc/locks");
  if (!locks) return -1;
  // "1: FLOCK  ADVISORY  READ  1234 fd:01:5678 0 EOF"; waiters have "->".
  int holders = 0;
  std::string line;
  while (std::getline(locks, line)) {
    std::istringstream fields(line);
    std::string index, type, advisory, access, pid, file;
    fields >> index >> type >> advisory >> access >> pid >> file;
    if (type == "FLOCK" && access == "READ" && file == id) ++holders;
  }
  return holders;
}

}  // namespace sealfs
