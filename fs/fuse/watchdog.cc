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
#include <utility>

#include "fs/fuse/fusectl.h"
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

// `armed_fd` < 0: forked by the process waiting for the mount, which read
// `known_id` and arms on our behalf, and has titled itself for us already.
[[noreturn]] void RunWatchdog(int read_fd, int armed_fd,
                              const std::string& mountpoint,
                              std::optional<long> known_id) {
  // A session of its own, out of the caller's process group: job control
  // there (Ctrl-Z, a hangup) must not stop or end the watchdog.
  setsid();
  // No caller's pipe, terminal, /dev/fuse or readiness fd may stay open
  // here: stdio goes to /dev/null and everything else is closed.
  int null_fd = open("/dev/null", O_RDWR);
  if (null_fd >= 0) {
    dup2(null_fd, STDIN_FILENO);
    dup2(null_fd, STDOUT_FILENO);
    dup2(null_fd, STDERR_FILENO);
  }
  if (dup2(read_fd, kPipeFd) != kPipeFd) _exit(1);
  if (armed_fd >= 0 && dup2(armed_fd, kArmedFd) != kArmedFd) _exit(1);
  close_range(armed_fd >= 0 ? kArmedFd + 1 : kPipeFd + 1, ~0U, 0);
  // The daemon's libfuse handlers may be inherited; a signal meant for the
  // daemon (or `pkill sealfs`) must not take the watchdog with it. (Forked
  // by the waiting process, it starts with every signal blocked: one that
  // came before this point is discarded here, not acted on.)
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGUSR1, SIGUSR2}) {
    sigaction(sig, &ign, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  KeepOnlySysAdmin();

  long mount_id = 0;
  if (known_id.has_value()) {
    mount_id = *known_id;
  } else {
    SetTitle(mountpoint);
    // The mount's id comes once the daemon has mounted. EOF first: it never
    // did (refused, or failed), and there is nothing to unmount.
    if (!ReadExactly(kPipeFd, &mount_id, sizeof(mount_id))) _exit(0);
    // Armed: titled (so never taken for the daemon) and holding the id.
    if (write(kArmedFd, "1", 1) != 1) _exit(1);
    close(kArmedFd);
  }
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
      // The daemon is gone, so every request it left is answered now
      // (ENOTCONN), as its closing the device would have done. A thread of
      // the daemon can outlive the rest and hold the device open: one
      // pushing pages into the cache waits for a page whose READ is never
      // answered (page_pusher.h). Only then does this matter.
      (void)AbortFuseConnection(now->device);
    }
  }
  _exit(0);
}

}  // namespace

Result<WatchdogLink> MakeWatchdogLink() {
  int command[2];
  int armed[2];
  if (pipe2(command, O_CLOEXEC) != 0) return ErrnoStatus("watchdog pipe");
  if (pipe2(armed, O_CLOEXEC) != 0) {
    Status st = ErrnoStatus("watchdog pipe");
    close(command[0]);
    close(command[1]);
    return st;
  }
  WatchdogLink link;
  link.daemon = WatchdogPipes{command[1], armed[0]};
  link.watch_command = command[0];
  link.watch_armed = armed[1];
  return link;
}

WatchdogPipes KeepDaemonEnds(WatchdogLink& link) {
  for (int* fd : {&link.watch_command, &link.watch_armed}) {
    if (*fd >= 0) close(std::exchange(*fd, -1));
  }
  return std::exchange(link.daemon, WatchdogPipes{});
}

Status ForkWatchdogOnceMounted(WatchdogLink& link,
                               const std::string& mountpoint) {
  // Only the daemon may hold its ends: their closing is how its exit shows.
  close(std::exchange(link.daemon.command, -1));
  close(std::exchange(link.daemon.armed, -1));
  // The daemon sends the mount's id (SendMountId) once it has mounted; EOF
  // first: it never did, and there is nothing to watch.
  long mount_id = 0;
  if (!ReadExactly(link.watch_command, &mount_id, sizeof(mount_id))) {
    CloseWatchdogLink(link);
    return Status();
  }
  // The child is titled and immune to signals from its first instant, so
  // it is never taken for the daemon nor killed with it: this process, which
  // exits next, takes the title first, and blocks signals over the fork.
  SetTitle(mountpoint);
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  pid_t pid = fork();
  if (pid == 0) {
    close(link.watch_armed);
    RunWatchdog(link.watch_command, -1, mountpoint, mount_id);
  }
  sigprocmask(SIG_SETMASK, &old, nullptr);
  Status st = pid < 0 ? ErrnoStatus("fork watchdog") : Status();
  // Armed: the watchdog exists and holds the pipe, whose EOF it will see
  // even if the daemon dies before it runs. On failure the daemon sees EOF
  // instead, and unmounts.
  if (st.ok() && write(link.watch_armed, "1", 1) != 1) {
    st = ErrnoStatus("arming the watchdog");
  }
  CloseWatchdogLink(link);
  return st;
}

void CloseWatchdogLink(WatchdogLink& link) {
  for (int* fd : {&link.daemon.command, &link.daemon.armed,
                  &link.watch_command, &link.watch_armed}) {
    if (*fd >= 0) close(std::exchange(*fd, -1));
  }
}

Result<WatchdogPipes> StartUnmountWatchdog(const std::string& mountpoint) {
  SEALFS_ASSIGN_OR_RETURN(WatchdogLink link, MakeWatchdogLink());
  pid_t pid = fork();
  if (pid < 0) {
    Status st = ErrnoStatus("fork watchdog");
    CloseWatchdogLink(link);
    return st;
  }
  if (pid == 0) {
    close(link.daemon.command);
    close(link.daemon.armed);
    RunWatchdog(link.watch_command, link.watch_armed, mountpoint, {});
  }
  return KeepDaemonEnds(link);
}

Status SendMountId(WatchdogPipes& pipes, long mount_id) {
  ssize_t n;
  do {
    n = write(pipes.command, &mount_id, sizeof(mount_id));
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof(mount_id))) {
    return Status::FromErrno(ECHILD, "unmount watchdog did not start");
  }
  return Status();
}

Status WaitWatchdogArmed(WatchdogPipes& pipes) {
  // So the mount is never reported ready while nobody would unmount it or
  // while the child still looks like the daemon (pgrep). EOF means it, or
  // the waiting process, died first.
  char byte = 0;
  ssize_t got;
  do {
    got = read(pipes.armed, &byte, 1);
  } while (got < 0 && errno == EINTR);
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
