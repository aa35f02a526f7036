// SPDX-License-Identifier: Apache-2.0
// An ObjectSource over another store directory on this machine. Every name
// is opened beneath that store with no symlink followed (OpenBeneath), and
// only a regular file of the expected size is streamed. Thread-safe.
#ifndef SEALFS_FS_REMOTE_LOCAL_SOURCE_H_
#define SEALFS_FS_REMOTE_LOCAL_SOURCE_H_

#include <memory>
#include <string>

#include "fs/remote/object_source.h"

namespace sealfs::remote {

// Opens the store directory at `path` (it must have objects/). ENOENT or
// ENOTDIR if it is not a store.
Result<std::unique_ptr<ObjectSource>> OpenLocalSource(const std::string& path);

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_LOCAL_SOURCE_H_
