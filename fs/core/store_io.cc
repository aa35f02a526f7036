// SPDX-License-Identifier: Apache-2.0
// Store file primitives: symlink-free opens beneath the store, fan-out
// directories, temp files linked into place. Reentrant.
#include "fs/core/store_io.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <utility>

#include "fs/util/io.h"
#include "sealfs/format.h"

namespace sealfs {
namespace {

std::atomic<bool> tmpfile_disabled{false};
// Set once openat2() reports ENOSYS (kernel < 5.6, or a seccomp filter).
std::atomic<bool> openat2_missing{false};

// Whether the process's umask keeps read bits from a new file's mode, so
// that a temp file needs an fchmod to be 0444. Read once, from
// /proc/self/status (the umask cannot be read without being set, which
// would race with other threads); unknown counts as yes.
bool UmaskHidesReadBits() {
  static const bool hides = [] {
    FILE* f = std::fopen("/proc/self/status", "re");
    if (f == nullptr) return true;
    char line[256];
    unsigned mask = 07777;
    while (std::fgets(line, sizeof(line), f) != nullptr) {
      if (std::sscanf(line, "Umask: %o", &mask) == 1) break;
    }
    std::fclose(f);
    return (mask & 0444) != 0;
  }();
  return hides;
}

int OpenNoFollow(int dir_fd, const char* name, int flags) {
  int fd;
  do {
    fd = ::openat(dir_fd, name, flags | O_NOFOLLOW | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// Without openat2: walk the components ourselves, each with O_NOFOLLOW.
// `rel` is built by us ("objects/ab/<62 hex>"), so it has no "." or "..".
Result<UniqueFd> WalkBeneath(int dir_fd, const std::string& rel, int flags) {
  UniqueFd cur;
  int at = dir_fd;
  size_t start = 0;
  for (;;) {
    size_t slash = rel.find('/', start);
    if (slash == std::string::npos) break;
    std::string component = rel.substr(start, slash - start);
    UniqueFd next(OpenNoFollow(at, component.c_str(), O_PATH | O_DIRECTORY));
    if (!next.valid()) return ErrnoStatus(rel);
    cur = std::move(next);
    at = cur.get();
    start = slash + 1;
  }
  UniqueFd fd(OpenNoFollow(at, rel.c_str() + start, flags));
  if (!fd.valid()) return ErrnoStatus(rel);
  return fd;
}

const char* FileTypeName(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return "a directory";
    case S_IFLNK:
      return "a symlink";
    case S_IFIFO:
      return "a FIFO";
    case S_IFSOCK:
      return "a socket";
    case S_IFCHR:
      return "a character device";
    case S_IFBLK:
      return "a block device";
    default:
      return "not a regular file";
  }
}

std::string RandomTempName() {
  uint64_t r = 0;
  if (::getrandom(&r, sizeof(r), 0) != static_cast<ssize_t>(sizeof(r))) {
    // Uniqueness comes from O_EXCL; the randomness only avoids retries.
    static std::atomic<uint64_t> counter{0};
    r = (static_cast<uint64_t>(::getpid()) << 32) ^ counter.fetch_add(1);
  }
  char name[40];
  std::snprintf(name, sizeof(name), "%s%016llx", kTempPrefix,
                static_cast<unsigned long long>(r));
  return name;
}

}  // namespace

std::string FanoutName(const Digest& digest) {
  return digest.Hex().substr(0, 2);
}

std::string LeafName(const Digest& digest) { return digest.Hex().substr(2); }

Result<UniqueFd> OpenBeneath(int dir_fd, const std::string& rel, int flags) {
  if (!openat2_missing.load(std::memory_order_relaxed)) {
    struct open_how how = {};
    how.flags = static_cast<uint64_t>(flags | O_NOFOLLOW | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    for (int attempt = 0;; ++attempt) {
      long fd = ::syscall(SYS_openat2, dir_fd, rel.c_str(), &how, sizeof(how));
      if (fd >= 0) return UniqueFd(static_cast<int>(fd));
      // EAGAIN: a concurrent rename raced the lookup; it is safe to retry.
      if (errno == EINTR || (errno == EAGAIN && attempt < 8)) continue;
      if (errno == ENOSYS) {
        openat2_missing.store(true, std::memory_order_relaxed);
        break;
      }
      // Container seccomp profiles that predate openat2 deny it with EPERM.
      if (errno != EPERM) return ErrnoStatus(rel);
      Result<UniqueFd> walked = WalkBeneath(dir_fd, rel, flags);
      if (walked.ok()) openat2_missing.store(true, std::memory_order_relaxed);
      return walked;
    }
  }
  return WalkBeneath(dir_fd, rel, flags);
}

Status StoreOpenError(int err, const std::string& what) {
  switch (err) {
    case ELOOP:
      return Status::Corrupt(what + ": is a symlink");
    case ENOTDIR:
      return Status::Corrupt(what + ": a fan-out name is not a directory");
    case ENXIO:
    case ENODEV:
      return Status::Corrupt(what + ": not a regular file (special file)");
    case EXDEV:
      return Status::Corrupt(what + ": resolves outside the store");
    default:
      return Status::FromErrno(err, what);
  }
}

Status CheckRegular(const struct stat& st, const std::string& what) {
  if (S_ISREG(st.st_mode)) return {};
  return Status::Corrupt(what + ": is " + FileTypeName(st.st_mode) +
                         ", not a regular file");
}

Result<UniqueFd> OpenFanoutDir(int store_fd, const char* top,
                               const Digest& digest, bool create) {
  const std::string fanout = FanoutName(digest);
  const std::string rel = std::string(top) + "/" + fanout;
  for (int attempt = 0;; ++attempt) {
    Result<UniqueFd> dir = OpenBeneath(store_fd, rel, O_PATH | O_DIRECTORY);
    if (dir.ok()) return dir;
    const int err = dir.status().err();
    if (err != ENOENT || !create || attempt > 0) {
      return StoreOpenError(err, "store: " + rel);
    }
    SEALFS_ASSIGN_OR_RETURN(UniqueFd top_fd,
                            OpenBeneath(store_fd, top, O_PATH | O_DIRECTORY));
    if (::mkdirat(top_fd.get(), fanout.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoStatus("store: mkdir " + rel);
    }
  }
}

TempFile::TempFile(TempFile&& other) noexcept
    : fd_(std::move(other.fd_)),
      dir_fd_(other.dir_fd_),
      link_dir_(other.link_dir_),
      temp_name_(std::move(other.temp_name_)) {
  other.temp_name_.clear();
}

TempFile& TempFile::operator=(TempFile&& other) noexcept {
  if (this != &other) {
    Discard();
    fd_ = std::move(other.fd_);
    dir_fd_ = other.dir_fd_;
    link_dir_ = other.link_dir_;
    temp_name_ = std::move(other.temp_name_);
    other.temp_name_.clear();
  }
  return *this;
}

Result<TempFile> TempFile::Create(int dir_fd) {
  TempFile temp;
  temp.dir_fd_ = dir_fd;
  if (!tmpfile_disabled.load(std::memory_order_relaxed)) {
    int fd = ::openat(dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0444);
    if (fd >= 0) {
      temp.fd_.reset(fd);
    } else if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL &&
               errno != ENOSYS) {
      // EISDIR/EINVAL/ENOSYS: a kernel or filesystem without O_TMPFILE.
      return ErrnoStatus("store: create temp file");
    }
  }
  for (int attempt = 0; !temp.fd_.valid(); ++attempt) {
    std::string name = RandomTempName();
    int fd = ::openat(dir_fd, name.c_str(),
                      O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0444);
    if (fd >= 0) {
      temp.fd_.reset(fd);
      temp.temp_name_ = std::move(name);
    } else if (errno != EEXIST || attempt >= 16) {
      return ErrnoStatus("store: create temp file");
    }
  }
  // The umask must not decide an object's mode.
  if (UmaskHidesReadBits() && ::fchmod(temp.fd_.get(), 0444) != 0) {
    return ErrnoStatus("store: chmod temp file");
  }
  return temp;
}

Result<bool> TempFile::Link(const std::string& name) {
  const int target = link_dir_ >= 0 ? link_dir_ : dir_fd_;
  int rc;
  if (named()) {
    rc = ::linkat(dir_fd_, temp_name_.c_str(), target, name.c_str(), 0);
  } else {
    char proc_path[64];
    std::snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", fd_.get());
    rc = ::linkat(AT_FDCWD, proc_path, target, name.c_str(), AT_SYMLINK_FOLLOW);
    if (rc != 0 && errno == ENOENT) {
      // No /proc mounted: AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH, but is
      // the only other way to name an O_TMPFILE inode.
      rc = ::linkat(fd_.get(), "", target, name.c_str(), AT_EMPTY_PATH);
    }
  }
  const int err = rc == 0 ? 0 : errno;
  if (err != 0 && err != EEXIST) {
    return Status::FromErrno(err, "store: link " + name);
  }
  Discard();
  return err == 0;
}

void TempFile::Discard() {
  fd_.reset();
  if (!temp_name_.empty()) {
    ::unlinkat(dir_fd_, temp_name_.c_str(), 0);
    temp_name_.clear();
  }
}

Status WriteNewFile(int dir_fd, const std::string& name,
                    std::span<const uint8_t> data) {
  SEALFS_ASSIGN_OR_RETURN(TempFile temp, TempFile::Create(dir_fd));
  SEALFS_RETURN_IF_ERROR(PwriteFull(temp.fd(), data, 0));
  if (::fsync(temp.fd()) != 0) return ErrnoStatus("store: fsync " + name);
  SEALFS_ASSIGN_OR_RETURN(bool linked, temp.Link(name));
  (void)linked;
  return {};
}

void SetTmpfileDisabledForTesting(bool disabled) {
  tmpfile_disabled.store(disabled, std::memory_order_relaxed);
}

void SetOpenat2DisabledForTesting(bool disabled) {
  openat2_missing.store(disabled, std::memory_order_relaxed);
}

}  // namespace sealfs
