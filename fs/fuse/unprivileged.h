// SPDX-License-Identifier: Apache-2.0
// Checks, before anything is mounted, that an unprivileged mount (through
// the set-uid fusermount3) can work, so that a user gets one line saying
// what to change instead of fusermount3's or libfuse's messages after the
// fact. Reentrant.
#ifndef SEALFS_FS_FUSE_UNPRIVILEGED_H_
#define SEALFS_FS_FUSE_UNPRIVILEGED_H_

#include <string>
#include <string_view>

#include "fs/fuse/mount_options.h"
#include "sealfs/status.h"

namespace sealfs::fuse {

// Where the checks look; tests point them elsewhere.
struct HostPaths {
  std::string fuse_device = "/dev/fuse";
  std::string fuse_conf = "/etc/fuse.conf";
  // Where libfuse execs fusermount3 from before it searches PATH (Debian's
  // libfuse3 is built with FUSERMOUNT_DIR /usr/bin).
  std::string fusermount_dir = "/usr/bin";
  std::string path_env;  // PATH to search next; empty: $PATH
};

// For a caller without CAP_SYS_ADMIN (libfuse then mounts through
// fusermount3): OK if the device, fusermount3 and
// (for allow_other) /etc/fuse.conf permit the mount. Otherwise one of:
// ENOENT "/dev/fuse is missing ...", EACCES "cannot open /dev/fuse ...
// (mode 0600, owner uid 0 ...)", ENOENT "fusermount3 not found ...", EPERM
// "... is not set-uid root ...", EPERM "no_new_privs is set ...", EPERM
// "allow_other ... needs 'user_allow_other' in /etc/fuse.conf".
Status CheckUnprivilegedMount(const MountOptions& options,
                              const HostPaths& paths = HostPaths());

// True if `text` (a fuse.conf) has a line "user_allow_other", read as
// fusermount3 3.14 reads it: only newline-terminated lines shorter than 255
// bytes, '#' starting a comment, surrounding whitespace ignored.
bool FuseConfAllowsOther(std::string_view text);

// The fusermount3 that libfuse would exec: `paths.fusermount_dir`, then each
// directory of PATH. Empty if there is none.
std::string FindFusermount(const HostPaths& paths);

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_UNPRIVILEGED_H_
