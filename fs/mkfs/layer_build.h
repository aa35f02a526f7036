// SPDX-License-Identifier: Apache-2.0
// BuildImageFromLayers: the build that --from-tar and --from-oci share.
// Each layer is read (fetched, decompressed, its files hashed into the
// store) on a thread of its own, several at once, into a RecordedLayer; the
// calling thread applies the recorded layers in order as they complete, then
// commits the store and writes the image as every builder does.
// Thread-safety: BuildImageFromLayers is reentrant.
#ifndef SEALFS_FS_MKFS_LAYER_BUILD_H_
#define SEALFS_FS_MKFS_LAYER_BUILD_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fs/mkfs/layer_apply.h"
#include "fs/mkfs/mkfs.h"
#include "fs/util/byte_stream.h"
#include "fs/util/progress.h"
#include "sealfs/signature.h"
#include "sealfs/status.h"
#include "sealfs/store.h"

namespace sealfs::mkfs {

// What a layer's reader gets. Shared by the layers read at once.
struct LayerContext {
  StoreWriter& writer;
  uint32_t inline_max;                 // MkfsOptions::inline_max
  Progress* progress;                  // may be null; counts the layers' bytes
  const std::atomic<bool>& cancelled;  // another layer failed: stop

  // `in` as seen by the build: every piece is counted into `progress`, and
  // once `cancelled` is set the stream fails with ECANCELED.
  // REQUIRES: `in` outlives the result.
  std::unique_ptr<ByteStream> Watch(ByteStream& in) const;
};

struct LayerInput {
  std::string name;    // for messages: "layer NAME: ..."
  uint64_t bytes = 0;  // what the progress bar counts for it; 0: unknown
  // Reads the layer into `out` (its entries in order, the content of its
  // files into context.writer). Called once, on a thread of its own.
  std::function<Status(const LayerContext& context, RecordedLayer* out)> decode;
};

// Builds options.image from `layers`, applied in order with the OCI rules
// (LayerApplier), as BuildImage does from a directory: the store committed
// before the image exists, the image signed with `key` if set and written
// atomically, then tagged. At most options.threads layers are read at once.
// With `oci_config`, the image keeps it (FORMAT.md#oci_config). REQUIRES:
// CheckMkfsOptions and PrepareImageOutput passed. A refusal is "layer NAME:
// reason", of the first failing layer in order; once one fails the others
// are stopped, and no image or tag is written.
Result<MkfsReport> BuildImageFromLayers(
    std::vector<LayerInput> layers, const MkfsOptions& options,
    const std::optional<SigningKey>& key,
    const std::optional<std::string>& oci_config = std::nullopt);

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_LAYER_BUILD_H_
