// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for everything sealfs parses from a registry and from
// the user's auth files: the first byte picks the parser (pack index, OCI
// manifest, auth.json, WWW-Authenticate challenge, token answer, docker://
// reference), the rest is its input. Any bytes are parsed or refused,
// never a crash; what parses must survive a round trip (an index re-encodes
// to the same bytes, a manifest rebuilt parses again to the same image).
// Run: scripts/fuzz.sh registry SECONDS.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "fs/remote/oci_manifest.h"
#include "fs/remote/pack_index.h"
#include "fs/remote/registry_auth.h"
#include "fs/remote/registry_ref.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::span<const uint8_t> in(data + 1, size - 1);
  const std::string_view text(reinterpret_cast<const char*>(in.data()),
                              in.size());
  using namespace sealfs::remote;  // NOLINT(google-build-using-namespace)
  switch (data[0] % 6) {
    case 0: {
      auto index = DecodePackIndex(in);
      if (index.ok()) {
        const auto again = EncodePackIndex(*index);
        if (again.size() != in.size() ||
            !std::equal(again.begin(), again.end(), in.begin())) {
          std::abort();
        }
      }
      break;
    }
    case 1: {
      auto a = ParseOciManifest(in);
      if (a.ok()) {
        const std::string json = BuildOciManifest(*a);
        auto b = ParseOciManifest(
            {reinterpret_cast<const uint8_t*>(json.data()), json.size()});
        if (!b.ok() || b->image.digest != a->image.digest ||
            b->packs.size() != a->packs.size()) {
          std::abort();
        }
      }
      break;
    }
    case 2:
      (void)CredentialsFromJson(in, "reg.io:5000", "team/app");
      break;
    case 3:
      (void)ParseChallenge(text);
      break;
    case 4: {
      auto t = ParseTokenResponse(in);
      if (t.ok() && t->token.find_first_of("\r\n") != std::string::npos) {
        std::abort();  // it goes into a header line
      }
      break;
    }
    case 5:
      (void)ParseRegistryRef(text, false);
      break;
  }
  return 0;
}
