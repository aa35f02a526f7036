// SPDX-License-Identifier: Apache-2.0
// Tests for fs/core/signature.cc: key files, Ed25519 signing, the signature
// block codec under hostile bytes, and signing and verifying whole images.
#include "sealfs/signature.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "sealfs/manifest_reader.h"
#include "sealfs/manifest_writer.h"
#include "tests/test_util.h"

namespace sealfs {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

mode_t FileMode(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

Digest DigestOf(uint8_t seed) {
  Digest d;
  for (size_t i = 0; i < d.bytes.size(); ++i) {
    d.bytes[i] = static_cast<uint8_t>(seed + i * 7);
  }
  return d;
}

// A fresh key pair in `dir`, loaded.
SigningKey NewKey(const TempDir& dir, const std::string& name) {
  const std::string path = dir / name;
  Status status = GenerateKeyPair(path);
  EXPECT_TRUE(status.ok()) << status.ToString();
  Result<SigningKey> key = SigningKey::Load(path);
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  return std::move(*key);
}

// Writes `pkey` with OpenSSL directly, to make key files sealfs did not make.
void WritePem(const std::string& path, EVP_PKEY* pkey, bool is_private,
              const EVP_CIPHER* cipher = nullptr) {
  BIO* bio = BIO_new_file(path.c_str(), "w");
  ASSERT_NE(bio, nullptr);
  char pass[] = "passphrase";
  int ok = is_private ? PEM_write_bio_PKCS8PrivateKey(
                            bio, pkey, cipher, cipher ? pass : nullptr,
                            cipher ? 10 : 0, nullptr, nullptr)
                      : PEM_write_bio_PUBKEY(bio, pkey);
  BIO_free(bio);
  ASSERT_EQ(ok, 1);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
}

// ---------------------------------------------------------------------------
// Keys

TEST(KeyPair, GenerateWritesPrivate0600AndPublic0644) {
  TempDir dir;
  ASSERT_TRUE(GenerateKeyPair(dir / "k").ok());
  EXPECT_EQ(FileMode(dir / "k"), 0600u);
  EXPECT_EQ(FileMode(dir / "k.pub"), 0644u);
  std::vector<uint8_t> priv = ReadFile(dir / "k");
  std::string text(priv.begin(), priv.end());
  EXPECT_EQ(text.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u) << text;

  Result<SigningKey> key = SigningKey::Load(dir / "k");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  Result<PublicKey> pub = LoadPublicKey(dir / "k.pub");
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(key->public_key(), *pub);
  EXPECT_EQ(pub->KeyId().size(), 64u);
  // No temp files left beside the keys.
  size_t entries = 0;
  for ([[maybe_unused]] auto& e :
       std::filesystem::directory_iterator(dir.path())) {
    ++entries;
  }
  EXPECT_EQ(entries, 2u);
}

TEST(KeyPair, TwoKeysDiffer) {
  TempDir dir;
  SigningKey a = NewKey(dir, "a");
  SigningKey b = NewKey(dir, "b");
  EXPECT_NE(a.public_key(), b.public_key());
  EXPECT_NE(a.public_key().KeyId(), b.public_key().KeyId());
}

TEST(KeyPair, GenerateRefusesToOverwritePrivateKey) {
  TempDir dir;
  ASSERT_TRUE(GenerateKeyPair(dir / "k").ok());
  std::vector<uint8_t> before = ReadFile(dir / "k");
  std::vector<uint8_t> before_pub = ReadFile(dir / "k.pub");
  Status status = GenerateKeyPair(dir / "k");
  EXPECT_EQ(status.err(), EEXIST) << status.ToString();
  EXPECT_EQ(ReadFile(dir / "k"), before);
  EXPECT_EQ(ReadFile(dir / "k.pub"), before_pub);
}

TEST(KeyPair, GenerateRefusesExistingPublicKeyAndLeavesNoPrivateKey) {
  TempDir dir;
  WriteFile(dir / "k.pub", "someone else's key\n");
  Status status = GenerateKeyPair(dir / "k");
  EXPECT_EQ(status.err(), EEXIST) << status.ToString();
  EXPECT_FALSE(std::filesystem::exists(dir / "k"));
  std::vector<uint8_t> pub = ReadFile(dir / "k.pub");
  EXPECT_EQ(std::string(pub.begin(), pub.end()), "someone else's key\n");
}

TEST(KeyPair, GenerateInMissingDirectoryFails) {
  TempDir dir;
  EXPECT_EQ(GenerateKeyPair(dir / "no/such/k").err(), ENOENT);
}

TEST(SigningKey, RefusesKeyReadableByOthers) {
  TempDir dir;
  ASSERT_TRUE(GenerateKeyPair(dir / "k").ok());
  for (mode_t mode : {0644, 0640, 0604, 0660, 0602}) {
    ASSERT_EQ(::chmod((dir / "k").c_str(), mode), 0);
    Result<SigningKey> key = SigningKey::Load(dir / "k");
    ASSERT_FALSE(key.ok()) << std::oct << mode;
    EXPECT_EQ(key.status().err(), EPERM);
    EXPECT_NE(key.status().context().find("chmod 600"), std::string::npos)
        << key.status().ToString();
  }
  ASSERT_EQ(::chmod((dir / "k").c_str(), 0400), 0);
  EXPECT_TRUE(SigningKey::Load(dir / "k").ok());
}

TEST(SigningKey, RefusesFilesThatAreNotEd25519PrivateKeys) {
  TempDir dir;
  ASSERT_TRUE(GenerateKeyPair(dir / "k").ok());
  ASSERT_EQ(::chmod((dir / "k.pub").c_str(), 0600), 0);
  // A public key is not a private key.
  Result<SigningKey> r = SigningKey::Load(dir / "k.pub");
  EXPECT_EQ(r.status().err(), EINVAL) << r.status().ToString();

  WriteFile(dir / "junk", "not a key\n");
  ASSERT_EQ(::chmod((dir / "junk").c_str(), 0600), 0);
  r = SigningKey::Load(dir / "junk");
  EXPECT_EQ(r.status().err(), EINVAL);
  EXPECT_NE(r.status().context().find(dir / "junk"), std::string::npos);

  WriteFile(dir / "empty", "");
  ASSERT_EQ(::chmod((dir / "empty").c_str(), 0600), 0);
  EXPECT_EQ(SigningKey::Load(dir / "empty").status().err(), EINVAL);

  EXPECT_EQ(SigningKey::Load(dir / "missing").status().err(), ENOENT);
  EXPECT_EQ(SigningKey::Load(dir.path()).status().err(), EINVAL);

  // A valid PEM key of another algorithm.
  EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ASSERT_NE(ec, nullptr);
  WritePem(dir / "ec", ec, /*is_private=*/true);
  WritePem(dir / "ec.pub", ec, /*is_private=*/false);
  EVP_PKEY_free(ec);
  r = SigningKey::Load(dir / "ec");
  EXPECT_EQ(r.status().err(), EINVAL);
  EXPECT_NE(r.status().context().find("Ed25519"), std::string::npos);
  Result<PublicKey> p = LoadPublicKey(dir / "ec.pub");
  EXPECT_EQ(p.status().err(), EINVAL);
}

TEST(SigningKey, RefusesEncryptedKeyWithoutPrompting) {
  TempDir dir;
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  ASSERT_NE(pkey, nullptr);
  WritePem(dir / "enc", pkey, /*is_private=*/true, EVP_aes_256_cbc());
  EVP_PKEY_free(pkey);
  Result<SigningKey> r = SigningKey::Load(dir / "enc");
  EXPECT_EQ(r.status().err(), EINVAL) << r.status().ToString();
}

TEST(SigningKey, LoadsKeyWrittenByOpenSsl) {
  TempDir dir;
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  ASSERT_NE(pkey, nullptr);
  WritePem(dir / "k", pkey, /*is_private=*/true);
  WritePem(dir / "k.pub", pkey, /*is_private=*/false);
  EVP_PKEY_free(pkey);
  Result<SigningKey> key = SigningKey::Load(dir / "k");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  Result<PublicKey> pub = LoadPublicKey(dir / "k.pub");
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(key->public_key(), *pub);
}

TEST(PublicKey, LoadRefusesNonKeysNamingTheFile) {
  TempDir dir;
  WriteFile(dir / "x.pub",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n"
            "-----END PUBLIC KEY-----\n");
  Result<PublicKey> r = LoadPublicKey(dir / "x.pub");
  EXPECT_EQ(r.status().err(), EINVAL);
  EXPECT_NE(r.status().context().find(dir / "x.pub"), std::string::npos);
  EXPECT_EQ(LoadPublicKey(dir / "none.pub").status().err(), ENOENT);
  // Huge files are not read whole.
  WriteFile(dir / "big.pub", std::vector<uint8_t>(1 << 20, 'A'));
  EXPECT_EQ(LoadPublicKey(dir / "big.pub").status().err(), EINVAL);
}

// "<prefix><i>.pub". (Not "b" + std::to_string(i): g++ 12 warns wrongly,
// -Wrestrict.)
std::string KeyFileName(char prefix, size_t i) {
  std::string name(1, prefix);
  name += std::to_string(i);
  name += ".pub";
  return name;
}

// The key OpenSSL's own PEM reader finds in `path`, or nullopt.
std::optional<PublicKey> OpenSslKey(const std::string& path) {
  BIO* bio = BIO_new_file(path.c_str(), "r");
  if (bio == nullptr) return std::nullopt;
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (pkey == nullptr) return std::nullopt;
  PublicKey key;
  size_t len = key.raw.size();
  bool ok = EVP_PKEY_get_raw_public_key(pkey, key.raw.data(), &len) == 1 &&
            len == key.raw.size();
  EVP_PKEY_free(pkey);
  if (!ok) return std::nullopt;
  return key;
}

// LoadPublicKey reads the usual Ed25519 PEM itself and leaves anything else
// to OpenSSL: for every spelling, the key is the one OpenSSL reads.
TEST(PublicKey, LoadGivesTheKeyOpenSslReadsInEverySpelling) {
  TempDir dir;
  NewKey(dir, "k");  // writes k.pub
  std::vector<uint8_t> pub = ReadFile(dir / "k.pub");
  std::string pem(pub.begin(), pub.end());
  ASSERT_TRUE(pem.starts_with("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA"))
      << pem;
  std::optional<PublicKey> want = OpenSslKey(dir / "k.pub");
  ASSERT_TRUE(want.has_value());
  auto replace_all = [](std::string s, const std::string& from,
                        const std::string& to) {
    for (size_t at = s.find(from); at != std::string::npos;
         at = s.find(from, at + to.size())) {
      s.replace(at, from.size(), to);
    }
    return s;
  };
  const std::string body = pem.substr(27, 61);  // base64 and its newline
  const std::vector<std::string> spellings = {
      pem,
      replace_all(pem, "\n", "\r\n"),  // CRLF
      pem.substr(0, pem.size() - 1),   // no final newline
      "a comment\n" + pem,             // text before (OpenSSL)
      pem + "\n\n",                    // blank lines after
      "-----BEGIN PUBLIC KEY-----\n" + body.substr(0, 20) + "\n" +
          body.substr(20) + "-----END PUBLIC KEY-----\n",  // short lines
  };
  for (size_t i = 0; i < spellings.size(); ++i) {
    const std::string path = dir / KeyFileName('s', i);
    WriteFile(path, spellings[i]);
    Result<PublicKey> got = LoadPublicKey(path);
    ASSERT_TRUE(got.ok()) << i << ": " << got.status().ToString();
    EXPECT_EQ(*got, *want) << i;
    std::optional<PublicKey> openssl = OpenSslKey(path);
    ASSERT_TRUE(openssl.has_value()) << i;
    EXPECT_EQ(*openssl, *want) << i;
  }
}

TEST(PublicKey, LoadRefusesWhatIsNotAnEd25519PublicKey) {
  TempDir dir;
  NewKey(dir, "k");
  std::vector<uint8_t> pub = ReadFile(dir / "k.pub");
  std::string pem(pub.begin(), pub.end());
  // X25519 (OID 1.3.101.110) has the same shape but another OID.
  EVP_PKEY* x = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
  ASSERT_NE(x, nullptr);
  WritePem(dir / "x25519.pub", x, /*is_private=*/false);
  EVP_PKEY_free(x);
  Result<PublicKey> r = LoadPublicKey(dir / "x25519.pub");
  EXPECT_EQ(r.status().err(), EINVAL);
  EXPECT_EQ(r.status().context(),
            dir / "x25519.pub" + ": not an Ed25519 public key");
  auto with_body = [&](const std::string& body) {
    return "-----BEGIN PUBLIC KEY-----\n" + body +
           "\n-----END PUBLIC KEY-----\n";
  };
  const std::string good = pem.substr(27, 60);
  const std::vector<std::string> bad = {
      with_body(good.substr(0, 56)),                          // short key
      with_body(good.substr(0, 58) + "=A"),                   // data after '='
      with_body(good.substr(0, 30) + "*" + good.substr(31)),  // not base64
      with_body(good + "AAAA"),  // longer than a key
      with_body(""),             //
      pem.substr(0, 40),         // cut short
      "-----BEGIN PRIVATE KEY-----\n" + good + "\n-----END PRIVATE KEY-----\n",
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    const std::string path = dir / KeyFileName('b', i);
    WriteFile(path, bad[i]);
    Result<PublicKey> got = LoadPublicKey(path);
    EXPECT_FALSE(got.ok()) << i << " accepted: " << bad[i];
    if (!got.ok()) {
      EXPECT_EQ(got.status().err(), EINVAL) << i;
    }
    EXPECT_FALSE(OpenSslKey(path).has_value()) << i;
  }
}

TEST(PublicKey, KeyIdIsSha256OfRawKey) {
  PublicKey key;
  // SHA-256 of 32 zero bytes.
  EXPECT_EQ(key.KeyId(),
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925");
}

TEST(Keyring, LoadsEveryPubFileSortedByName) {
  TempDir dir;
  TempDir keys;
  SigningKey b = NewKey(dir, "b");
  SigningKey a = NewKey(dir, "a");
  SigningKey c = NewKey(dir, "c");
  std::filesystem::copy_file(dir / "c.pub", keys / "3-c.pub");
  std::filesystem::copy_file(dir / "a.pub", keys / "1-a.pub");
  std::filesystem::copy_file(dir / "b.pub", keys / "2-b.pub");
  WriteFile(keys / "README", "not a key, and not named *.pub\n");
  WriteFile(keys / "old.pub.bak", "ignored too\n");
  WriteFile(keys / ".hidden.pub", "hidden files are not in the keyring\n");
  Result<std::vector<PublicKey>> ring = LoadKeyring(keys.path());
  ASSERT_TRUE(ring.ok()) << ring.status().ToString();
  ASSERT_EQ(ring->size(), 3u);
  EXPECT_EQ((*ring)[0], a.public_key());
  EXPECT_EQ((*ring)[1], b.public_key());
  EXPECT_EQ((*ring)[2], c.public_key());
}

TEST(Keyring, BadKeyIsAnErrorNamingIt) {
  TempDir dir;
  NewKey(dir, "a");
  TempDir keys;
  std::filesystem::copy_file(dir / "a.pub", keys / "a.pub");
  WriteFile(keys / "b.pub", "garbage\n");
  Result<std::vector<PublicKey>> ring = LoadKeyring(keys.path());
  EXPECT_EQ(ring.status().err(), EINVAL);
  EXPECT_NE(ring.status().context().find("b.pub"), std::string::npos)
      << ring.status().ToString();
}

TEST(Keyring, EmptyOrMissingDirectoryIsEnoent) {
  TempDir keys;
  WriteFile(keys / "README", "no keys here\n");
  EXPECT_EQ(LoadKeyring(keys.path()).status().err(), ENOENT);
  EXPECT_EQ(LoadKeyring(keys / "missing").status().err(), ENOENT);
  EXPECT_EQ(LoadKeyring(keys / "README").status().err(), ENOTDIR);
}

// ---------------------------------------------------------------------------
// Signing

TEST(Signature, SignThenVerify) {
  TempDir dir;
  SigningKey key = NewKey(dir, "k");
  Digest id = DigestOf(1);
  Signature sig{key.public_key(), key.Sign(id)};
  EXPECT_TRUE(VerifySignature(sig, id));
  // Ed25519 is deterministic: same key, same message, same signature.
  EXPECT_EQ(key.Sign(id), sig.signature);
  EXPECT_FALSE(VerifySignature(sig, DigestOf(2)));
}

TEST(Signature, EveryFlippedBitIsInvalid) {
  TempDir dir;
  SigningKey key = NewKey(dir, "k");
  Digest id = DigestOf(3);
  Signature good{key.public_key(), key.Sign(id)};
  for (size_t bit = 0; bit < good.signature.size() * 8; ++bit) {
    Signature bad = good;
    bad.signature[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(VerifySignature(bad, id)) << "signature bit " << bit;
  }
  for (size_t bit = 0; bit < good.key.raw.size() * 8; ++bit) {
    Signature bad = good;
    bad.key.raw[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(VerifySignature(bad, id)) << "key bit " << bit;
  }
  for (size_t bit = 0; bit < id.bytes.size() * 8; ++bit) {
    Digest other = id;
    other.bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(VerifySignature(good, other)) << "identity bit " << bit;
  }
}

TEST(Signature, WrongKeyAndDegenerateKeysAreInvalid) {
  TempDir dir;
  SigningKey a = NewKey(dir, "a");
  SigningKey b = NewKey(dir, "b");
  Digest id = DigestOf(4);
  EXPECT_FALSE(VerifySignature({b.public_key(), a.Sign(id)}, id));
  Signature zero;  // all-zero key and signature
  EXPECT_FALSE(VerifySignature(zero, id));
  Signature ones;
  ones.key.raw.fill(0xff);
  ones.signature.fill(0xff);
  EXPECT_FALSE(VerifySignature(ones, id));
}

// Pins the signed message, domain || identity, by checking a signature with
// OpenSSL directly, so another implementation can verify sealfs images.
TEST(Signature, SignsDomainFollowedByIdentity) {
  TempDir dir;
  SigningKey key = NewKey(dir, "k");
  Digest id = DigestOf(5);
  auto sig = key.Sign(id);
  std::vector<uint8_t> msg(kSignatureDomain,
                           kSignatureDomain + sizeof(kSignatureDomain));
  ASSERT_EQ(msg.size(), 26u);
  EXPECT_EQ(msg.back(), 0);
  msg.insert(msg.end(), id.bytes.begin(), id.bytes.end());
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                               key.public_key().raw.data(), 32);
  ASSERT_NE(pkey, nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pkey), 1);
  EXPECT_EQ(
      EVP_DigestVerify(ctx, sig.data(), sig.size(), msg.data(), msg.size()), 1);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
}

// ---------------------------------------------------------------------------
// Signature block codec

std::vector<Signature> TwoSignatures(const TempDir& dir, const Digest& id) {
  SigningKey a = NewKey(dir, "a");
  SigningKey b = NewKey(dir, "b");
  return {{a.public_key(), a.Sign(id)}, {b.public_key(), b.Sign(id)}};
}

TEST(SignatureBlock, EmptyMeansUnsigned) {
  Result<std::vector<Signature>> r = ParseSignatureBlock({});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  EXPECT_TRUE(EncodeSignatureBlock({}).empty());
}

TEST(SignatureBlock, RoundTripIsSortedAndDeterministic) {
  TempDir dir;
  std::vector<Signature> sigs = TwoSignatures(dir, DigestOf(6));
  std::vector<uint8_t> block = EncodeSignatureBlock(sigs);
  ASSERT_EQ(block.size(), 16u + 2 * 128u);
  std::vector<Signature> reversed(sigs.rbegin(), sigs.rend());
  EXPECT_EQ(EncodeSignatureBlock(reversed), block);

  Result<std::vector<Signature>> parsed = ParseSignatureBlock(block);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_LT((*parsed)[0].key, (*parsed)[1].key);
  for (const Signature& s : sigs) {
    auto it = std::find_if(parsed->begin(), parsed->end(),
                           [&](auto& p) { return p.key == s.key; });
    ASSERT_NE(it, parsed->end());
    EXPECT_EQ(it->signature, s.signature);
  }
  // Layout per format.h: magic "SSIG", version 1, count 2, then records.
  EXPECT_EQ(std::memcmp(block.data(), "SSIG", 4), 0);
  EXPECT_EQ(block[4], 1);
  EXPECT_EQ(block[6], 2);
  EXPECT_EQ(block[16], 1);  // algorithm Ed25519
  EXPECT_EQ(std::memcmp(block.data() + 24, (*parsed)[0].key.raw.data(), 32), 0);
  EXPECT_EQ(std::memcmp(block.data() + 56, (*parsed)[0].signature.data(), 64),
            0);
}

TEST(SignatureBlock, TruncatedAtEveryLengthIsCorrupt) {
  TempDir dir;
  std::vector<uint8_t> block =
      EncodeSignatureBlock(TwoSignatures(dir, DigestOf(7)));
  for (size_t len = 1; len < block.size(); ++len) {
    Result<std::vector<Signature>> r =
        ParseSignatureBlock(std::span(block).first(len));
    EXPECT_EQ(r.status().err(), kErrCorrupt) << "length " << len;
  }
  // Trailing bytes after the last record are refused too.
  block.push_back(0);
  EXPECT_EQ(ParseSignatureBlock(block).status().err(), kErrCorrupt);
}

TEST(SignatureBlock, EveryFlippedByteIsCorruptOrChangesAKeyOrSignature) {
  TempDir dir;
  std::vector<Signature> sigs = TwoSignatures(dir, DigestOf(8));
  std::vector<uint8_t> block = EncodeSignatureBlock(sigs);
  std::vector<Signature> good = *ParseSignatureBlock(block);
  for (size_t i = 0; i < block.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      std::vector<uint8_t> bad = block;
      bad[i] ^= mask;
      Result<std::vector<Signature>> r = ParseSignatureBlock(bad);
      if (!r.ok()) {
        EXPECT_EQ(r.status().err(), kErrCorrupt) << "byte " << i;
        continue;
      }
      // Only key and signature bytes may parse; they then differ.
      size_t in_record = (i - 16) % 128;
      EXPECT_TRUE(i >= 16 && in_record >= 8 && in_record < 104) << i;
      ASSERT_EQ(r->size(), 2u);
      bool changed = false;
      for (size_t k = 0; k < 2; ++k) {
        changed |= (*r)[k].key != good[k].key ||
                   (*r)[k].signature != good[k].signature;
      }
      EXPECT_TRUE(changed) << "byte " << i;
    }
  }
}

// Builds a header and `count` records by hand, to craft invalid blocks.
std::vector<uint8_t> RawBlock(uint16_t count, size_t records) {
  std::vector<uint8_t> b(16 + records * 128, 0);
  std::memcpy(b.data(), "SSIG", 4);
  b[4] = 1;
  b[6] = static_cast<uint8_t>(count);
  b[7] = static_cast<uint8_t>(count >> 8);
  for (size_t r = 0; r < records; ++r) {
    b[16 + r * 128] = 1;
    b[16 + r * 128 + 8] = static_cast<uint8_t>(r + 1);  // distinct keys
  }
  return b;
}

TEST(SignatureBlock, RefusesEachMalformedField) {
  ASSERT_TRUE(ParseSignatureBlock(RawBlock(2, 2)).ok());
  auto expect_corrupt = [](std::vector<uint8_t> b, const std::string& what,
                           const char* label) {
    Result<std::vector<Signature>> r = ParseSignatureBlock(b);
    ASSERT_EQ(r.status().err(), kErrCorrupt) << label;
    EXPECT_NE(r.status().context().find(what), std::string::npos)
        << label << ": " << r.status().ToString();
  };
  std::vector<uint8_t> b = RawBlock(2, 2);
  b[0] = 'X';
  expect_corrupt(b, "magic", "magic");
  b = RawBlock(2, 2);
  b[4] = 2;
  expect_corrupt(b, "version", "version");
  b = RawBlock(2, 2);
  b[9] = 1;
  expect_corrupt(b, "reserved", "header reserved");
  expect_corrupt(RawBlock(0, 0), "no signatures", "count 0");
  expect_corrupt(RawBlock(0xffff, 2), "expected", "count too large");
  expect_corrupt(RawBlock(1, 2), "expected", "count too small");
  b = RawBlock(2, 2);
  b[16 + 128] = 2;
  expect_corrupt(b, "signature 1: unknown algorithm 2", "algorithm");
  b = RawBlock(2, 2);
  b[16 + 4] = 1;
  expect_corrupt(b, "reserved", "record reserved");
  b = RawBlock(2, 2);
  b[16 + 127] = 1;
  expect_corrupt(b, "reserved", "record reserved2");
  b = RawBlock(2, 2);
  b[16 + 128 + 8] = 1;  // same key as record 0
  expect_corrupt(b, "second signature", "duplicate key");
}

// ---------------------------------------------------------------------------
// Whole images

// A small image: a directory, an inline file, a store file and a symlink.
std::vector<uint8_t> SmallManifest() {
  InodeSpec root;
  root.mode = S_IFDIR | 0755;
  ImageTree tree(root);
  InodeSpec hello;
  hello.mode = S_IFREG | 0644;
  hello.size = 6;
  hello.inline_data = "hello\n";
  EXPECT_TRUE(tree.Link(ImageTree::kRoot, "hello", tree.AddInode(hello)).ok());
  InodeSpec big;
  big.mode = S_IFREG | 0600;
  big.size = 10000;
  big.digest = DigestOf(9);
  big.xattrs.push_back({"user.note", "x"});
  EXPECT_TRUE(tree.Link(ImageTree::kRoot, "big", tree.AddInode(big)).ok());
  InodeSpec link;
  link.mode = S_IFLNK | 0777;
  link.symlink_target = "hello";
  EXPECT_TRUE(tree.Link(ImageTree::kRoot, "link", tree.AddInode(link)).ok());
  Result<std::vector<uint8_t>> bytes = WriteManifest(tree);
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  return bytes.ok() ? *bytes : std::vector<uint8_t>{};
}

std::shared_ptr<const Manifest> OpenImage(const std::string& path) {
  Result<std::shared_ptr<const Manifest>> m = Manifest::Open(path);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? *m : nullptr;
}

class SignedImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    manifest_ = SmallManifest();
    ASSERT_FALSE(manifest_.empty());
    WriteFile(image_, manifest_);
    a_ = std::make_unique<SigningKey>(NewKey(dir_, "a"));
    b_ = std::make_unique<SigningKey>(NewKey(dir_, "b"));
  }
  std::vector<uint8_t> Trailer() {
    std::vector<uint8_t> bytes = ReadFile(image_);
    return {bytes.begin() + static_cast<ptrdiff_t>(manifest_.size()),
            bytes.end()};
  }

