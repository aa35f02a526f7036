// SPDX-License-Identifier: Apache-2.0
// Ed25519 keys and image signatures (OpenSSL). A signature signs
// kSignatureDomain || identity, where identity is the fs-verity digest of
// the manifest; signatures live in a block after the manifest bytes and never
// change the identity (docs/FORMAT.md#signatures).
// Thread-safety: all functions are reentrant; objects are thread-compatible.
#ifndef SEALFS_INCLUDE_SEALFS_SIGNATURE_H_
#define SEALFS_INCLUDE_SEALFS_SIGNATURE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sealfs/digest.h"
#include "sealfs/format.h"
#include "sealfs/status.h"

namespace sealfs {

class Manifest;

struct PublicKey {
  std::array<uint8_t, kEd25519PublicKeySize> raw{};

  // Hex SHA-256 of the raw key: how tools name a key.
  std::string KeyId() const;
  auto operator<=>(const PublicKey&) const = default;
};

// Reads a PEM Ed25519 public key (SubjectPublicKeyInfo, as `openssl pkey
// -pubout` writes). EINVAL naming the file if it is not one.
Result<PublicKey> LoadPublicKey(const std::string& path);
// Every "*.pub" file in `dir`, sorted by file name. EINVAL if one is not a
// valid key; ENOENT if there are none.
Result<std::vector<PublicKey>> LoadKeyring(const std::string& dir);

class SigningKey {
 public:
  // Reads a PEM Ed25519 private key (PKCS#8). Refuses (EPERM) a key file
  // readable by group or others.
  static Result<SigningKey> Load(const std::string& path);
  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  ~SigningKey();

  const PublicKey& public_key() const { return public_key_; }
  // Signs kSignatureDomain || identity. Ed25519 signing fails only if
  // OpenSSL cannot allocate; the result is then all zero, which never
  // verifies (SignImageFile checks each signature before writing it).
  std::array<uint8_t, kEd25519SignatureSize> Sign(const Digest& identity) const;

 private:
  struct Impl;
  SigningKey(std::unique_ptr<Impl> impl, PublicKey pub);
  std::unique_ptr<Impl> impl_;
  PublicKey public_key_;
};

// Writes a new Ed25519 private key to `path` (PEM, mode 0600, refuses to
// overwrite: EEXIST) and its public key to `path + ".pub"` (mode 0644).
Status GenerateKeyPair(const std::string& path);

struct Signature {
  PublicKey key;
  std::array<uint8_t, kEd25519SignatureSize> signature{};
};

// Parses the bytes after the manifest. Empty input gives no signatures;
// anything malformed is kErrCorrupt with the reason.
Result<std::vector<Signature>> ParseSignatureBlock(
    std::span<const uint8_t> trailer);
// Encodes signatures as a block sorted by key, so the bytes do not depend on
// the input order (empty input gives empty output).
// REQUIRES: sigs.size() <= UINT16_MAX (the count field is 16 bits).
std::vector<uint8_t> EncodeSignatureBlock(std::span<const Signature> sigs);

// True iff `sig` is a valid signature of `identity` by `sig.key`.
bool VerifySignature(const Signature& sig, const Digest& identity);

// Has OpenSSL look up its Ed25519 methods, which it keeps for the process
// (about 0.3 ms on first use), so that a later VerifyImage or
// VerifySignature does not wait for it. For a thread with time to spare
// before one; `key` may be any public key.
void PrepareVerification(const PublicKey& key);

// Checks that the image carries a valid signature by one of `trusted`, and
// returns that key. ENODATA "image is not signed" when there is no signature;
// EKEYREJECTED when no signature is both by a trusted key and valid.
Result<PublicKey> VerifyImage(const Manifest& image,
                              std::span<const PublicKey> trusted);

// Adds (or replaces, for the same key) a signature to the image file at
// `path`, rewriting it atomically (temp file, fsync, rename). The manifest
// bytes, and so the identity, are unchanged.
Status SignImageFile(const std::string& path, const SigningKey& key);

}  // namespace sealfs

#endif  // SEALFS_INCLUDE_SEALFS_SIGNATURE_H_
