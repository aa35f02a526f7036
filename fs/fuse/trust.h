// SPDX-License-Identifier: Apache-2.0
// The mount-time trust decision: a valid signature by a trusted key, or the
// identity pinned with digest=, or (with insecure) anything, with a warning.
// Reentrant.
#ifndef SEALFS_FS_FUSE_TRUST_H_
#define SEALFS_FS_FUSE_TRUST_H_

#include <string>
#include <vector>

#include "fs/fuse/mount_options.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/signature.h"
#include "sealfs/status.h"

namespace sealfs::fuse {

// The keys named by pubkey= and keyring=, raw; none if neither is given.
// Independent of the image, so a mount reads them while it reads the image.
Result<std::vector<PublicKey>> LoadTrustedKeys(const MountOptions& options);

// OK if `image` may be mounted under `options`, with `keys` the result of
// LoadTrustedKeys(options). Refusals are one line prefixed with `label`:
// EKEYREJECTED "LABEL: signed by key <id>, not trusted" (or "signature by
// key <id> is invalid", or "identity ... does not match digest=..."),
// ENODATA "LABEL: image is not signed"; errors loading a key file name the
// file. With options.insecure a refusal becomes OK and its text is stored
// in `*warning`; a malformed signature block (kErrCorrupt) is refused even
// then.
Status CheckTrust(const Manifest& image, const std::string& label,
                  const MountOptions& options,
                  const Result<std::vector<PublicKey>>& keys,
                  std::string* warning);

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_TRUST_H_
