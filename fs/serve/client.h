// SPDX-License-Identifier: Apache-2.0
// The caller's side of `sealfs serve`: mounting through a running service
// (the caller opens the image and store, reads its keys, mounts with its
// own privileges and hands the /dev/fuse connection over), and listing
// what it serves. Reentrant.
#ifndef SEALFS_FS_SERVE_CLIENT_H_
#define SEALFS_FS_SERVE_CLIENT_H_

#include <string>

#include "fs/fuse/session.h"
#include "sealfs/status.h"

namespace sealfs::serve {

// Mounts `req` through the service at $SEALFS_SERVE_SOCKET or the default
// socket; `option_text` is the -o text as given. Returns false, having done
// nothing, when no service listens there or it would not serve these
// options for this caller (CheckServable); true once the mount is served.
// Refusals as a standalone mount's; the service's one-line reason.
Result<bool> MountThroughService(const fuse::MountRequest& req,
                                 const std::string& option_text);

// The service's sessions as JSON (the caller's own, or all for root).
// ENOENT/ECONNREFUSED when no service listens.
Result<std::string> ListServiceMounts();

}  // namespace sealfs::serve

#endif  // SEALFS_FS_SERVE_CLIENT_H_
