// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the composefs dump parser. Any input must be parsed or
// refused with "line N: reason", never crash; an accepted dump must give a
// manifest the reader accepts, whose dump parses back to the same manifest.
// Run: scripts/fuzz.sh dump SECONDS.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fs/mkfs/dump_parser.h"
#include "fs/mkfs/dump_writer.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/manifest_writer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  sealfs::Result<sealfs::mkfs::ParsedDump> parsed =
      sealfs::mkfs::ParseDump(text);
  if (!parsed.ok()) {
    if (parsed.status().context().rfind("line ", 0) != 0 &&
        parsed.status().context().find("no root line") == std::string::npos) {
      std::abort();  // every refusal names its line
    }
    return 0;
  }
  sealfs::Result<std::vector<uint8_t>> bytes =
      sealfs::WriteManifest(parsed->tree);
  if (!bytes.ok()) return 0;  // e.g. limits only the writer knows
  std::vector<uint8_t> copy = *bytes;
  auto manifest = sealfs::Manifest::FromBytes(std::move(*bytes));
  if (!manifest.ok()) std::abort();  // the writer's output must validate
  sealfs::Result<std::string> dump = sealfs::mkfs::DumpImage(**manifest);
  if (!dump.ok()) std::abort();
  auto again = sealfs::mkfs::ParseDump(*dump);
  if (!again.ok()) std::abort();
  auto bytes2 = sealfs::WriteManifest(again->tree);
  if (!bytes2.ok() || *bytes2 != copy) std::abort();  // round trip is exact
  return 0;
}
