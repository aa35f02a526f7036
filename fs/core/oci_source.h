// SPDX-License-Identifier: Apache-2.0
// OciImageSource: where `mkfs --from-oci` reads an OCI image from, whatever
// carries it: an `oci:` layout directory, an `oci-archive:` file (both in
// fs/mkfs) or a `docker://` registry (fs/remote). A source only delivers
// bytes; the importer checks every manifest and blob against the digest and
// size its descriptor names, so a source is never trusted. Implementations
// are thread-safe: layers are opened from several threads at once.
#ifndef SEALFS_FS_CORE_OCI_SOURCE_H_
#define SEALFS_FS_CORE_OCI_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fs/core/oci.h"
#include "fs/util/byte_stream.h"
#include "sealfs/status.h"

namespace sealfs {

// A manifest or an index, and the descriptor it was fetched by.
struct OciDocument {
  // media_type: what the layout's index or the registry says it is. digest
  // and size: what it must hash to; for a registry tag, which names no
  // digest, those of the bytes served.
  OciDescriptor descriptor;
  std::vector<uint8_t> bytes;
};

class OciImageSource {
 public:
  virtual ~OciImageSource() = default;

  // What the source's reference names: an image manifest, or an index (a
  // multi-platform image) for the caller to choose from. ENOENT if the
  // reference (a tag) names nothing, naming what there is where it can.
  virtual Result<OciDocument> ReadTop() = 0;

  // The manifest `desc` names (an entry of an index): at most
  // min(desc.size, kMaxOciManifestBytes) bytes.
  virtual Result<std::vector<uint8_t>> ReadManifest(
      const OciDescriptor& desc) = 0;

  // Blob `desc` (a config or a layer) as a stream. Whatever it yields is
  // checked by the caller, which refuses a blob shorter or longer than
  // desc.size or with another digest.
  virtual Result<std::unique_ptr<ByteStream>> OpenBlob(
      const OciDescriptor& desc) = 0;
};

}  // namespace sealfs

#endif  // SEALFS_FS_CORE_OCI_SOURCE_H_
