// SPDX-License-Identifier: Apache-2.0
// `sealfs mkfs --from-oci`: builds an image from an OCI (or Docker schema 2)
// container image that an OciImageSource delivers. The index, manifest and
// config are read and checked against their digests first; then each layer
// is fetched, checked against its digest as it streams, decompressed as its
// media type says, checked against the config's rootfs.diff_ids, and
// applied in order (BuildImageFromLayers). The config is kept in the image.
// Thread-safety: reentrant; the source is used from several threads.
#ifndef SEALFS_FS_MKFS_OCI_IMPORT_H_
#define SEALFS_FS_MKFS_OCI_IMPORT_H_

#include <memory>
#include <string>
#include <vector>

#include "fs/core/oci_source.h"
#include "fs/mkfs/mkfs.h"
#include "fs/mkfs/oci_image.h"
#include "sealfs/status.h"

namespace sealfs::mkfs {

struct OciImportOptions {
  Platform platform;  // which image of an index (a multi-platform image)
  // Whether the user named the platform: then a single image for another
  // platform is refused too. Otherwise (the host's default) it is built,
  // as an image builder for another machine may want.
  bool platform_given = false;
};

// An image resolved down to its manifest and config, everything checked
// against its digest.
struct ResolvedOciImage {
  OciDescriptor manifest_descriptor;
  ImageManifest manifest;
  std::vector<uint8_t> config_bytes;
  ImageConfig config;
};

// Reads and checks the top document, any index (at most two levels),
// the manifest and the config. kErrDigest for bytes that do not match
// their descriptor, kErrCorrupt for malformed JSON or a config whose
// diff_ids do not pair with the layers, EMEDIUMTYPE naming a media type
// not supported, ENOENT naming what there is when the tag or platform
// names nothing, or the source's errors.
Result<ResolvedOciImage> ResolveOciImage(OciImageSource& source,
                                         const OciImportOptions& options);

// Builds options.image from `source` as described above. Any refusal
// leaves no image or tag behind (objects already stored stay: they are
// content-addressed and verified). A layer's refusal reads "layer N
// (sha256:...): reason".
Result<MkfsReport> BuildImageFromOci(std::shared_ptr<OciImageSource> source,
                                     const OciImportOptions& import_options,
                                     const MkfsOptions& options);

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_OCI_IMPORT_H_
