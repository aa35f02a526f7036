// SPDX-License-Identifier: Apache-2.0
#include "fs/serve/namespaced_mount.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <optional>
#include <string>

#include "fs/serve/mount_id.h"
#include "sealfs/unique_fd.h"

namespace sealfs::serve {
namespace {

// Linux 6.5; Debian 12's headers predate it.
#ifndef SO_PEERPIDFD
constexpr int SO_PEERPIDFD = 77;
#endif

// A pidfd of the process that connected to `sock`: SO_PEERPIDFD names
// that very process; pidfd_open(pid), on older kernels, names whoever has
// the pid now (reused only if the caller died since it connected).
UniqueFd PeerPidfd(int sock, pid_t pid) {
  int fd = -1;
  socklen_t len = sizeof(fd);
  if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &fd, &len) == 0 && fd >= 0) {
    return UniqueFd(fd);
  }
  return UniqueFd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
}

// The process stays (alive or a zombie), so its pid was not reused. EPERM
// answers a service without CAP_KILL: the process exists.
bool StillThere(int pidfd) {
  return syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) == 0 ||
         errno == EPERM;
}

// Opens `path` with `root` as "/": absolute symlinks and ".." stay inside
// it, and /proc's magic links are refused, so a caller's tree cannot send
// the lookup outside its own root.
UniqueFd OpenInRoot(int root, const std::string& path, uint64_t flags) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return UniqueFd(static_cast<int>(
      syscall(SYS_openat2, root, path.c_str(), &how, sizeof(how))));
}

// The id and device of the mount whose root `name` under `dir` is; false
// if it is no mount root (StatMount: from the kernel's cache, and
// answered even where FUSE does not let this process in). `old_id` as
// there.
bool MountRootAt(int dir, const char* name, uint64_t* id, uint64_t* dev,
                 bool old_id = false) {
  std::optional<MountOf> m =
      StatMount(dir, name, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH, old_id);
  if (!m.has_value() || !m->mount_root) return false;
  *id = m->id;
  *dev = m->dev;
  return true;
}

// A descriptor of the live mount namespace with inode `ns` (on the nsfs
// device `nsfs_dev`), through any process in it; invalid if none is left.
UniqueFd FindNamespace(uint64_t ns, dev_t nsfs_dev) {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return UniqueFd();
  UniqueFd found;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    UniqueFd fd(open(("/proc/" + std::string(e->d_name) + "/ns/mnt").c_str(),
                     O_RDONLY | O_CLOEXEC));
    struct stat st {};
    // The descriptor itself is checked, so a pid reused meanwhile is
    // harmless.
    if (fd.valid() && fstat(fd.get(), &st) == 0 && st.st_ino == ns &&
        st.st_dev == nsfs_dev) {
      found = std::move(fd);
      break;
    }
  }
  closedir(proc);
  return found;
}

// Joins the user namespace owning `mnt_ns` unless this process is in it:
// a service without root has the rights it needs (CAP_SYS_ADMIN, to enter
// and to unmount) only there, in a namespace its user made.
bool JoinOwningUserNamespace(int mnt_ns) {
  UniqueFd user(ioctl(mnt_ns, NS_GET_USERNS));
  struct stat own {};
  struct stat st {};
  if (!user.valid() || stat("/proc/self/ns/user", &own) != 0 ||
      fstat(user.get(), &st) != 0) {
    return false;
  }
  if (st.st_ino == own.st_ino && st.st_dev == own.st_dev) return true;
  return setns(user.get(), CLONE_NEWUSER) == 0;
}

// Exit codes of the unmounting child, for the service's log.
enum ChildExit : int {
  kDone = 0,  // unmounted
  kGone = 1,  // no process is left in the namespace
  kNoProc = 10,
  kNoUserNamespace = 11,
  kNoEntry = 12,
  kNotOurs = 13,
  kUmountFailed = 14,
};

