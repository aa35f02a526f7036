// SPDX-License-Identifier: Apache-2.0
// Ed25519 keys, the signature block after the manifest, and image signing and
// verification, on the OpenSSL 3 EVP API. Reentrant: OpenSSL's error queue is
// per thread, and every object here is owned by one call or one SigningKey.
#include "sealfs/signature.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>
#include <system_error>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fs/core/openssl_init.h"
#include "fs/util/hex.h"
#include "fs/util/io.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/unique_fd.h"

namespace sealfs {
namespace {

// A PEM key file is a few hundred bytes; anything much larger is not a key,
// and reading it whole would let a hostile path make us allocate without end.
constexpr size_t kMaxKeyFileSize = size_t{64} * 1024;

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioDeleter {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

// Takes the oldest error off this thread's OpenSSL queue (the root cause),
// empties the queue so it cannot leak into a later, unrelated report, and
// returns "what: <openssl reason>".
std::string OpenSslError(const std::string& what) {
  const auto code = ERR_get_error();
  ERR_clear_error();
  // No reason text when the strings were never loaded
  // (InitOpenSslWithoutErrorStrings): "error:1E08010C:lib(30)::reason(268)"
  // would tell a reader nothing more.
  if (code == 0 || ERR_reason_error_string(code) == nullptr) return what;
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return what + ": " + buf;
}

// Wipes key material held in a byte buffer before it is freed.
struct Cleanser {
  std::vector<uint8_t>& bytes;
  ~Cleanser() {
    if (!bytes.empty()) OPENSSL_cleanse(bytes.data(), bytes.size());
  }
};

// Reads a small key file through one descriptor, so the checks made on it
// (regular file, permissions) apply to the bytes read. `private_key` adds the
// permission check.
Result<std::vector<uint8_t>> ReadKeyFile(const std::string& path,
                                         bool private_key) {
  InitOpenSsl();
  struct stat st;
  SEALFS_ASSIGN_OR_RETURN(UniqueFd fd, OpenRegularFile(path, &st));
  if (private_key && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    (void)std::snprintf(mode, sizeof(mode), "%04o",
                        static_cast<unsigned>(st.st_mode & 07777));
    return Status::FromErrno(
        EPERM, path + ": private key is accessible by group or others (mode " +
                   mode + "); run 'chmod 600 " + path + "'");
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxKeyFileSize) {
    return Status::FromErrno(EINVAL, path + ": too large to be a PEM key (" +
                                         std::to_string(st.st_size) +
                                         " bytes)");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  Result<size_t> got = PreadFull(fd.get(), bytes, 0);
  if (!got.ok()) {
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return got.status().WithPrefix(path);
  }
  bytes.resize(*got);
  if (bytes.empty()) {
    return Status::FromErrno(EINVAL, path + ": empty file, not a PEM key");
  }
  return bytes;
}

// PEM_read_bio_* would prompt on the terminal for an encrypted key; a key
// that needs a passphrase is refused instead (keys must fit unattended CI).
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) {
  return -1;
}

bool IsEd25519(const EVP_PKEY* pkey) {
  return EVP_PKEY_get_id(pkey) == EVP_PKEY_ED25519;
}

Result<PublicKey> RawPublicKey(const EVP_PKEY* pkey, const std::string& path) {
  PublicKey pub;
  size_t len = pub.raw.size();
  if (EVP_PKEY_get_raw_public_key(pkey, pub.raw.data(), &len) != 1 ||
      len != pub.raw.size()) {
    return Status::FromErrno(EINVAL,
                             OpenSslError(path + ": cannot get public key"));
  }
  return pub;
}

// The bytes an image signature signs: domain (with its NUL) || identity.
std::array<uint8_t, sizeof(kSignatureDomain) + kDigestSize> SignedMessage(
    const Digest& identity) {
  std::array<uint8_t, sizeof(kSignatureDomain) + kDigestSize> msg{};
  std::memcpy(msg.data(), kSignatureDomain, sizeof(kSignatureDomain));
  std::memcpy(msg.data() + sizeof(kSignatureDomain), identity.bytes.data(),
              kDigestSize);
  return msg;
}

// An Ed25519 SubjectPublicKeyInfo in DER (RFC 8410) up to the key itself:
// SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (no unused bits) }.
constexpr uint8_t kEd25519SpkiPrefix[] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                          0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

// Base64 (RFC 4648, padded) with line breaks; nullopt for anything else.
std::optional<std::vector<uint8_t>> DecodeBase64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::vector<uint8_t> out;
  uint32_t group = 0;
  int in_group = 0;
  int padding = 0;
  for (char c : text) {
    if (c == '\n' || c == '\r') continue;
    if (c == '=') {
      ++padding;
      ++in_group;
    } else {
      int v = value(c);
      if (v < 0 || padding > 0) return std::nullopt;  // data after '='
      group = group << 6 | static_cast<uint32_t>(v);
      ++in_group;
    }
    if (in_group < 4) continue;
    if (padding > 2) return std::nullopt;
    group <<= 6 * padding;
    for (int i = 0; i < 3 - padding; ++i) {
      out.push_back(static_cast<uint8_t>(group >> (16 - 8 * i)));
    }
    group = 0;
    in_group = 0;
    if (padding > 0) padding = 3;  // nothing may follow a padded group
  }
  if (in_group != 0) return std::nullopt;
  return out;
}

// The key of a PEM file holding exactly one Ed25519 public key, as `sealfs
// keygen` and `openssl pkey -pubout` write it; nullopt for anything else,
// which OpenSSL's PEM reader then handles (and explains). OpenSSL's reader
// tries every decoder it has and took 2.5-3.4 ms of a mount here; this
// takes microseconds and yields the same 32 bytes for the same file.
std::optional<PublicKey> ParseEd25519Pem(std::span<const uint8_t> file) {
  constexpr std::string_view kBegin = "-----BEGIN PUBLIC KEY-----";
  constexpr std::string_view kEnd = "-----END PUBLIC KEY-----";
  std::string_view pem(reinterpret_cast<const char*>(file.data()),
                       file.size());
  if (!pem.starts_with(kBegin)) return std::nullopt;
  size_t end = pem.find(kEnd, kBegin.size());
  if (end == std::string_view::npos) return std::nullopt;
  for (char c : pem.substr(end + kEnd.size())) {
    if (c != '\n' && c != '\r') return std::nullopt;
  }
  std::optional<std::vector<uint8_t>> der =
      DecodeBase64(pem.substr(kBegin.size(), end - kBegin.size()));
  PublicKey key;
  if (!der.has_value() ||
      der->size() != sizeof(kEd25519SpkiPrefix) + key.raw.size() ||
      std::memcmp(der->data(), kEd25519SpkiPrefix,
                  sizeof(kEd25519SpkiPrefix)) != 0) {
    return std::nullopt;
  }
  std::memcpy(key.raw.data(), der->data() + sizeof(kEd25519SpkiPrefix),
              key.raw.size());
  return key;
}

bool AllZero(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(),
                     [](uint8_t b) { return b == 0; });
}

// The bytes held by a memory BIO. Valid until the BIO is written or freed.
std::span<const uint8_t> BioBytes(BIO* bio) {
  char* data = nullptr;
  const auto len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return {};
  return {reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(len)};
}

}  // namespace

