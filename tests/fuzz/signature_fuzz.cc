// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the signature block parser and image verification:
// parses fuzzed trailers, checks that what parses re-encodes to a block that
// parses to the same signatures, and that no fuzzed signature verifies for
// a fixed identity (forging Ed25519 is not expected of a fuzzer: a success
// here means the verifier accepts garbage). Run: scripts/fuzz.sh signature S.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "sealfs/digest.h"
#include "sealfs/signature.h"

// With SEALFS_FUZZ_SEED_DIR set, writes a valid two-signature block there.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  const char* dir = std::getenv("SEALFS_FUZZ_SEED_DIR");  // NOLINT: init only
  if (dir == nullptr) return 0;
  sealfs::Digest identity{};
  std::vector<sealfs::Signature> sigs;
  for (int i = 0; i < 2; ++i) {
    const std::string key = std::string(dir) + "/.key" + std::to_string(i);
    ::unlink(key.c_str());
    ::unlink((key + ".pub").c_str());
    if (!sealfs::GenerateKeyPair(key).ok()) return 0;
    auto signer = sealfs::SigningKey::Load(key);
    if (!signer.ok()) return 0;
    sigs.push_back({signer->public_key(), signer->Sign(identity)});
    ::unlink(key.c_str());
    ::unlink((key + ".pub").c_str());
  }
  std::vector<uint8_t> block = sealfs::EncodeSignatureBlock(sigs);
  std::ofstream out(std::string(dir) + "/seed-two-signatures",
                    std::ios::binary);
  out.write(reinterpret_cast<const char*>(block.data()),
            static_cast<std::streamsize>(block.size()));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> input(data, size);
  auto parsed = sealfs::ParseSignatureBlock(input);
  if (!parsed.ok()) return 0;
  if (parsed->size() > UINT16_MAX) __builtin_trap();
  std::vector<uint8_t> again = sealfs::EncodeSignatureBlock(*parsed);
  auto reparsed = sealfs::ParseSignatureBlock(again);
  if (!reparsed.ok() || reparsed->size() != parsed->size()) __builtin_trap();
  sealfs::Digest identity{};
  identity.bytes[0] = 0x5e;
  for (const sealfs::Signature& sig : *parsed) {
    if (sealfs::VerifySignature(sig, identity)) __builtin_trap();
  }
  return 0;
}
