// SPDX-License-Identifier: Apache-2.0
// The OCI image manifest that carries a sealfs image in a registry
// (docs/FORMAT.md#registry): written for push, and parsed, as hostile JSON,
// for pull and mounts. Reentrant.
#ifndef SEALFS_FS_REMOTE_OCI_MANIFEST_H_
#define SEALFS_FS_REMOTE_OCI_MANIFEST_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fs/core/oci.h"
#include "sealfs/digest.h"
#include "sealfs/status.h"

namespace sealfs::remote {

// The image file and an index are at most this large (the manifest:
// kMaxOciManifestBytes).
inline constexpr uint64_t kMaxOciImageBytes = uint64_t{1} << 30;
inline constexpr uint64_t kMaxPackIndexBytes = uint64_t{64} << 20;

// The empty config blob ("{}") and its descriptor.
std::span<const uint8_t> OciEmptyConfig();
OciDescriptor OciEmptyConfigDescriptor();

struct SealfsArtifact {
  OciDescriptor image;  // the image file (manifest + signature block)
  Digest identity;      // the image's identity, as the writer said
  // As many indexes as packs. Each index names its pack by digest (and a
  // reader pairs them only then); a writer lists index i before pack i.
  std::vector<OciDescriptor> indexes;
  std::vector<OciDescriptor> packs;

  // The pack whose digest is `digest`, or null.
  const OciDescriptor* FindPack(const Digest& digest) const;
};

// The manifest's JSON: deterministic, fields in the order FORMAT.md shows.
// REQUIRES: indexes.size() == packs.size().
std::string BuildOciManifest(const SealfsArtifact& artifact);

// Parses a manifest; kErrCorrupt naming what is wrong for anything
// docs/FORMAT.md#registry says a reader must refuse (EMEDIUMTYPE for a
// manifest that is valid OCI but not a sealfs image, say a container image).
Result<SealfsArtifact> ParseOciManifest(std::span<const uint8_t> bytes);

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_OCI_MANIFEST_H_
