// SPDX-License-Identifier: Apache-2.0
// A forked watchdog that unmounts a directly mounted sealfs when the daemon's
// end of a pipe closes: what fusermount3's auto_unmount does, without the
// exec of a setuid helper on the way to the first stat.
#include "fs/fuse/watchdog.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>

#include "fs/fuse/mountinfo.h"

namespace sealfs::fuse {
namespace {

constexpr int kPipeFd = 3;   // the daemon's end closing means: unmount
constexpr int kArmedFd = 4;  // written once, then closed, when armed
constexpr char kStandDown = 'u';  // from the daemon: already unmounted

// Shows the watchdog as "sealfs-watchdog MOUNTPOINT" (one argument, so it is
// never taken for the daemon) by overwriting the inherited argv area, which
// is what /proc/PID/cmdline and ps read.
void SetTitle(const std::string& mountpoint) {
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  size_t len = 0;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) len += static_cast<size_t>(n);
  close(fd);
  if (len < 2 || program_invocation_name == nullptr) return;
  std::string title = "sealfs-watchdog " + mountpoint;
  if (title.size() > len - 1) title.resize(len - 1);
  std::memset(program_invocation_name, 0, len);
  std::memcpy(program_invocation_name, title.data(), title.size());
}

// Keeps CAP_SYS_ADMIN (for umount2) and nothing else.
void KeepOnlySysAdmin() {
  cap_t caps = cap_init();
  if (caps == nullptr) return;
  cap_value_t admin = CAP_SYS_ADMIN;
  cap_set_flag(caps, CAP_PERMITTED, 1, &admin, CAP_SET);
  cap_set_flag(caps, CAP_EFFECTIVE, 1, &admin, CAP_SET);
  cap_set_proc(caps);
  cap_free(caps);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

// Reads exactly `n` bytes; false on EOF or error first.
bool ReadExactly(int fd, void* out, size_t n) {
  auto* p = static_cast<char*>(out);
  while (n > 0) {
    ssize_t got = read(fd, p, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

[[noreturn]] void RunWatchdog(int read_fd, int armed_fd,
                              const std::string& mountpoint) {
  // No caller's pipe, terminal, /dev/fuse or readiness fd may stay open
  // here: stdio goes to /dev/null and everything else is closed.
  int null_fd = open("/dev/null", O_RDWR);
  if (null_fd >= 0) {
    dup2(null_fd, STDIN_FILENO);
    dup2(null_fd, STDOUT_FILENO);
    dup2(null_fd, STDERR_FILENO);
  }
  if (dup2(read_fd, kPipeFd) != kPipeFd) _exit(1);
  if (dup2(armed_fd, kArmedFd) != kArmedFd) _exit(1);
  close_range(kArmedFd + 1, ~0U, 0);
  // The daemon's libfuse handlers may be inherited; a signal meant for the
  // daemon (or `pkill sealfs`) must not take the watchdog with it.
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGUSR1, SIGUSR2}) {
    sigaction(sig, &ign, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  KeepOnlySysAdmin();
  SetTitle(mountpoint);

  // The mount's id comes once the daemon has mounted. EOF first: it never
  // did (refused, or failed), and there is nothing to unmount.
  long mount_id = 0;
  if (!ReadExactly(kPipeFd, &mount_id, sizeof(mount_id))) _exit(0);
  // Armed: titled (so never taken for the daemon) and holding the id.
  if (write(kArmedFd, "1", 1) != 1) _exit(1);
  close(kArmedFd);
  char byte;
  bool stand_down = false;
  for (;;) {
    ssize_t n = read(kPipeFd, &byte, 1);
    if (n == 1 && byte == kStandDown) stand_down = true;
    if (n == 0 || (n < 0 && errno != EINTR)) break;
  }
  if (!stand_down) {
    std::optional<MountEntry> now = FindTopMount(mountpoint);
    if (now.has_value() && now->id == mount_id &&
        now->fstype == "fuse.sealfs") {
      umount2(mountpoint.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
    }
  }
  _exit(0);
}

}  // namespace

Result<WatchdogPipes> StartUnmountWatchdog(const std::string& mountpoint) {
  int fds[2];
  int armed[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("watchdog pipe");
  if (pipe2(armed, O_CLOEXEC) != 0) {
    Status st = ErrnoStatus("watchdog pipe");
    close(fds[0]);
    close(fds[1]);
    return st;
  }
  pid_t pid = fork();
  if (pid < 0) {
    Status st = ErrnoStatus("fork watchdog");
    for (int fd : {fds[0], fds[1], armed[0], armed[1]}) close(fd);
    return st;
  }
  if (pid == 0) {
    close(fds[1]);
    close(armed[0]);
    RunWatchdog(fds[0], armed[1], mountpoint);
  }
  close(fds[0]);
  close(armed[1]);
  return WatchdogPipes{fds[1], armed[0]};
}

Status ArmWatchdog(WatchdogPipes& pipes, long mount_id) {
  ssize_t n;
  do {
    n = write(pipes.command, &mount_id, sizeof(mount_id));
  } while (n < 0 && errno == EINTR);
  // Wait until the watchdog is armed, so the mount is never reported ready
  // while nobody would unmount it or while the child still looks like the
  // daemon (pgrep). EOF means it died first.
  char byte = 0;
  ssize_t got = -1;
  if (n == static_cast<ssize_t>(sizeof(mount_id))) {
    do {
      got = read(pipes.armed, &byte, 1);
    } while (got < 0 && errno == EINTR);
  }
  close(pipes.armed);
  pipes.armed = -1;
  if (got != 1) {
    return Status::FromErrno(ECHILD, "unmount watchdog did not start");
  }
  return Status();
}

void StandDownWatchdog(int fd) {
  ssize_t n;
  do {
    n = write(fd, &kStandDown, 1);
  } while (n < 0 && errno == EINTR);
  close(fd);
}

}  // namespace sealfs::fuse