std::string PublicKey::KeyId() const { return Sha256(raw).Hex(); }

Result<PublicKey> LoadPublicKey(const std::string& path) {
  SEALFS_ASSIGN_OR_RETURN(std::vector<uint8_t> pem,
                          ReadKeyFile(path, /*private_key=*/false));
  if (std::optional<PublicKey> key = ParseEd25519Pem(pem)) return *key;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) {
    return Status::FromErrno(ENOMEM, OpenSslError(path + ": BIO_new_mem_buf"));
  }
  PkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassphrase, nullptr));
  if (pkey == nullptr) {
    return Status::FromErrno(EINVAL,
                             OpenSslError(path + ": not a PEM public key"));
  }
  if (!IsEd25519(pkey.get())) {
    return Status::FromErrno(EINVAL, path + ": not an Ed25519 public key");
  }
  return RawPublicKey(pkey.get(), path);
}

Result<std::vector<PublicKey>> LoadKeyring(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return Status::FromErrno(ec.value(), dir);
  std::vector<std::string> names;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    // Like the shell glob *.pub: hidden files are not part of the keyring.
    std::string name = it->path().filename().string();
    if (name[0] != '.' && name.ends_with(".pub")) names.push_back(name);
  }
  if (ec) return Status::FromErrno(ec.value(), dir);
  if (names.empty()) {
    return Status::FromErrno(ENOENT, dir + ": no public keys (*.pub)");
  }
  std::sort(names.begin(), names.end());
  std::vector<PublicKey> keys;
  keys.reserve(names.size());
  for (const std::string& name : names) {
    SEALFS_ASSIGN_OR_RETURN(PublicKey key, LoadPublicKey(dir + "/" + name));
    keys.push_back(key);
  }
  return keys;
}

