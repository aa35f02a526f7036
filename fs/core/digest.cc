// SPDX-License-Identifier: Apache-2.0
// Digest formatting and parsing, and SHA-256 through OpenSSL EVP with one
// reusable context per thread (so no per-hash allocation or algorithm fetch).
#include "sealfs/digest.h"

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <openssl/evp.h>

#include "fs/core/openssl_init.h"
#include "fs/util/hex.h"

namespace sealfs {
namespace {

// The SHA-256 implementation, fetched from the default provider once per
// process. Fetching is what makes EVP_Digest() slow for small inputs.
const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = [] {
    InitOpenSsl();
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    // Without SHA-256 nothing in sealfs can work, and there is no safe
    // fallback, so this is an invariant of the installation, not input.
    if (fetched == nullptr) std::abort();
    return fetched;
  }();
  return md;
}

// A digest context owned by the calling thread, freed at thread exit.
class ThreadContext {
 public:
  ThreadContext() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr) std::abort();
  }
  ~ThreadContext() { EVP_MD_CTX_free(ctx_); }
  ThreadContext(const ThreadContext&) = delete;
  ThreadContext& operator=(const ThreadContext&) = delete;
  EVP_MD_CTX* get() const { return ctx_; }

 private:
  EVP_MD_CTX* ctx_;
};

}  // namespace

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
  thread_local ThreadContext ctx;
  Digest d;
  unsigned int len = 0;
  // These calls fail only on allocation failure or a broken provider; a
  // zeroed or partial digest must never escape as if it were real.
  if (EVP_DigestInit_ex2(ctx.get(), Sha256Md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), d.bytes.data(), &len) != 1 ||
      len != kDigestSize) {
    std::abort();
  }
  return d;
}

}  // namespace sealfs
