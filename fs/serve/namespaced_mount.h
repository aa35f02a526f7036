// SPDX-License-Identifier: Apache-2.0
// A caller's mount in the caller's own mount namespace (a container's, an
// `unshare -m`): where it is, found at attach time from what the kernel
// says of the peer, and its unmount in that namespace once its connection
// has ended. Reentrant.
#ifndef SEALFS_FS_SERVE_NAMESPACED_MOUNT_H_
#define SEALFS_FS_SERVE_NAMESPACED_MOUNT_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "sealfs/status.h"

namespace sealfs::serve {

// Which mount a session's is. The mount id is one the kernel never gives
// again where it has such ids (mount_id.h); on older kernels the id and
// the device can both be reused by a mount made there after this one is
// gone, and an unmount then could take that one.
struct MountWhere {
  uint64_t mount_ns = 0;   // inode of the namespace's nsfs file
  uint64_t mount_id = 0;   // MountOf::id
  uint64_t mount_dev = 0;  // st_dev of the mount's root
};

// The inode of this process's mount namespace; 0 if /proc cannot say.
uint64_t OwnMountNamespace();

// Where the peer of `sock` (pid `pid`, from SO_PEERCRED) has its mount
// `mountpoint`, resolved from the peer's own root (/proc/PID/root, with
// symlinks and ".." kept inside it). The peer's word is not used: the pid
// comes from the kernel, and a pidfd of the connecting process
// (SO_PEERPIDFD, else pidfd_open) proves that /proc/PID was still that
// process when it was read. mount_id and mount_dev are 0 if no mount has
// its root at `mountpoint` there. ESRCH if the peer is gone; errors of
// /proc otherwise (EACCES, EPERM: a peer the service may not inspect, as
// one with capabilities the service lacks, without CAP_SYS_PTRACE).
Result<MountWhere> LocatePeerMount(int sock, pid_t pid,
                                   const std::string& mountpoint);

// Starts a child that unmounts (MNT_DETACH) the mount `where` at
// `mountpoint` in its namespace: it finds a live process in that
// namespace, enters it (and, for a service without root, the user
// namespace owning it), and unmounts only if the mount at `mountpoint` has
// the recorded id and device. A namespace that has died needs nothing
// (its mounts died with it): the child exits. Returns the child's pid for
// the caller to reap (waitpid), or -1 if fork failed. Never blocks.
// REQUIRES: where.mount_ns != 0 and is not this process's namespace.
pid_t StartNamespacedUnmount(const MountWhere& where,
                             const std::string& mountpoint);

// What that child did, from its waitpid status, for the log; `done`:
// unmounted, or nothing left to unmount.
std::string NamespacedUnmountOutcome(int status, bool* done);

}  // namespace sealfs::serve

#endif  // SEALFS_FS_SERVE_NAMESPACED_MOUNT_H_
