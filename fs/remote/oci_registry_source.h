// SPDX-License-Identifier: Apache-2.0
// A `docker://` reference as an OciImageSource for `mkfs --from-oci`: the
// manifest (or index) the tag names, then manifests and blobs by digest,
// blobs streamed as they arrive through the registry client's engine. The
// importer checks every byte against its digest, so the registry is never
// trusted. Thread-safe.
#ifndef SEALFS_FS_REMOTE_OCI_REGISTRY_SOURCE_H_
#define SEALFS_FS_REMOTE_OCI_REGISTRY_SOURCE_H_

#include <memory>

#include "fs/core/oci_source.h"
#include "fs/remote/registry_client.h"
#include "fs/remote/registry_ref.h"
#include "sealfs/status.h"

namespace sealfs::remote {

// Connects to `ref`'s registry (RegistryClient::Open's errors). `ref` names
// a tag or a digest.
Result<std::unique_ptr<OciImageSource>> OpenRegistryImageSource(
    const RegistryRef& ref, const RegistryOptions& options);

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_OCI_REGISTRY_SOURCE_H_
