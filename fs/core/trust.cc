// SPDX-License-Identifier: Apache-2.0
// Signature and pinned-digest checks before an image is used.
#include "fs/core/trust.h"

#include <algorithm>
#include <vector>

#include "sealfs/signature.h"

namespace sealfs {
namespace {

// Explains a failed VerifyImage in terms of the keys that did sign.
Status SignatureRefusal(const Manifest& image, const std::string& label,
                        std::span<const PublicKey> trusted,
                        const Status& failure) {
  if (failure.err() == ENODATA) {
    return Status::FromErrno(ENODATA, label + ": image is not signed");
  }
  Result<std::vector<Signature>> sigs =
      ParseSignatureBlock(image.trailer_bytes());
  if (!sigs.ok()) return sigs.status().WithPrefix(label);
  for (const Signature& sig : *sigs) {
    if (std::find(trusted.begin(), trusted.end(), sig.key) != trusted.end()) {
      return Status::FromErrno(
          EKEYREJECTED,
          label + ": signature by key " + sig.key.KeyId() + " is invalid");
    }
  }
  if (!sigs->empty()) {
    return Status::FromErrno(EKEYREJECTED, label + ": signed by key " +
                                               sigs->front().key.KeyId() +
                                               ", not trusted");
  }
  return failure.WithPrefix(label);
}

Status CheckStrict(const Manifest& image, const std::string& label,
                   const TrustPolicy& options,
                   const Result<std::vector<PublicKey>>& keys) {
  if (options.digest.has_value() && *options.digest != image.identity()) {
    return Status::FromErrno(
        EKEYREJECTED,
        label + ": identity " + image.identity().ToString() +
            " does not match digest=" + options.digest->ToString());
  }
  if (options.pubkeys.empty() && options.keyring.empty()) {
    if (options.digest.has_value()) return Status();  // the pin suffices
    return Status::FromErrno(EKEYREJECTED, label + ": no trusted key given (" +
                                               options.how_to_trust + ")");
  }
  if (!keys.ok()) return keys.status();
  Result<PublicKey> signer = VerifyImage(image, *keys);
  if (!signer.ok()) {
    return SignatureRefusal(image, label, *keys, signer.status());
  }
  return Status();
}

}  // namespace

Result<std::vector<PublicKey>> LoadTrustedKeys(const TrustPolicy& options) {
  std::vector<PublicKey> keys;
  for (const std::string& path : options.pubkeys) {
    SEALFS_ASSIGN_OR_RETURN(PublicKey key, LoadPublicKey(path));
    keys.push_back(key);
  }
  if (!options.keyring.empty()) {
    SEALFS_ASSIGN_OR_RETURN(std::vector<PublicKey> ring,
                            LoadKeyring(options.keyring));
    keys.insert(keys.end(), ring.begin(), ring.end());
  }
  // This runs beside the image's reading (session.cc): the signature check
  // that follows it then finds OpenSSL ready.
  if (!keys.empty()) PrepareVerification(keys.front());
  return keys;
}

Status CheckTrust(const Manifest& image, const std::string& label,
                  const TrustPolicy& options,
                  const Result<std::vector<PublicKey>>& keys,
                  std::string* warning) {
  // A malformed signature block makes a malformed image, whatever the
  // options: docs/FORMAT.md has readers refuse it, and insecure, which
  // accepts untrusted images, does not accept broken ones.
  Result<std::vector<Signature>> sigs =
      ParseSignatureBlock(image.trailer_bytes());
  if (!sigs.ok()) return sigs.status().WithPrefix(label);
  Status st = CheckStrict(image, label, options, keys);
  if (st.ok() || !options.insecure) return st;
  *warning = st.context() + "; mounting anyway (insecure)";
  return Status();
}

}  // namespace sealfs
