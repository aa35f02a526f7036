// SPDX-License-Identifier: Apache-2.0
// FDNAME= names of a session's descriptors and $LISTEN_FDNAMES.
#include "fs/serve/fd_names.h"

#include <array>
#include <charconv>

namespace sealfs::serve {
namespace {

constexpr std::string_view kPrefix = "sealfs-";
constexpr std::array<std::string_view, kFdKinds> kKindNames = {
    "fuse", "image", "store", "record"};

NamedFd ParseOne(std::string_view name) {
  NamedFd out;
  if (!name.starts_with(kPrefix)) return out;
  name.remove_prefix(kPrefix.size());
  const size_t dash = name.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 20) return out;
  const std::string_view digits = name.substr(0, dash);
  if (digits.size() > 1 && digits[0] == '0') return out;  // one spelling
  uint64_t id = 0;
  auto [end, err] =
      std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (err != std::errc() || end != digits.data() + digits.size() || id == 0) {
    return out;
  }
  const std::string_view kind = name.substr(dash + 1);
  for (size_t k = 0; k < kKindNames.size(); ++k) {
    if (kind == kKindNames[k]) {
      out.ours = true;
      out.id = id;
      out.kind = static_cast<FdKind>(k);
    }
  }
  return out;
}

}  // namespace

std::string FdName(uint64_t id, FdKind kind) {
  return std::string(kPrefix) + std::to_string(id) + "-" +
         std::string(kKindNames[static_cast<size_t>(kind)]);
}

Result<std::vector<NamedFd>> ParseListenFdNames(std::string_view names,
                                                size_t count) {
  if (count > kMaxListenFds) {
    return Status::FromErrno(EINVAL, "LISTEN_FDS: too many descriptors");
  }
  std::vector<NamedFd> out;
  if (count == 0) {
    if (!names.empty()) {
      return Status::FromErrno(EINVAL, "LISTEN_FDNAMES without LISTEN_FDS");
    }
    return out;
  }
  out.reserve(count);
  size_t start = 0;
  for (;;) {
    if (out.size() == count) {
      return Status::FromErrno(EINVAL,
                               "LISTEN_FDNAMES: more names than LISTEN_FDS");
    }
    const size_t colon = names.find(':', start);
    const size_t end = colon == std::string_view::npos ? names.size() : colon;
    out.push_back(ParseOne(names.substr(start, end - start)));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (out.size() != count) {
    return Status::FromErrno(EINVAL,
                             "LISTEN_FDNAMES: fewer names than LISTEN_FDS");
  }
  return out;
}

}  // namespace sealfs::serve
