// SPDX-License-Identifier: Apache-2.0
// The fuse_lowlevel_ops table of the driver. The session's userdata must be
// a Filesystem*.
#ifndef SEALFS_FS_FUSE_OPS_H_
#define SEALFS_FS_FUSE_OPS_H_

#include <fuse_lowlevel.h>

namespace sealfs::fuse {

const fuse_lowlevel_ops& FuseOps();

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_OPS_H_
