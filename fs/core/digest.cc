// SPDX-License-Identifier: Apache-2.0
// Digest formatting and parsing, and SHA-256 through OpenSSL's low-level
// functions.
//
// Not EVP: in OpenSSL 3 the first EVP digest (and SHA256(), which is built
// on it) fetches the algorithm from a provider, and that took 1.7 ms alone
// and 3-5 ms on a mount's hashing thread, the longest step of a mount. The
// low-level functions run the same assembly (2.6 us per 4 KiB block either
// way, measured) with no set-up at all. They are deprecated in OpenSSL 3,
// which still ships them; signatures (signature.cc) use EVP as intended.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "sealfs/digest.h"

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <openssl/sha.h>

#include "fs/util/hex.h"

namespace sealfs {

std::string Digest::Hex() const { return HexEncode(bytes); }

Result<Digest> Digest::Parse(std::string_view text) {
  constexpr std::string_view kPrefix = "sha256:";
  if (text.substr(0, kPrefix.size()) == kPrefix)
    text.remove_prefix(kPrefix.size());
  if (text.size() != size_t{2} * kDigestSize) {
    return Status::FromErrno(EINVAL, "digest: expected 64 hex digits, got " +
                                         std::to_string(text.size()) +
                                         " characters");
  }
  std::optional<std::vector<uint8_t>> raw = HexDecode(text);
  if (!raw) return Status::FromErrno(EINVAL, "digest: not a hex string");
  Digest d;
  std::memcpy(d.bytes.data(), raw->data(), kDigestSize);
  return d;
}

size_t DigestHash::operator()(const Digest& d) const noexcept {
  // The digest is already uniformly distributed; any 8 bytes will do.
  size_t h;
  std::memcpy(&h, d.bytes.data(), sizeof(h));
  return h;
}

Digest Sha256(std::span<const uint8_t> data) {
  Digest d;
  SHA256_CTX ctx;
  // These return 0 only for a null argument, which cannot happen here.
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data.data(), data.size());
  SHA256_Final(d.bytes.data(), &ctx);
  return d;
}

struct Sha256Stream::Impl {
  SHA256_CTX ctx;
};

Sha256Stream::Sha256Stream() : impl_(std::make_unique<Impl>()) {
  SHA256_Init(&impl_->ctx);
}
Sha256Stream::~Sha256Stream() = default;

void Sha256Stream::Update(std::span<const uint8_t> data) {
  SHA256_Update(&impl_->ctx, data.data(), data.size());
}

Digest Sha256Stream::Finish() {
  Digest d;
  SHA256_Final(d.bytes.data(), &impl_->ctx);
  return d;
}

}  // namespace sealfs
