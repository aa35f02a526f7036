// SPDX-License-Identifier: Apache-2.0
// Path resolution and formatting for the read-only image commands.
#include "fs/mkfs/image_file.h"

#include <sys/stat.h>

#include <cstdio>

namespace sealfs::mkfs {

Result<uint64_t> ResolvePath(const Manifest& manifest, std::string_view path) {
  uint64_t ino = kRootIno;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      return Status::FromErrno(EINVAL,
                               std::string(path) + ": '..' is not supported");
    }
    Result<uint64_t> next = manifest.Lookup(ino, part);
    if (!next.ok()) {
      return Status::FromErrno(next.status().err(), std::string(path));
    }
    ino = *next;
  }
  return ino;
}

std::string ModeString(uint32_t mode) {
  std::string s(10, '-');
  switch (mode & S_IFMT) {
    case S_IFDIR: s[0] = 'd'; break;
    case S_IFLNK: s[0] = 'l'; break;
    case S_IFCHR: s[0] = 'c'; break;
    case S_IFBLK: s[0] = 'b'; break;
    case S_IFIFO: s[0] = 'p'; break;
    case S_IFSOCK: s[0] = 's'; break;
    case S_IFREG: s[0] = '-'; break;
    default: s[0] = '?'; break;
  }
  const char kRwx[] = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) {
    if ((mode & (0400u >> i)) != 0) s[1 + i] = kRwx[i];
  }
  auto special = [&](int at, uint32_t bit, char with_x, char without_x) {
    if ((mode & bit) != 0) s[at] = s[at] == '-' ? without_x : with_x;
  };
  special(3, S_ISUID, 's', 'S');
  special(6, S_ISGID, 's', 'S');
  special(9, S_ISVTX, 't', 'T');
  return s;
}

std::string EscapeName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char ch : name) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\%03o", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace sealfs::mkfs