struct SigningKey::Impl {
  PkeyPtr pkey;
};

SigningKey::SigningKey(std::unique_ptr<Impl> impl, PublicKey pub)
    : impl_(std::move(impl)), public_key_(pub) {}
SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;
SigningKey::~SigningKey() = default;

Result<SigningKey> SigningKey::Load(const std::string& path) {
  SEALFS_ASSIGN_OR_RETURN(std::vector<uint8_t> pem,
                          ReadKeyFile(path, /*private_key=*/true));
  Cleanser wipe{pem};
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) {
    return Status::FromErrno(ENOMEM, OpenSslError(path + ": BIO_new_mem_buf"));
  }
  PkeyPtr pkey(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (pkey == nullptr) {
    return Status::FromErrno(
        EINVAL, OpenSslError(path + ": not an unencrypted PEM private key"));
  }
  if (!IsEd25519(pkey.get())) {
    return Status::FromErrno(EINVAL, path + ": not an Ed25519 private key");
  }
  SEALFS_ASSIGN_OR_RETURN(PublicKey pub, RawPublicKey(pkey.get(), path));
  auto impl = std::make_unique<Impl>();
  impl->pkey = std::move(pkey);
  return SigningKey(std::move(impl), pub);
}

std::array<uint8_t, kEd25519SignatureSize> SigningKey::Sign(
    const Digest& identity) const {
  // Ed25519 signing of a valid key fails only on allocation failure. The
  // all-zero result is then never a valid signature, and SignImageFile
  // verifies what it signed before writing it.
  std::array<uint8_t, kEd25519SignatureSize> sig{};
  auto msg = SignedMessage(identity);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = sig.size();
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr,
                         impl_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len, msg.data(), msg.size()) !=
          1 ||
      len != sig.size()) {
    ERR_clear_error();
    sig.fill(0);
  }
  return sig;
}

Status GenerateKeyPair(const std::string& path) {
  InitOpenSsl();
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (pkey == nullptr) {
    return Status::FromErrno(EIO, OpenSslError("Ed25519 key generation"));
  }
  // Secure-heap memory for the private PEM, wiped when the BIO is freed.
  BioPtr priv(BIO_new(BIO_s_secmem()));
  BioPtr pub(BIO_new(BIO_s_mem()));
  if (priv == nullptr || pub == nullptr) {
    return Status::FromErrno(ENOMEM, OpenSslError("BIO_new"));
  }
  if (PEM_write_bio_PKCS8PrivateKey(priv.get(), pkey.get(), nullptr, nullptr, 0,
                                    nullptr, nullptr) != 1) {
    return Status::FromErrno(EIO, OpenSslError("encoding private key"));
  }
  if (PEM_write_bio_PUBKEY(pub.get(), pkey.get()) != 1) {
    return Status::FromErrno(EIO, OpenSslError("encoding public key"));
  }
  // WriteFileAtomic creates its temp file with O_EXCL and the final mode, so
  // the private key is never readable by others, and links it into place
  // only when complete; no_replace refuses an existing key (EEXIST).
  SEALFS_RETURN_IF_ERROR(WriteFileAtomic(path, BioBytes(priv.get()), 0600,
                                         /*no_replace=*/true));
  const std::string pub_path = path + ".pub";
  Status status =
      WriteFileAtomic(pub_path, BioBytes(pub.get()), 0644, /*no_replace=*/true);
  if (!status.ok()) {
    // Leave no private key without its public half.
    ::unlink(path.c_str());
    return status;
  }
  return {};
}

