// SPDX-License-Identifier: Apache-2.0
// Pre-flight checks for mounts through fusermount3.
#include "fs/fuse/unprivileged.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "fs/util/io.h"

namespace sealfs::fuse {
namespace {

std::string Octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

Status CheckDevice(const std::string& device) {
  struct stat st {};
  if (stat(device.c_str(), &st) != 0) {
    int err = errno;
    return Status::FromErrno(
        err, device + " is missing (is the fuse module loaded? modprobe fuse)");
  }
  // fusermount3 opens the device with the caller's file-system ids, so the
  // caller needs read and write access of its own.
  if (access(device.c_str(), R_OK | W_OK) != 0) {
    int err = errno;
    return Status::FromErrno(
        err, "cannot open " + device + " for an unprivileged mount (mode " +
                 Octal(st.st_mode) + ", owner uid " +
                 std::to_string(st.st_uid) +
                 "; it needs read-write access for this user, Debian's "
                 "default is 0666)");
  }
  return Status();
}

Status CheckFusermount(const HostPaths& paths) {
  std::string prog = FindFusermount(paths);
  if (prog.empty()) {
    return Status::FromErrno(ENOENT, "fusermount3 not found in " +
                                         paths.fusermount_dir +
                                         " or PATH (Debian package fuse3); an "
                                         "unprivileged user mounts through it");
  }
  struct stat st {};
  if (stat(prog.c_str(), &st) != 0) return ErrnoStatus(prog);
  if (st.st_uid != 0 || (st.st_mode & S_ISUID) == 0) {
    return Status::FromErrno(
        EPERM, prog +
                   " is not set-uid root, so it cannot mount for an "
                   "unprivileged user");
  }
  // Exec ignores the set-uid bit under no_new_privs (systemd's
  // NoNewPrivileges=, container runtimes).
  if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) {
    return Status::FromErrno(
        EPERM, "no_new_privs is set, so " + prog +
                   " cannot gain the privilege to mount (run without "
                   "NoNewPrivileges, or as root)");
  }
  return Status();
}

Status CheckAllowOther(const std::string& conf) {
  std::string text;
  UniqueFd fd(open(conf.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() >= 0) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd.get(), buf, sizeof(buf))) > 0) {
      text.append(buf, static_cast<size_t>(n));
      if (text.size() > (1 << 20)) break;  // no fuse.conf is this large
    }
  }
  if (FuseConfAllowsOther(text)) return Status();
  return Status::FromErrno(EPERM,
                           "allow_other for an unprivileged user needs "
                           "a line 'user_allow_other' in " +
                               conf);
}

}  // namespace

bool FuseConfAllowsOther(std::string_view text) {
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) break;  // fusermount3 skips it too
    std::string_view line = text.substr(start, nl - start);
    start = nl + 1;
    // fgets with a 256-byte buffer: a longer line is skipped whole.
    if (line.size() + 1 > 255) continue;
    line = line.substr(0, line.find('#'));
    while (!line.empty() && IsSpace(line.back())) line.remove_suffix(1);
    while (!line.empty() && IsSpace(line.front())) line.remove_prefix(1);
    if (line == "user_allow_other") return true;
  }
  return false;
}

std::string FindFusermount(const HostPaths& paths) {
  auto executable = [](const std::string& p) {
    struct stat st {};
    return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           access(p.c_str(), X_OK) == 0;
  };
  std::string first = paths.fusermount_dir + "/fusermount3";
  if (executable(first)) return first;
  std::string path = paths.path_env;
  if (path.empty()) {
    const char* env = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe)
    path = env != nullptr ? env : "/usr/bin:/bin";
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t colon = path.find(':', start);
    if (colon == std::string::npos) colon = path.size();
    std::string dir = path.substr(start, colon - start);
    start = colon + 1;
    if (dir.empty()) continue;
    std::string candidate = dir + "/fusermount3";
    if (executable(candidate)) return candidate;
  }
  return "";
}

Status CheckUnprivilegedMount(const MountOptions& options,
                              const HostPaths& paths) {
  SEALFS_RETURN_IF_ERROR(CheckDevice(paths.fuse_device));
  SEALFS_RETURN_IF_ERROR(CheckFusermount(paths));
  // fusermount3 reads fuse.conf only for callers other than root.
  const bool root = getuid() == 0;
  if (options.allow_other.value_or(root) && !root) {
    SEALFS_RETURN_IF_ERROR(CheckAllowOther(paths.fuse_conf));
  }
  return Status();
}

}  // namespace sealfs::fuse
