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
  MkfsOptions output;          // image, store, key_path, epoch, force are used
  std::string dump_path;       // "-" reads standard input
  bool allow_missing = false;  // build even if objects are not in the store
  // Where PAYLOAD paths without a DIGEST are read from (composefs images
  // built without fs-verity, e.g. from OSTree): each file's digest is
  // computed and its content added to the store. Empty: such lines are
  // refused.
  std::string basedir;
};

struct DumpMkfsReport : MkfsReport {
  uint64_t objects_missing = 0;  // distinct objects absent (allow_missing)
};

// Builds options.output.image from the dump. CONTENT too long to inline and
// the files of PAYLOADs under options.basedir are added to the store first
// (under the store lock, as every builder does). Errors: those of ParseDump
// ("DUMP: line N: reason"); ENOENT naming the path and digest of a file
// whose object is not in the store (unless allow_missing); EINVAL if an
// object's size differs from the dump's SIZE; kErrCorrupt if the store holds
// something other than a regular file under the object's name; EEXIST if the
// image exists and !force; for a payload, "PATH: payload P: reason" with
// OpenBeneath's errno (ELOOP for a symlink, EXDEV for a path leaving
// basedir), EINVAL if its size differs from SIZE.
Result<DumpMkfsReport> BuildImageFromDump(const DumpMkfsOptions& options);

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_MKFS_DUMP_H_
