// SPDX-License-Identifier: Apache-2.0
// Choosing an ObjectSource implementation from what the user wrote.
#include "fs/remote/object_source.h"

#include <cerrno>

#include "fs/remote/http_source.h"
#include "fs/remote/local_source.h"

namespace sealfs::remote {

bool IsHttpSource(std::string_view spec) {
  return spec.starts_with("http://") || spec.starts_with("https://");
}

bool IsValidImageName(std::string_view name) {
  if (name.empty() || name.size() > 128 || name.front() == '.') return false;
  // NAME.tmp-XXXXXXXX is an atomic tag write in progress, never a tag.
  if (name.find(".tmp-") != std::string_view::npos) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<std::unique_ptr<ObjectSource>> OpenObjectSource(
    const std::string& spec, const FetchLimits& limits) {
  if (spec.empty()) return Status::FromErrno(EINVAL, "empty source");
  if (IsHttpSource(spec)) return OpenHttpSource(spec, limits);
  // "scheme://" that is not HTTP: refuse rather than treat it as a path.
  const size_t colon = spec.find("://");
  if (colon != std::string::npos && spec.find('/') > colon) {
    return Status::FromErrno(
        EPROTONOSUPPORT,
        spec + ": only http:// and https:// sources (or a store directory)");
  }
  return OpenLocalSource(spec);
}

}  // namespace sealfs::remote
