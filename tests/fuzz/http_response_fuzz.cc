// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for what a remote server's response headers go through
// (fs/remote/http_engine.h): header lines, of one or more responses (a
// redirect starts a new one), and the Content-Range of a 206. Checks the
// invariants the source's range checks rely on: a parsed range has
// first <= last < total, names are lower case, values are trimmed, and the
// field count stays bounded. Run: scripts/fuzz.sh http_response SECONDS.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fs/remote/http_engine.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  sealfs::remote::HttpResponse response;
  while (!input.empty()) {
    const size_t end = input.find('\n');
    std::string_view line =
        input.substr(0, end == std::string_view::npos ? input.size() : end + 1);
    input.remove_prefix(line.size());
    if (line.starts_with("HTTP/")) {
      response = sealfs::remote::HttpResponse();
      continue;
    }
    if (!sealfs::remote::AddHeaderField(line, &response)) break;
  }
  if (response.headers.size() > sealfs::remote::kMaxHeaderFields) std::abort();
  for (const auto& [name, value] : response.headers) {
    for (char c : name) {
      if (std::isupper(static_cast<unsigned char>(c))) std::abort();
    }
    if (!value.empty() && (value.front() == ' ' || value.back() == ' ' ||
                           value.back() == '\n' || value.back() == '\r')) {
      std::abort();
    }
  }
  sealfs::remote::HttpResponse range;
  if (sealfs::remote::ParseContentRange(response.Header("content-range"),
                                        &range)) {
    if (range.range_last < range.range_first) std::abort();
    if (range.range_total >= 0 &&
        static_cast<uint64_t>(range.range_total) <= range.range_last) {
      std::abort();
    }
  }
  return 0;
}
