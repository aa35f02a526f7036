// SPDX-License-Identifier: Apache-2.0
// The unmount watchdog for mounts made directly with mount(2): a small
// privileged child that lazily unmounts when the daemon goes away.
#ifndef SEALFS_FS_FUSE_WATCHDOG_H_
#define SEALFS_FS_FUSE_WATCHDOG_H_

#include <string>

#include "sealfs/status.h"

namespace sealfs::fuse {

// The daemon's ends of the pipes to its watchdog.
struct WatchdogPipes {
  int command = -1;  // kept open while serving: EOF means "unmount"
  int armed = -1;    // closed by WaitWatchdogArmed()
};

// Both ends of the pipes between a daemon and its watchdog, made before
// either is forked, so that the watchdog need not be forked by the daemon:
// the process waiting for the mount, idle otherwise, forks it once the
// mount exists. The daemon is spared the fork and the copy-on-write faults
// that follow one, and the watchdog's set-up no longer competes for the CPU
// with reading and hashing the image.
struct WatchdogLink {
  WatchdogPipes daemon;    // the daemon's ends
  int watch_command = -1;  // the watchdog's ends
  int watch_armed = -1;
};
Result<WatchdogLink> MakeWatchdogLink();
// In the daemon: closes the watchdog's ends and returns the daemon's.
WatchdogPipes KeepDaemonEnds(WatchdogLink& link);
// Closes every end still open in `link`.
void CloseWatchdogLink(WatchdogLink& link);
// In the waiting process, after forking the daemon: waits for the daemon's
// SendMountId(), forks the watchdog (already armed with that id; otherwise
// as StartUnmountWatchdog describes), arms the daemon, and closes every end
// of `link` here. Returns at once, with nothing forked, if the daemon exits
// without mounting. If the fork fails, the daemon's WaitWatchdogArmed() fails
// (EOF), so it unmounts and the mount is refused; so it does if this
// process dies first. Takes the watchdog's title for this process.
Status ForkWatchdogOnceMounted(WatchdogLink& link,
                               const std::string& mountpoint);

// Forks the watchdog for a fuse.sealfs mount about to be made at
// `mountpoint` (absolute and canonical, as /proc/self/mountinfo spells it).
// It is started before the image is even read, so that its set-up overlaps
// the daemon's, and does nothing until SendMountId() names the mount; if
// `command` closes before that, it exits. Once armed, when `command` closes
// (the daemon exits for any reason, SIGKILL included) it unmounts with
// MNT_DETACH, but only if the topmost mount there is still that mount (by
// id, and fuse.sealfs), and exits. Mount ids in mountinfo are reused at
// once, so after an unmount a new mount at the same path may carry the old
// id: a daemon whose mount was unmounted calls StandDownWatchdog() first,
// and the watchdog then leaves it alone. The watchdog keeps only
// CAP_SYS_ADMIN, ignores SIGTERM/SIGINT/SIGHUP (it must outlive the
// daemon), holds no other descriptor (stdio on /dev/null) and shows as
// "sealfs-watchdog MOUNTPOINT" in ps.
// REQUIRES: a single-threaded caller holding CAP_SYS_ADMIN.
Result<WatchdogPipes> StartUnmountWatchdog(const std::string& mountpoint);

// Gives the watchdog the id of the mount it guards (FindTopMount). ECHILD
// if it, or the waiting process that is to fork it, is gone.
Status SendMountId(WatchdogPipes& pipes, long mount_id);
// Waits until the watchdog is armed (or, when the waiting process forks
// it, exists), which may take the time of a fork: do other work between
// SendMountId and this. ECHILD if it died.
Status WaitWatchdogArmed(WatchdogPipes& pipes);

// Tells the watchdog behind `fd` (WatchdogPipes::command) that the mount is
// already gone, and closes `fd`.
void StandDownWatchdog(int fd);

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_WATCHDOG_H_
