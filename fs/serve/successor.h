// SPDX-License-Identifier: Apache-2.0
// An upgrade in place (SIGUSR2, `systemctl reload`): the service starts the
// program at its own path again, which may be a newer build by now, with
// --replace; that process takes every session over and this one exits.
#ifndef SEALFS_FS_SERVE_SUCCESSOR_H_
#define SEALFS_FS_SERVE_SUCCESSOR_H_

#include <sys/types.h>

#include "fs/serve/service.h"
#include "sealfs/status.h"

namespace sealfs::serve {

// Starts the successor of a service run with `options`, with no descriptor of this process beyond stdin, stdout and
// stderr and no signal blocked; returns its pid. It inherits the
// environment, so that it, too, may notify systemd (NotifyAccess=all).
Result<pid_t> StartSuccessor(const ServeOptions& options);

}  // namespace sealfs::serve

#endif  // SEALFS_FS_SERVE_SUCCESSOR_H_
