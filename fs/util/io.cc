// SPDX-License-Identifier: Apache-2.0
#include "fs/util/io.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <random>

#include "sealfs/unique_fd.h"

namespace sealfs {

Result<size_t> PreadFull(int fd, std::span<uint8_t> out, uint64_t offset) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd, out.data() + done, out.size() - done,
                        static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read");
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Status WriteFull(int fd, std::span<const uint8_t> data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write");
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

Status WriteExistingFile(const std::string& path, std::string_view text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(path);
  return WriteFull(fd.get(),
                   {reinterpret_cast<const uint8_t*>(text.data()), text.size()})
      .WithPrefix(path);
}

Status PwriteFull(int fd, std::span<const uint8_t> data, uint64_t offset) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done,
                         static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write");
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

Result<UniqueFd> OpenRegularFile(const std::string& path, struct stat* st) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return ErrnoStatus(path);
  if (::fstat(fd.get(), st) != 0) return ErrnoStatus(path);
  if (!S_ISREG(st->st_mode)) {
    return Status::FromErrno(EINVAL, path + ": not a regular file");
  }
  return fd;
}

Result<std::vector<uint8_t>> ReadFileBytes(const std::string& path,
                                           uint64_t max_bytes) {
  struct stat st;
  SEALFS_ASSIGN_OR_RETURN(UniqueFd fd, OpenRegularFile(path, &st));
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return Status::FromErrno(
        EFBIG, path + ": larger than " + std::to_string(max_bytes) + " bytes");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  Result<size_t> got = PreadFull(fd.get(), bytes, 0);
  if (!got.ok()) return got.status().WithPrefix(path);
  bytes.resize(*got);
  return bytes;
}

namespace {

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

Status SyncDirectory(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(path);
  if (::fsync(fd.get()) != 0) return ErrnoStatus("fsync " + path);
  return {};
}

Status WriteFileAtomic(const std::string& path, std::span<const uint8_t> data,
                       mode_t mode, bool no_replace) {
  std::random_device random;
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), ".tmp-%08x", random());
  const std::string temp = path + suffix;
  UniqueFd fd(
      ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd.valid()) return ErrnoStatus(temp);
  Status status = WriteFull(fd.get(), data);
  if (status.ok() && ::fchmod(fd.get(), mode) != 0)
    status = ErrnoStatus("chmod");
  if (status.ok() && ::fsync(fd.get()) != 0) status = ErrnoStatus("fsync");
  fd.reset();
  if (status.ok()) {
    // link() refuses an existing target, which is what no_replace needs;
    // rename() replaces it atomically.
    int rc = no_replace ? ::link(temp.c_str(), path.c_str())
                        : ::rename(temp.c_str(), path.c_str());
    if (rc != 0) status = ErrnoStatus(path);
  }
  if (no_replace || !status.ok()) ::unlink(temp.c_str());
  if (!status.ok()) {
    return status.context() == path ? status : status.WithPrefix(path);
  }
  return SyncDirectory(DirName(path));
}

void UseWholeFdLimit() {
  struct rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
      limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace sealfs
