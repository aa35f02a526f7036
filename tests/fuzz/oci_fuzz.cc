// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for what `mkfs --from-oci` parses from an image source
// (a layout directory, an archive or a registry): the first byte picks the
// parser (image index, image manifest, image config, oci-layout file,
// --platform value, oci-archive tar headers), the rest is its input. Any
// bytes are parsed or refused, never a crash; what parses is consistent
// (every layer has a supported media type, an archive's members lie inside
// it). Run: scripts/fuzz.sh oci SECONDS.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "fs/mkfs/oci_archive.h"
#include "fs/mkfs/oci_image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::span<const uint8_t> in(data + 1, size - 1);
  using namespace sealfs::mkfs;  // NOLINT(google-build-using-namespace)
  switch (data[0] % 6) {
    case 0: {
      auto entries = ParseImageIndex(in, (data[0] & 0x80) != 0
                                             ? kDockerManifestListMediaType
                                             : sealfs::kOciIndexMediaType);
      if (entries.ok()) {
        (void)SelectByPlatform(*entries, HostPlatform());
        (void)SelectByTag(*entries, "latest", HostPlatform());
        (void)SelectByTag(*entries, "", HostPlatform());
      }
      break;
    }
    case 1: {
      auto m = ParseImageManifest(in, (data[0] & 0x80) != 0
                                          ? kDockerManifestMediaType
                                          : sealfs::kOciManifestMediaType);
      if (m.ok()) {
        for (const auto& layer : m->layers) {
          if (!LayerCompressionOf(layer.media_type).ok()) std::abort();
        }
      }
      break;
    }
    case 2:
      (void)ParseImageConfig(in);
      break;
    case 3:
      (void)ParseOciLayoutFile(in);
      break;
    case 4: {
      auto p = ParsePlatform(std::string_view(
          reinterpret_cast<const char*>(in.data()), in.size()));
      if (p.ok() &&
          ParsePlatform(p->ToString()).value().ToString() != p->ToString()) {
        std::abort();
      }
      break;
    }
    case 5: {
      auto members = IndexTarArchive(
          [in](std::span<uint8_t> out,
               uint64_t offset) -> sealfs::Result<size_t> {
            if (offset > in.size()) std::abort();  // read past `size`
            const size_t n = std::min<size_t>(out.size(), in.size() - offset);
            if (n > 0) std::memcpy(out.data(), in.data() + offset, n);
            return n;
          },
          in.size());
      if (members.ok()) {
        for (const auto& [name, m] : *members) {
          if (m.offset > in.size() || m.size > in.size() - m.offset) {
            std::abort();
          }
        }
      }
      break;
    }
  }
  return 0;
}