  TempDir dir_;
  std::string image_ = dir_ / "image.sealfs";
  std::vector<uint8_t> manifest_;
  std::unique_ptr<SigningKey> a_;
  std::unique_ptr<SigningKey> b_;
};

TEST_F(SignedImageTest, UnsignedIsEnodata) {
  auto m = OpenImage(image_);
  ASSERT_NE(m, nullptr);
  std::vector<PublicKey> trusted = {a_->public_key()};
  Result<PublicKey> r = VerifyImage(*m, trusted);
  EXPECT_EQ(r.status().err(), ENODATA);
  EXPECT_EQ(r.status().context(), "image is not signed");
}

TEST_F(SignedImageTest, SignThenVerifyKeepsIdentityAndManifestBytes) {
  auto before = OpenImage(image_);
  ASSERT_NE(before, nullptr);
  const Digest identity = before->identity();
  before.reset();

  ASSERT_TRUE(SignImageFile(image_, *a_).ok());
  std::vector<uint8_t> bytes = ReadFile(image_);
  ASSERT_EQ(bytes.size(), manifest_.size() + 16 + 128);
  EXPECT_TRUE(std::equal(manifest_.begin(), manifest_.end(), bytes.begin()));

  auto m = OpenImage(image_);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->identity(), identity);
  EXPECT_EQ(m->manifest_bytes().size(), manifest_.size());
  std::vector<PublicKey> trusted = {a_->public_key()};
  Result<PublicKey> r = VerifyImage(*m, trusted);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, a_->public_key());
}

