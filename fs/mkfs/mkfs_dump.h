// SPDX-License-Identifier: Apache-2.0
// `sealfs mkfs --from-dump`: builds an image from a composefs dump whose
// stored files' objects are already in the store (checked by presence and
// size, never copied), then signs and writes it like every other build.
// Thread-safety: BuildImageFromDump is reentrant.
#ifndef SEALFS_FS_MKFS_MKFS_DUMP_H_
#define SEALFS_FS_MKFS_MKFS_DUMP_H_

#include <cstdint>
#include <string>

#include "fs/mkfs/mkfs.h"
#include "sealfs/status.h"

namespace sealfs::mkfs {

struct DumpMkfsOptions {
  MkfsOptions output;      // image, store, key_path, epoch, force are used
  std::string dump_path;   // "-" reads standard input
  bool allow_missing = false;  // build even if objects are not in the store
};

struct DumpMkfsReport : MkfsReport {
  uint64_t objects_missing = 0;  // distinct objects absent (allow_missing)
};

// Builds options.output.image from the dump. Errors: those of ParseDump
// ("DUMP: line N: reason"); ENOENT naming the path and digest of a file
// whose object is not in the store (unless allow_missing); EINVAL if an
// object's size differs from the dump's SIZE; kErrCorrupt if the store holds
// something other than a regular file under the object's name; EEXIST if the
// image exists and !force.
Result<DumpMkfsReport> BuildImageFromDump(const DumpMkfsOptions& options);

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_MKFS_DUMP_H_
