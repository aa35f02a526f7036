// SPDX-License-Identifier: Apache-2.0
// The trust decision before an image is used (mount, pull): a valid
// signature by a trusted key, or the identity pinned by digest, or (when
// insecure) anything, with a warning. Reentrant.
#ifndef SEALFS_FS_CORE_TRUST_H_
#define SEALFS_FS_CORE_TRUST_H_

#include <optional>
#include <string>
#include <vector>

#include "sealfs/digest.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/signature.h"
#include "sealfs/status.h"

namespace sealfs {

struct TrustPolicy {
  std::vector<std::string> pubkeys;  // trusted public key files
  std::string keyring;               // directory of trusted *.pub files
  std::optional<Digest> digest;      // pinned image identity
  bool insecure = false;             // accept untrusted images, with a warning
  // How the user names keys and pins, for the refusal of an image when
  // none was given ("pubkey=, keyring= or digest=").
  std::string how_to_trust = "pubkey=, keyring= or digest=";

  // Whether a key, a keyring or a pin was given.
  bool any() const {
    return !pubkeys.empty() || !keyring.empty() || digest.has_value();
  }
};

// The keys named by pubkeys and keyring, raw; none if neither is given.
// Independent of the image, so a mount reads them while it reads the image.
Result<std::vector<PublicKey>> LoadTrustedKeys(const TrustPolicy& policy);

// OK if `image` may be used under `policy`, with `keys` the result of
// LoadTrustedKeys(policy). Refusals are one line prefixed with `label`:
// EKEYREJECTED "LABEL: signed by key <id>, not trusted" (or "signature by
// key <id> is invalid", or "identity ... does not match digest=..."),
// ENODATA "LABEL: image is not signed"; errors loading a key file name the
// file. With policy.insecure a refusal becomes OK and its text is stored
// in `*warning`; a malformed signature block (kErrCorrupt) is refused even
// then.
Status CheckTrust(const Manifest& image, const std::string& label,
                  const TrustPolicy& policy,
                  const Result<std::vector<PublicKey>>& keys,
                  std::string* warning);

}  // namespace sealfs

#endif  // SEALFS_FS_CORE_TRUST_H_