TEST_F(SignedImageTest, SigningPreservesFileMode) {
  ASSERT_EQ(::chmod(image_.c_str(), 0640), 0);
  ASSERT_TRUE(SignImageFile(image_, *a_).ok());
  EXPECT_EQ(FileMode(image_), 0640u);
  ASSERT_EQ(::chmod(image_.c_str(), 0444), 0);
  ASSERT_TRUE(SignImageFile(image_, *b_).ok());
  EXPECT_EQ(FileMode(image_), 0444u);
}

TEST_F(SignedImageTest, SigningThroughSymlinkSignsTheTarget) {
  const std::string link = dir_ / "link.sealfs";
  std::filesystem::create_symlink(image_, link);
  ASSERT_TRUE(SignImageFile(link, *a_).ok());
  EXPECT_TRUE(std::filesystem::is_symlink(link));
  EXPECT_EQ(ReadFile(image_).size(), manifest_.size() + 16 + 128);
}

TEST_F(SignedImageTest, WrongKeyIsRejectedAsUntrusted) {
  ASSERT_TRUE(SignImageFile(image_, *a_).ok());
  auto m = OpenImage(image_);
  ASSERT_NE(m, nullptr);
  std::vector<PublicKey> trusted = {b_->public_key()};
  Result<PublicKey> r = VerifyImage(*m, trusted);
  EXPECT_EQ(r.status().err(), EKEYREJECTED);
  EXPECT_NE(r.status().context().find(
                "signed by key " + a_->public_key().KeyId() + ", not trusted"),
            std::string::npos)
      << r.status().ToString();
  EXPECT_EQ(VerifyImage(*m, {}).status().err(), EKEYREJECTED);
}

