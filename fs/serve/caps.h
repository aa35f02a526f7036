// SPDX-License-Identifier: Apache-2.0
// The service's privileges: as root it keeps CAP_SYS_ADMIN (to unmount a
// session whose connection was aborted, and every session when it stops)
// and CAP_DAC_READ_SEARCH (to open objects below a store directory a
// caller handed over), CAP_SYS_CHROOT and CAP_SYS_PTRACE (to find a
// caller's mount namespace in /proc and enter it to unmount there), and
// drops every other capability, bounding set included. Unprivileged, it has none to drop and keeps the right to run
// the setuid fusermount3 for unmounting. REQUIRES: a single thread.
#ifndef SEALFS_FS_SERVE_CAPS_H_
#define SEALFS_FS_SERVE_CAPS_H_

#include "sealfs/status.h"

namespace sealfs::serve {

Status DropServiceCapabilities();

}  // namespace sealfs::serve

#endif  // SEALFS_FS_SERVE_CAPS_H_
