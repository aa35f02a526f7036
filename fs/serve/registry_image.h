// SPDX-License-Identifier: Apache-2.0
// Images the service reads from a registry (docker://), and registries as
// a lazy mount's remote= (remote=docker://). The image is read
// once, for the mount request that names it, and kept in a sealed memfd
// that becomes the session's image descriptor, so the keeper, systemd's fd
// store and a replacement carry it like any image file; the reference is
// pinned to the manifest digest read then. A session taken over opens the
// registry again only on its first fetch, so no restart waits on the
// network. Reentrant.
#ifndef SEALFS_FS_SERVE_REGISTRY_IMAGE_H_
#define SEALFS_FS_SERVE_REGISTRY_IMAGE_H_

#include <memory>
#include <string>

#include "fs/fuse/mount_options.h"
#include "fs/remote/object_source.h"
#include "fs/remote/registry_source.h"
#include "fs/util/io.h"
#include "sealfs/status.h"

namespace sealfs::serve {

struct RegistryRead {
  UniqueFd image;  // a memfd holding the image file, sealed against changes
  std::unique_ptr<remote::ObjectSource> source;  // open: pack indexes read
  std::string pinned;  // docker://HOST/REPO@sha256:<manifest digest>
};

// Reads the image `ref` names (docker://...) with `options`' registry
// settings (tls_verify=, cert_dir=, authfile=, else this process's auth
// files), waiting on the registry. The image is checked against its
// descriptor's digest, NOT validated or trusted (the caller does both).
// Errors: the registry's (ECONNREFUSED, ETIMEDOUT, EACCES, ENOENT,
// kErrDigest...), prefixed with `ref`; memfd_create's.
Result<RegistryRead> ReadImageFromRegistry(const std::string& ref,
                                           const fuse::MountOptions& options);

// Opens the packs of the image `ref` names as a source, reading its
// manifest and pack indexes now (the caller waits). Errors as above.
Result<std::unique_ptr<remote::RegistrySource>> OpenRegistryNow(
    const std::string& ref, const fuse::MountOptions& options);

// The packs of the image `pinned` names, as a source that opens the
// registry (reads its manifest and pack indexes) on its first fetch, and
// again on the next after a failure.
std::unique_ptr<remote::ObjectSource> DeferredRegistrySource(
    const std::string& pinned, const fuse::MountOptions& options);

}  // namespace sealfs::serve

#endif  // SEALFS_FS_SERVE_REGISTRY_IMAGE_H_