TEST_F(SignedImageTest, InvalidSignatureByTrustedKeySaysSo) {
  ASSERT_TRUE(SignImageFile(image_, *a_).ok());
  std::vector<uint8_t> bytes = ReadFile(image_);
  bytes[manifest_.size() + 16 + 40] ^= 1;  // first signature byte
  WriteFile(image_, bytes);
  auto m = OpenImage(image_);
  ASSERT_NE(m, nullptr);
  std::vector<PublicKey> trusted = {a_->public_key()};
  Result<PublicKey> r = VerifyImage(*m, trusted);
  EXPECT_EQ(r.status().err(), EKEYREJECTED);
  EXPECT_NE(r.status().context().find("signature by trusted key " +
                                      a_->public_key().KeyId() + " is invalid"),
            std::string::npos)
      << r.status().ToString();
}

TEST_F(SignedImageTest, TwoSignaturesCoexistAndResigningReplaces) {
  ASSERT_TRUE(SignImageFile(image_, *a_).ok());
  ASSERT_TRUE(SignImageFile(image_, *b_).ok());
  std::vector<uint8_t> both = ReadFile(image_);
  ASSERT_EQ(both.size(), manifest_.size() + 16 + 2 * 128);
  auto m = OpenImage(image_);
  ASSERT_NE(m, nullptr);
  for (const SigningKey* k : {a_.get(), b_.get()}) {
    std::vector<PublicKey> trusted = {k->public_key()};
    Result<PublicKey> r = VerifyImage(*m, trusted);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, k->public_key());
  }
  m.reset();

  // Re-signing with either key replaces its signature: count stays 2, and
  // since Ed25519 is deterministic the file is byte-for-byte the same.
  ASSERT_TRUE(SignImageFile(image_, *a_).ok());
  ASSERT_TRUE(SignImageFile(image_, *b_).ok());
  EXPECT_EQ(ReadFile(image_), both);
  Result<std::vector<Signature>> sigs = ParseSignatureBlock(Trailer());
  ASSERT_TRUE(sigs.ok());
  EXPECT_EQ(sigs->size(), 2u);

  // The order of signing does not matter either.
  const std::string other = dir_ / "other.sealfs";
  WriteFile(other, manifest_);
  ASSERT_TRUE(SignImageFile(other, *b_).ok());
  ASSERT_TRUE(SignImageFile(other, *a_).ok());
  EXPECT_EQ(ReadFile(other), both);
}

