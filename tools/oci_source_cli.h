// SPDX-License-Identifier: Apache-2.0
// `mkfs --from-oci SOURCE`: SOURCE, in skopeo's transport names, opened as
// an OciImageSource from the layer that reads it: oci: and oci-archive:
// from fs/mkfs, docker:// from fs/remote.
#ifndef SEALFS_TOOLS_OCI_SOURCE_CLI_H_
#define SEALFS_TOOLS_OCI_SOURCE_CLI_H_

#include <memory>
#include <string>

#include "fs/core/oci_source.h"
#include "fs/mkfs/oci_image.h"
#include "fs/remote/registry_client.h"
#include "sealfs/status.h"

namespace sealfs::tools {

// Opens `spec`: "oci:DIR[:TAG]", "oci-archive:FILE[:TAG]" (the path ends at
// the first ':', as skopeo reads them) or "docker://HOST[:PORT]/REPO[:TAG]"
// (with `registry`'s TLS and credentials). `platform` chooses among the
// images a layout's tag names. EINVAL naming the transports for anything
// else; otherwise the errors of the source.
Result<std::shared_ptr<OciImageSource>> OpenOciSource(
    const std::string& spec, const mkfs::Platform& platform,
    const remote::RegistryOptions& registry);

}  // namespace sealfs::tools

#endif  // SEALFS_TOOLS_OCI_SOURCE_CLI_H_
