// SPDX-License-Identifier: Apache-2.0
// `sealfs mkfs --from-tar`: reads OCI image layers (tar, optionally gzip,
// zstd, xz or bzip2 compressed) as streams with libarchive, hands their
// entries to a LayerSink (fs/mkfs/layer_apply.h) and streams every file's
// content straight into the store. Nothing is ever written to the host
// filesystem but the store and the image. Thread-safety: reentrant.
#ifndef SEALFS_FS_MKFS_TAR_IMPORT_H_
#define SEALFS_FS_MKFS_TAR_IMPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "fs/mkfs/layer_apply.h"
#include "fs/mkfs/mkfs.h"
#include "fs/util/byte_stream.h"
#include "fs/util/progress.h"
#include "sealfs/status.h"
#include "sealfs/store.h"

namespace sealfs::mkfs {

struct TarLayerOptions {
  // Regular files of at most this many bytes are inlined in the manifest,
  // the same rule as WalkOptions::inline_max. REQUIRES: <= kMaxInlineSize.
  uint32_t inline_max = 64;
  Progress* progress = nullptr;  // optional; counts bytes read from `in`
  // Whether `in` may be compressed (gzip, zstd, xz or bzip2, which
  // libarchive recognises from the first bytes: --from-tar's layer files),
  // or must be a plain tar (an OCI layer, which mkfs --from-oci decompresses
  // as its media type says: nothing is guessed from the bytes).
  bool detect_compression = true;
};

// Reads one layer, a tar/pax/GNU/ustar archive (plain, or compressed if
// options.detect_compression), from `in` and hands its entries to `sink` in
// archive order (a LayerApplier must have had BeginLayer()). Content of
// files over inline_max goes into `writer`. Any refusal is "entry PATH:
// reason" (or "after entry PATH: reason" for a damaged header): the Status
// of a failed `in` as it is, kErrCorrupt for what libarchive refuses (not a
// tar, truncated, bad checksum, data shorter than its declared size), and
// the codes of the sink for entries it refuses; EINVAL for values the image
// cannot hold (uid over 32 bits, symlink target over kMaxSymlinkLen, xattr
// name or value over its limit or duplicated, POSIX ACLs, which the walker
// would see as xattrs but tar keeps apart). Returns at the archive's end
// marker: bytes after it are not read.
Status ImportTarLayer(ByteStream& in, LayerSink& sink, StoreWriter& writer,
                      const TarLayerOptions& options);

// Builds options.image from `layers` (paths, "-" for stdin at most once),
// applied in order (BuildImageFromLayers: read on threads of their own), as
// BuildImage does from a directory: same checks, same store commit, same
// signing and atomic write. options.source is unused. Errors name the
// layer: "layer PATH: entry NAME: reason".
Result<MkfsReport> BuildImageFromTar(const std::vector<std::string>& layers,
                                     const MkfsOptions& options);

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_TAR_IMPORT_H_
