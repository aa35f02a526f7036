// SPDX-License-Identifier: Apache-2.0
// `sealfs mkfs --from-tar`: reads OCI image layers (tar, optionally gzip,
// zstd, xz or bzip2 compressed) as streams with libarchive, applies them in
// order to an ImageTree (fs/mkfs/layer_apply.h) and streams every file's
// content straight into the store. Nothing is ever written to the host
// filesystem but the store and the image. Thread-safety: reentrant.
#ifndef SEALFS_FS_MKFS_TAR_IMPORT_H_
#define SEALFS_FS_MKFS_TAR_IMPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "fs/mkfs/layer_apply.h"
#include "fs/mkfs/mkfs.h"
#include "fs/util/progress.h"
#include "sealfs/status.h"
#include "sealfs/store.h"

namespace sealfs::mkfs {

struct TarLayerOptions {
  // Regular files of at most this many bytes are inlined in the manifest,
  // the same rule as WalkOptions::inline_max. REQUIRES: <= kMaxInlineSize.
  uint32_t inline_max = 64;
  Progress* progress = nullptr;  // optional; counts bytes read from `fd`
};

// Reads one layer, a tar/pax/GNU/ustar archive, plain or compressed, from
// `fd` (read sequentially to its end; any file type, a pipe included) and
// applies its entries with `applier`, which must have had BeginLayer().
// Content of files over inline_max goes into `writer`. Any refusal is
// "entry PATH: reason" (or "after entry PATH: reason" for a damaged header):
// kErrCorrupt for what libarchive refuses (not a tar, truncated, bad
// checksum, data shorter than its declared size), the errno of a failed read,
// and the codes of LayerApplier::Apply for entries it refuses; EINVAL for
// values the image cannot hold (uid over 32 bits, symlink target over
// kMaxSymlinkLen, xattr name or value over its limit or duplicated, POSIX
// ACLs, which the walker would see as xattrs but tar keeps apart).
Status ImportTarLayer(int fd, LayerApplier& applier, StoreWriter& writer,
                      const TarLayerOptions& options);

// Builds options.image from `layers` (paths, "-" for stdin at most once),
// applied in order, as BuildImage does from a directory: same checks, same
// store commit, same signing and atomic write. options.source is unused.
// Errors name the layer: "layer PATH: entry NAME: reason".
Result<MkfsReport> BuildImageFromTar(const std::vector<std::string>& layers,
                                     const MkfsOptions& options);

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_TAR_IMPORT_H_