[[noreturn]] void UnmountInNamespace(const MountWhere& where,
                                     const std::string& dir,
                                     const std::string& name) {
  struct stat own {};
  if (stat("/proc/self/ns/mnt", &own) != 0) _exit(kNoProc);
  UniqueFd ns = FindNamespace(where.mount_ns, own.st_dev);
  // No process left in it: the namespace, and its mounts, are gone.
  if (!ns.valid()) _exit(kGone);
  if (geteuid() != 0 && !JoinOwningUserNamespace(ns.get())) {
    _exit(kNoUserNamespace);
  }
  // Also sets this process's root and working directory to the
  // namespace's root.
  if (setns(ns.get(), CLONE_NEWNS) != 0) _exit(kNoEntry);
  UniqueFd root(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  UniqueFd parent = OpenInRoot(root.get(), dir, O_PATH | O_DIRECTORY);
  uint64_t id = 0;
  uint64_t dev = 0;
  if (!parent.valid()) _exit(kNoEntry);
  // The id as it was recorded: from outside the mount's user namespace,
  // where FUSE gives only the old one.
  if (!MountRootAt(parent.get(), name.c_str(), &id, &dev,
                   !IsUniqueMountId(where.mount_id)) ||
      id != where.mount_id || dev != where.mount_dev) {
    _exit(kNotOurs);
  }
  // By name in the directory checked: a mount point cannot be renamed
  // (EBUSY), so only a mount or unmount there, which needs the rights
  // this would use, could change what the name leads to.
  if (fchdir(parent.get()) != 0 ||
      umount2(name.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0) {
    _exit(kUmountFailed);
  }
  _exit(kDone);
}

}  // namespace

uint64_t OwnMountNamespace() {
  struct stat st {};
  if (stat("/proc/self/ns/mnt", &st) != 0) return 0;
  return st.st_ino;
}

Result<MountWhere> LocatePeerMount(int sock, pid_t pid,
                                   const std::string& mountpoint) {
  UniqueFd pidfd = PeerPidfd(sock, pid);
  if (!pidfd.valid()) return ErrnoStatus("caller's pidfd");
  const std::string proc = "/proc/" + std::to_string(pid);
  UniqueFd ns(open((proc + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns.valid()) return ErrnoStatus(proc + "/ns/mnt");
  UniqueFd root(
      open((proc + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return ErrnoStatus(proc + "/root");
  if (!StillThere(pidfd.get())) {
    return Status::FromErrno(ESRCH, "the caller has gone");
  }
  struct stat st {};
  if (fstat(ns.get(), &st) != 0) return ErrnoStatus(proc + "/ns/mnt");
  MountWhere where;
  where.mount_ns = st.st_ino;
  UniqueFd at = OpenInRoot(root.get(), mountpoint, O_PATH | O_NOFOLLOW);
  if (!at.valid() ||
      !MountRootAt(at.get(), "", &where.mount_id, &where.mount_dev)) {
    where.mount_id = 0;
    where.mount_dev = 0;
  }
  return where;
}

pid_t StartNamespacedUnmount(const MountWhere& where,
                             const std::string& mountpoint) {
  const size_t slash = mountpoint.rfind('/');
  if (slash == std::string::npos) return -1;
  const std::string dir = slash == 0 ? "/" : mountpoint.substr(0, slash);
  const std::string name = mountpoint.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") return -1;
  const pid_t pid = fork();
  if (pid == 0) UnmountInNamespace(where, dir, name);
  return pid;
}

std::string NamespacedUnmountOutcome(int status, bool* done) {
  *done = WIFEXITED(status) &&
          (WEXITSTATUS(status) == kDone || WEXITSTATUS(status) == kGone);
  if (!WIFEXITED(status)) return "not unmounted in its namespace: killed";
  switch (WEXITSTATUS(status)) {
    case kDone:
      return "unmounted in its mount namespace";
    case kGone:
      return "its mount namespace is gone, and the mount with it";
    case kNoProc:
      return "not unmounted in its namespace: /proc unreadable";
    case kNoUserNamespace:
      return "not unmounted in its namespace: cannot enter the user "
             "namespace owning it";
    case kNoEntry:
      return "not unmounted in its namespace: cannot enter it, or its mount "
             "point is gone";
    case kNotOurs:
      return "not unmounted in its namespace: another mount is there now";
    case kUmountFailed:
      return "not unmounted in its namespace: umount2 failed";
  }
  return "not unmounted in its namespace: exit " +
         std::to_string(WEXITSTATUS(status));
}

}  // namespace sealfs::serve
