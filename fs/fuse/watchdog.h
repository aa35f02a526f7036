// SPDX-License-Identifier: Apache-2.0
// The unmount watchdog for mounts made directly with mount(2): a small
// privileged child that lazily unmounts when the daemon goes away.
#ifndef SEALFS_FS_FUSE_WATCHDOG_H_
#define SEALFS_FS_FUSE_WATCHDOG_H_

#include <string>

#include "sealfs/status.h"

namespace sealfs::fuse {

// Forks the watchdog for the fuse.sealfs mount `mount_id` at `mountpoint`
// (absolute and canonical, as /proc/self/mountinfo spells it; see
// FindTopMount).
// Returns the write end of a close-on-exec pipe that the caller keeps open
// for as long as it serves: when that end closes (the daemon exits for any
// reason, SIGKILL included), the watchdog unmounts with MNT_DETACH, but only
// if the topmost mount there is still the one it was started for, and exits.
// Mount ids in mountinfo are reused at once, so after an unmount a new mount
// at the same path may carry the old id: a daemon whose mount was unmounted
// calls StandDownWatchdog() first, and the watchdog then leaves it alone.
// The watchdog keeps only CAP_SYS_ADMIN, ignores SIGTERM/SIGINT/SIGHUP (it
// must outlive the daemon), holds no other descriptor (stdio on /dev/null)
// and shows as "sealfs-watchdog MOUNTPOINT" in ps.
// REQUIRES: a single-threaded caller holding CAP_SYS_ADMIN.
Result<int> StartUnmountWatchdog(const std::string& mountpoint,
                                 long mount_id);

// Tells the watchdog behind `fd` (from StartUnmountWatchdog) that the mount
// is already gone, and closes `fd`.
void StandDownWatchdog(int fd);

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_WATCHDOG_H_
