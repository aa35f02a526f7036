// SPDX-License-Identifier: Apache-2.0
// Pushing a sealfs image to an OCI registry (docs/FORMAT.md#registry): its
// objects packed into a few large blobs, each with an index, the image file
// as one blob, and an OCI manifest under a tag. Blobs the repository has
// are not sent again; with a base image, the packs it shares are reused
// (mounted from its repository if need be) and only new objects are packed.
// Every object is re-hashed as it is packed, so a corrupt store object is
// refused rather than published. Not thread-safe itself; uploads run
// several at once.
#ifndef SEALFS_FS_REMOTE_PUSH_H_
#define SEALFS_FS_REMOTE_PUSH_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "fs/remote/registry_client.h"
#include "fs/util/progress.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/status.h"
#include "sealfs/store.h"

namespace sealfs::remote {

// A pack is closed once it holds this many bytes (objects and trees).
inline constexpr uint64_t kPackTargetBytes = uint64_t{64} << 20;

struct PushOptions {
  // An image pushed before (docker://HOST/REPO:TAG on the same registry)
  // whose packs to reuse for the objects the two share; empty: none.
  std::string base;
  RegistryOptions registry;  // for the base's repository
  unsigned parallel = 4;     // uploads at once
  uint64_t pack_bytes = kPackTargetBytes;
};

struct PushReport {
  std::string manifest_digest;  // "sha256:..." as the registry says
  uint64_t objects = 0;         // distinct objects of the image
  uint64_t packs = 0;           // in the manifest
  uint64_t packs_reused = 0;    // of those, the base's
  uint64_t blobs_uploaded = 0;
  uint64_t blobs_present = 0;  // already in the repository (HEAD)
  uint64_t blobs_mounted = 0;  // mounted from the base's repository
  uint64_t bytes_uploaded = 0;
};

// Pushes the image `image_bytes` (validated into `manifest`), whose objects
// are in `store`, to `client`'s repository under `tag`. `progress` (may be
// null) counts bytes hashed and uploaded. ENOENT naming the object if the
// store lacks one; kErrDigest if one is corrupt; the registry's errors.
Result<PushReport> PushImage(RegistryClient& client, const std::string& tag,
                             std::span<const uint8_t> image_bytes,
                             const Manifest& manifest,
                             const std::shared_ptr<Store>& store,
                             const PushOptions& options, Progress* progress);

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_PUSH_H_