TEST_F(SignedImageTest, RefusesToSignOverCorruptBlock) {
  std::vector<uint8_t> bytes = manifest_;
  bytes.insert(bytes.end(), {'j', 'u', 'n', 'k'});
  WriteFile(image_, bytes);
  Status status = SignImageFile(image_, *a_);
  EXPECT_EQ(status.err(), kErrCorrupt) << status.ToString();
  EXPECT_EQ(ReadFile(image_), bytes);
}

TEST_F(SignedImageTest, RefusesToSignNonImage) {
  WriteFile(image_, testing::RandomBytes(1000, 1));
  Status status = SignImageFile(image_, *a_);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(ReadFile(image_), testing::RandomBytes(1000, 1));
  EXPECT_EQ(SignImageFile(dir_ / "missing", *a_).err(), ENOENT);
}

// Every byte of the manifest matters: after any change the image is either
// refused as malformed or its identity no longer matches the signature.
TEST_F(SignedImageTest, EveryFlippedManifestByteFailsVerification) {
  ASSERT_TRUE(SignImageFile(image_, *a_).ok());
  const std::vector<uint8_t> good = ReadFile(image_);
  std::vector<PublicKey> trusted = {a_->public_key()};
  size_t refused = 0;
  size_t rejected = 0;
  for (size_t i = 0; i < manifest_.size(); ++i) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x01;
    Result<std::shared_ptr<const Manifest>> m = Manifest::FromBytes(bad);
    if (!m.ok()) {
      ++refused;
      continue;
    }
    Result<PublicKey> r = VerifyImage(**m, trusted);
    ASSERT_FALSE(r.ok()) << "byte " << i;
    EXPECT_TRUE(r.status().err() == EKEYREJECTED ||
                r.status().err() == kErrCorrupt)
        << "byte " << i << ": " << r.status().ToString();
    ++rejected;
  }
  EXPECT_EQ(refused + rejected, manifest_.size());
  EXPECT_GT(rejected, 0u);  // the sweep reached the signature check
}

