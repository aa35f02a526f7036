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
  int armed = -1;    // closed by ArmWatchdog()
};

// Forks the watchdog for a fuse.sealfs mount about to be made at
// `mountpoint` (absolute and canonical, as /proc/self/mountinfo spells it).
// It is started before the image is even read, so that its set-up overlaps
// the daemon's, and does nothing until ArmWatchdog() names the mount; if
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

// Gives the watchdog the id of the mount it guards (FindTopMount) and waits
// until it is armed. ECHILD if it died.
Status ArmWatchdog(WatchdogPipes& pipes, long mount_id);

// Tells the watchdog behind `fd` (WatchdogPipes::command) that the mount is
// already gone, and closes `fd`.
void StandDownWatchdog(int fd);

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_WATCHDOG_H_
