// SPDX-License-Identifier: Apache-2.0
// Which mounts the service serves, and for whom: the one rule both the
// caller (to fall back to a standalone mount before asking) and the
// service (which enforces it) apply. Reentrant.
#ifndef SEALFS_FS_SERVE_SERVABLE_H_
#define SEALFS_FS_SERVE_SERVABLE_H_

#include <sys/types.h>

#include "fs/fuse/mount_options.h"
#include "sealfs/status.h"

namespace sealfs::serve {

// OK if a service running as `service_uid` serves `options` (for an image
// read from a docker:// reference if `from_registry`) for a caller of
// `caller_uid`. EOPNOTSUPP for user=, record= and debug (a daemon of
// their own). A lazy mount (remote=, or an image from a
// registry) makes the service fetch into the store and reach the source
// (and its credentials) with its own rights: EPERM unless the caller is
// the service's own user (who could do as much alone); EINVAL for a
// remote= directory, prefetch= list, authfile= or cert_dir= that is not an
// absolute path (the service does not share the caller's working
// directory).
Status CheckServable(const fuse::MountOptions& options, bool from_registry,
                     uid_t caller_uid, uid_t service_uid);

}  // namespace sealfs::serve

#endif  // SEALFS_FS_SERVE_SERVABLE_H_
