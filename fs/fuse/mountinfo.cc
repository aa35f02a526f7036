// SPDX-License-Identifier: Apache-2.0
#include "fs/fuse/mountinfo.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sealfs::fuse {
namespace {

bool IsOctal(char c) { return c >= '0' && c <= '7'; }

bool IsDevice(const char* s) {
  if (*s == '\0') return false;
  for (; *s != '\0'; ++s) {
    if ((*s < '0' || *s > '9') && *s != ':') return false;
  }
  return true;
}

}  // namespace

std::string UnescapeMountinfo(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' &&
        s[i + 1] <= '3' && IsOctal(s[i + 2]) && IsOctal(s[i + 3])) {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 +
                                      (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::optional<MountEntry> FindTopMount(const std::string& path) {
  // stdio, not ReadFileBytes: proc files report size 0.
  FILE* f = std::fopen("/proc/self/mountinfo", "re");
  if (f == nullptr) return std::nullopt;
  std::optional<MountEntry> found;
  char* line = nullptr;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE ...
    char device[64];
    char point[4096];
    long id = 0;
    if (std::sscanf(line, "%ld %*d %63s %*s %4095s", &id, device, point) != 3 ||
        !IsDevice(device) || UnescapeMountinfo(point) != path) {
      continue;
    }
    const char* sep = std::strstr(line, " - ");
    if (sep == nullptr) continue;
    const char* type = sep + 3;
    found = MountEntry{id, device, std::string(type, std::strcspn(type, " \n"))};
  }
  std::free(line);
  std::fclose(f);
  return found;
}

}  // namespace sealfs::fuse
