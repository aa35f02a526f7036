// SPDX-License-Identifier: Apache-2.0
#include "fs/fuse/fusectl.h"

#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>

#include "fs/util/io.h"

namespace sealfs::fuse {
namespace {

constexpr char kConnections[] = "/sys/fs/fuse/connections";

Status WriteAbort(const std::string& minor) {
  return WriteExistingFile(std::string(kConnections) + "/" + minor + "/abort",
                           "1");
}

}  // namespace

Status AbortFuseConnection(const std::string& device) {
  const size_t colon = device.find(':');
  if (colon == std::string::npos || colon + 1 == device.size() ||
      device.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
    return Status::FromErrno(EINVAL, "device " + device);
  }
  const std::string minor = device.substr(colon + 1);
  Status aborted = WriteAbort(minor);
  if (aborted.err() != ENOENT) return aborted;
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
  return WriteAbort(minor);
}

}  // namespace sealfs::fuse
