// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for $LISTEN_FDNAMES as `sealfs serve --fd-store` reads
// it (the first two bytes choose the count of descriptors): no input may
// crash, hang or allocate without bound; a result has exactly that many
// entries, and a name that parses as ours is exactly what FdName makes.
// Build and run: scripts/fuzz.sh fd_names SECONDS.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fs/serve/fd_names.h"

namespace serve = sealfs::serve;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t count = static_cast<size_t>(data[0]) << 8 | data[1];
  const std::string_view names(reinterpret_cast<const char*>(data + 2),
                               size - 2);
  auto parsed = serve::ParseListenFdNames(names, count);
  if (!parsed.ok()) return 0;
  if (parsed->size() != count) std::abort();
  size_t start = 0;
  for (const serve::NamedFd& n : *parsed) {
    size_t end = names.find(':', start);
    if (end == std::string_view::npos) end = names.size();
    if (n.ours &&
        serve::FdName(n.id, n.kind) != names.substr(start, end - start)) {
      std::abort();
    }
    start = end + 1;
  }
  return 0;
}