Result<std::vector<Signature>> ParseSignatureBlock(
    std::span<const uint8_t> trailer) {
  std::vector<Signature> sigs;
  if (trailer.empty()) return sigs;
  const std::string where = "signature block";
  if (trailer.size() < sizeof(SignatureBlockHeader)) {
    return Status::Corrupt(where + ": " + std::to_string(trailer.size()) +
                           " bytes, shorter than its header");
  }
  SignatureBlockHeader header;
  std::memcpy(&header, trailer.data(), sizeof(header));
  if (header.magic.value() != kSignatureMagic) {
    return Status::Corrupt(where + ": bad magic");
  }
  if (header.version.value() != kSignatureVersion) {
    return Status::Corrupt(where + ": unsupported version " +
                           std::to_string(header.version.value()));
  }
  if (!AllZero(header.reserved)) {
    return Status::Corrupt(where + ": reserved header bytes are not zero");
  }
  const uint64_t count = header.count.value();
  if (count == 0) return Status::Corrupt(where + ": no signatures");
  // count < 2^16, so this cannot overflow.
  const uint64_t expected =
      sizeof(SignatureBlockHeader) + count * sizeof(SignatureRecord);
  if (trailer.size() != expected) {
    return Status::Corrupt(where + ": " + std::to_string(trailer.size()) +
                           " bytes, expected " + std::to_string(expected) +
                           " for " + std::to_string(count) + " signatures");
  }
  sigs.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    const std::string rec_where = where + ": signature " + std::to_string(i);
    SignatureRecord rec;
    std::memcpy(&rec,
                trailer.data() + sizeof(SignatureBlockHeader) +
                    i * sizeof(SignatureRecord),
                sizeof(rec));
    if (rec.algorithm.value() != kSigAlgEd25519) {
      return Status::Corrupt(rec_where + ": unknown algorithm " +
                             std::to_string(rec.algorithm.value()));
    }
    if (rec.reserved.value() != 0 || !AllZero(rec.reserved2)) {
      return Status::Corrupt(rec_where + ": reserved bytes are not zero");
    }
    Signature sig;
    std::memcpy(sig.key.raw.data(), rec.public_key, sizeof(rec.public_key));
    std::memcpy(sig.signature.data(), rec.signature, sizeof(rec.signature));
    for (const Signature& prev : sigs) {
      // One signature per key: a second one could only confuse a reader.
      if (prev.key == sig.key) {
        return Status::Corrupt(rec_where + ": second signature by key " +
                               sig.key.KeyId());
      }
    }
    sigs.push_back(sig);
  }
  return sigs;
}

std::vector<uint8_t> EncodeSignatureBlock(std::span<const Signature> sigs) {
  std::vector<uint8_t> out;
  if (sigs.empty()) return out;
  // Sorted by key, so the same set of signatures always gives the same bytes.
  std::vector<Signature> sorted(sigs.begin(), sigs.end());
  std::sort(
      sorted.begin(), sorted.end(),
      [](const Signature& a, const Signature& b) { return a.key < b.key; });
  SignatureBlockHeader header{};
  header.magic.set(kSignatureMagic);
  header.version.set(kSignatureVersion);
  header.count.set(static_cast<uint16_t>(sorted.size()));
  out.resize(sizeof(header) + sorted.size() * sizeof(SignatureRecord));
  std::memcpy(out.data(), &header, sizeof(header));
  uint8_t* pos = out.data() + sizeof(header);
  for (const Signature& sig : sorted) {
    SignatureRecord rec{};
    rec.algorithm.set(kSigAlgEd25519);
    std::memcpy(rec.public_key, sig.key.raw.data(), sizeof(rec.public_key));
    std::memcpy(rec.signature, sig.signature.data(), sizeof(rec.signature));
    std::memcpy(pos, &rec, sizeof(rec));
    pos += sizeof(rec);
  }
  return out;
}

