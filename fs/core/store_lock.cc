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

}  // namespace

Status CreateStoreLockFile(int store_fd) {
  SEALFS_ASSIGN_OR_RETURN(UniqueFd fd, OpenLockFile(store_fd));
  return {};
}

Result<StoreLock> StoreLock::Acquire(int store_fd, Kind kind, bool wait,
                                     const WaitCallback& on_wait) {
  SEALFS_ASSIGN_OR_RETURN(UniqueFd fd, OpenLockFile(store_fd));
  const int op = kind == Kind::kShared ? LOCK_SH : LOCK_EX;
  if (Flock(fd.get(), op | LOCK_NB) == 0) return StoreLock(std::move(fd));
  if (errno != EWOULDBLOCK) return ErrnoStatus(kWhat + ": flock");
  if (!wait) {
    return Status::FromErrno(
        EWOULDBLOCK, kind == Kind::kShared
                         ? "store is being garbage collected"
                         : "store is in use by " +
                               std::to_string(std::max(
                                   CountSharedLockHolders(fd.get()), 1)) +
                               " writer(s)");
  }
  if (on_wait) on_wait(CountSharedLockHolders(fd.get()));
  if (Flock(fd.get(), op) != 0) return ErrnoStatus(kWhat + ": flock");
  return StoreLock(std::move(fd));
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
