// SPDX-License-Identifier: Apache-2.0
// The life of a mount: load and verify the image, open the store, mount
// (forking a detached daemon unless foreground), drop privileges, serve
// until unmounted or signalled. Not thread-safe; call once per process.
#ifndef SEALFS_FS_FUSE_SESSION_H_
#define SEALFS_FS_FUSE_SESSION_H_

#include <string>

#include "fs/fuse/mount_options.h"
#include "sealfs/status.h"

namespace sealfs::fuse {

struct MountRequest {
  std::string image;
  std::string mountpoint;
  MountOptions options;
  bool foreground = false;
};

// Without `foreground`: returns OK once the mount is ready to serve, with a
// detached daemon serving it (stdio on /dev/null, messages to syslog), or
// the reason it could not be mounted, in which case nothing is mounted.
// With `foreground`: serves in this process, logging to stderr, and returns
// OK when the mount is unmounted or SIGTERM/SIGINT/SIGHUP arrive.
// Refusals: see CheckTrust(); kErrCorrupt for a malformed manifest; ENOENT
// or ENOTDIR for a store or mount point that is not a directory.
// An "insecure" acceptance prints a warning line on stderr.
Status RunMount(const MountRequest& request);

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_SESSION_H_
