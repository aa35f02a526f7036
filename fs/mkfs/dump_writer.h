// SPDX-License-Identifier: Apache-2.0
// Writes an image as a composefs dump (composefs-dump(5)) in canonical form:
// paths in WalkImage order, a hard-linked inode in full at its first path and
// as "@" lines naming that path afterwards, inline files as CONTENT, stored
// files as PAYLOAD "XX/<62 hex>" plus DIGEST. Reading the store is never
// needed. Thread-safety: reentrant.
#ifndef SEALFS_FS_MKFS_DUMP_WRITER_H_
#define SEALFS_FS_MKFS_DUMP_WRITER_H_

#include <string>

#include "sealfs/manifest_reader.h"
#include "sealfs/status.h"

namespace sealfs::mkfs {

// The whole dump, one '\n'-terminated line per path. Fails only on a
// manifest accessor error (kErrCorrupt).
Result<std::string> DumpImage(const Manifest& manifest);

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_DUMP_WRITER_H_
