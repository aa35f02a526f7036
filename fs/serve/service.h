// SPDX-License-Identifier: Apache-2.0
// `sealfs serve`: one process serving many FUSE sessions behind a control
// socket. Sessions are mounted by their callers (so a caller gets exactly
// the mounts it could make alone) and handed over as /dev/fuse descriptors;
// the service verifies and shares images, serves, hands its sessions to a
// replacement (--replace) and keeps a copy of every descriptor in a keeper
// process, so that a killed service loses no mount. Not thread-safe: one
// RunService per process.
#ifndef SEALFS_FS_SERVE_SERVICE_H_
#define SEALFS_FS_SERVE_SERVICE_H_

#include <string>

#include "sealfs/status.h"

namespace sealfs::serve {

struct ServeOptions {
  std::string socket_path;  // the control socket
  bool replace = false;     // take the sessions of the running service
  bool keeper = true;       // keep descriptors in a keeper process
  bool fd_store = false;    // under systemd: its fd store, not a keeper
  std::string exe;          // this program, to start the keeper with
  std::string program;      // its path, to start a successor with (SIGUSR2)
};

// Serves until SIGTERM, SIGINT or SIGHUP (every session is then unmounted)
// or until a replacement has taken the sessions over (they stay mounted).
// SIGUSR2 starts that replacement: `program` again, with --replace.
// EADDRINUSE if a service already listens and !replace.
Status RunService(const ServeOptions& options);

}  // namespace sealfs::serve

#endif  // SEALFS_FS_SERVE_SERVICE_H_
