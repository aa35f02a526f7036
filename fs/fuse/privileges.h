// SPDX-License-Identifier: Apache-2.0
// Giving up privileges once the mount exists: optionally become another
// user, then drop every capability (effective, permitted, inheritable,
// bounding, ambient) and set no_new_privs.
// REQUIRES: called while the process has a single thread (capability sets
// are per thread; threads created later inherit the reduced sets).
#ifndef SEALFS_FS_FUSE_PRIVILEGES_H_
#define SEALFS_FS_FUSE_PRIVILEGES_H_

#include <string>

#include "sealfs/status.h"

namespace sealfs::fuse {

// `user` empty: keep the current uid/gid. Otherwise switch to that user's
// uid, primary gid and supplementary groups (ENOENT if no such user; EPERM
// without the privilege). Fails only if a step that must succeed fails; the
// bounding set is only dropped when CAP_SETPCAP is held.
Status DropPrivileges(const std::string& user);

// True if CAP_SYS_ADMIN is effective, i.e. this process can mount(2) and
// umount2(2) itself instead of going through fusermount3.
bool HoldsSysAdmin();

// ENOENT if `user` names no user, so a bad user= refuses before mounting.
Status CheckUserExists(const std::string& user);

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_PRIVILEGES_H_