bool VerifySignature(const Signature& sig, const Digest& identity) {
  InitOpenSsl();
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, sig.key.raw.data(), sig.key.raw.size()));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  auto msg = SignedMessage(identity);
  bool ok = pkey != nullptr && ctx != nullptr &&
            EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr,
                                 pkey.get()) == 1 &&
            EVP_DigestVerify(ctx.get(), sig.signature.data(),
                             sig.signature.size(), msg.data(), msg.size()) == 1;
  // A bad signature leaves errors queued; drop them so they are not blamed
  // on a later, unrelated OpenSSL call in this thread.
  ERR_clear_error();
  return ok;
}

void PrepareVerification(const PublicKey& key) {
  // One verification of a signature that fails: OpenSSL looks up and keeps
  // its Ed25519 key and signature methods (about 0.3 ms) for every later
  // one. The result does not matter.
  Signature sig;
  sig.key = key;
  (void)VerifySignature(sig, Digest());
}

Result<PublicKey> VerifyImage(const Manifest& image,
                              std::span<const PublicKey> trusted) {
  SEALFS_ASSIGN_OR_RETURN(std::vector<Signature> sigs,
                          ParseSignatureBlock(image.trailer_bytes()));
  if (sigs.empty()) return Status::FromErrno(ENODATA, "image is not signed");
  std::string invalid;
  std::string untrusted;
  for (const Signature& sig : sigs) {
    bool is_trusted =
        std::find(trusted.begin(), trusted.end(), sig.key) != trusted.end();
    if (!is_trusted) {
      if (untrusted.empty()) {
        untrusted = "signed by key " + sig.key.KeyId() + ", not trusted";
      }
      continue;
    }
    if (VerifySignature(sig, image.identity())) return sig.key;
    if (invalid.empty()) {
      invalid = "signature by trusted key " + sig.key.KeyId() + " is invalid";
    }
  }
  // An invalid signature by a trusted key is the more alarming finding: the
  // image was altered after signing, or the signature was forged.
  std::string reason = !invalid.empty() ? invalid : untrusted;
  if (sigs.size() > 1) {
    reason += " (" + std::to_string(sigs.size()) +
              " signatures, none valid "
              "and trusted)";
  }
  return Status::FromErrno(EKEYREJECTED, reason);
}

Status SignImageFile(const std::string& path, const SigningKey& key) {
  // Sign the file a symlink points at rather than replacing the link.
  std::error_code ec;
  std::filesystem::path real = std::filesystem::canonical(path, ec);
  if (ec) return Status::FromErrno(ec.value(), path);
  const std::string target = real.string();
  struct stat st;
  if (::stat(target.c_str(), &st) != 0) return ErrnoStatus(path);

  // Opened by the caller's name, so errors name the file as they gave it.
  SEALFS_ASSIGN_OR_RETURN(std::shared_ptr<const Manifest> image,
                          Manifest::Open(path));
  Result<std::vector<Signature>> parsed =
      ParseSignatureBlock(image->trailer_bytes());
  if (!parsed.ok()) return parsed.status().WithPrefix(path);
  std::vector<Signature> sigs = std::move(*parsed);

  Signature mine;
  mine.key = key.public_key();
  mine.signature = key.Sign(image->identity());
  if (!VerifySignature(mine, image->identity())) {
    return Status::FromErrno(EIO, path +
                                      ": signing failed: the new signature "
                                      "does not verify");
  }
  auto same = std::find_if(sigs.begin(), sigs.end(), [&](const Signature& s) {
    return s.key == mine.key;
  });
  if (same != sigs.end()) {
    *same = mine;
  } else {
    if (sigs.size() >= UINT16_MAX) {
      return Status::FromErrno(EOVERFLOW, path + ": already has " +
                                              std::to_string(sigs.size()) +
                                              " signatures, the most a block "
                                              "can hold");
    }
    sigs.push_back(mine);
  }

  std::span<const uint8_t> manifest = image->manifest_bytes();
  std::vector<uint8_t> block = EncodeSignatureBlock(sigs);
  std::vector<uint8_t> out;
  out.reserve(manifest.size() + block.size());
  out.insert(out.end(), manifest.begin(), manifest.end());
  out.insert(out.end(), block.begin(), block.end());
  image.reset();  // unmap before the file is replaced
  return WriteFileAtomic(target, out, st.st_mode & 07777);
}

}  // namespace sealfs
