// SPDX-License-Identifier: Apache-2.0
#include "fs/fuse/fusectl.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>

namespace sealfs::fuse {
namespace {

constexpr char kConnections[] = "/sys/fs/fuse/connections";

// Writes "1" to the connection's abort file; the errno of the failure.
int WriteAbort(const std::string& minor) {
  const std::string path = std::string(kConnections) + "/" + minor + "/abort";
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = write(fd, "1", 1) == 1 ? 0 : errno;
  close(fd);
  return err;
}

}  // namespace

Status AbortFuseConnection(const std::string& device) {
  const size_t colon = device.find(':');
  if (colon == std::string::npos || colon + 1 == device.size() ||
      device.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
    return Status::FromErrno(EINVAL, "device " + device);
  }
  const std::string minor = device.substr(colon + 1);
  int err = WriteAbort(minor);
  if (err != ENOENT) {
    return err == 0 ? Status() : Status::FromErrno(err, "fusectl abort");
  }
  // Not there: fusectl may just not be mounted. Mount it where only this
  // process sees it.
  if (access((std::string(kConnections) + "/.").c_str(), F_OK) != 0) {
    return Status::FromErrno(ENOENT, std::string(kConnections));
  }
  if (unshare(CLONE_NEWNS) != 0 ||
      mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      mount("fusectl", kConnections, "fusectl", 0, nullptr) != 0) {
    return Status::FromErrno(errno, "mounting fusectl");
  }
  err = WriteAbort(minor);
  return err == 0 ? Status() : Status::FromErrno(err, "fusectl abort");
}

}  // namespace sealfs::fuse