TEST_F(SignedImageTest, EveryFlippedSignatureByteFailsVerification) {
  ASSERT_TRUE(SignImageFile(image_, *a_).ok());
  const std::vector<uint8_t> good = ReadFile(image_);
  std::vector<PublicKey> trusted = {a_->public_key()};
  for (size_t i = manifest_.size(); i < good.size(); ++i) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x01;
    Result<std::shared_ptr<const Manifest>> m = Manifest::FromBytes(bad);
    ASSERT_TRUE(m.ok()) << "byte " << i << ": " << m.status().ToString();
    Result<PublicKey> r = VerifyImage(**m, trusted);
    ASSERT_FALSE(r.ok()) << "byte " << i;
    EXPECT_TRUE(r.status().err() == EKEYREJECTED ||
                r.status().err() == kErrCorrupt)
        << "byte " << i << ": " << r.status().ToString();
  }
}

TEST_F(SignedImageTest, SignatureBlockTruncatedAtEveryLengthIsCorrupt) {
  ASSERT_TRUE(SignImageFile(image_, *a_).ok());
  ASSERT_TRUE(SignImageFile(image_, *b_).ok());
  const std::vector<uint8_t> good = ReadFile(image_);
  std::vector<PublicKey> trusted = {a_->public_key(), b_->public_key()};
  for (size_t len = manifest_.size() + 1; len < good.size(); ++len) {
    std::vector<uint8_t> bad(good.begin(),
                             good.begin() + static_cast<ptrdiff_t>(len));
    Result<std::shared_ptr<const Manifest>> m = Manifest::FromBytes(bad);
    if (!m.ok()) {
      EXPECT_EQ(m.status().err(), kErrCorrupt) << "length " << len;
      continue;
    }
    EXPECT_EQ(VerifyImage(**m, trusted).status().err(), kErrCorrupt)
        << "length " << len;
  }
}

}  // namespace
}  // namespace sealfs
