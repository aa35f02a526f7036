// SPDX-License-Identifier: Apache-2.0
// Access lists: formatting a line, and turning a list into a prefetch order
// by walking each path through the manifest.
#include "fs/remote/access_list.h"

#include <sys/stat.h>

#include <unordered_set>

#include "fs/remote/pull.h"

namespace sealfs::remote {
namespace {

// The inode `path` names, following no symlink; ENOENT if none.
Result<uint64_t> Resolve(const Manifest& manifest, std::string_view path) {
  uint64_t ino = kRootIno;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    const std::string_view name = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view()
                                           : path.substr(slash + 1);
    if (name.empty()) continue;
    SEALFS_ASSIGN_OR_RETURN(ino, manifest.Lookup(ino, name));
  }
  return ino;
}

Result<std::string> Unescape(std::string_view line, uint64_t number) {
  std::string out;
  out.reserve(line.size());
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] != '\\') {
      out.push_back(line[i]);
      continue;
    }
    const char next = i + 1 < line.size() ? line[i + 1] : '\0';
    if (next != '\\' && next != 'n') {
      return Status::Corrupt("access list: line " + std::to_string(number) +
                             ": bad escape");
    }
    out.push_back(next == 'n' ? '\n' : '\\');
    ++i;
  }
  return out;
}

}  // namespace

std::string FormatAccessLine(std::string_view path) {
  std::string line;
  line.reserve(path.size() + 1);
  for (char c : path) {
    if (c == '\\') {
      line += "\\\\";
    } else if (c == '\n') {
      line += "\\n";
    } else {
      line.push_back(c);
    }
  }
  line.push_back('\n');
  return line;
}

Result<std::vector<PullItem>> PrefetchOrder(const Manifest& manifest,
                                            std::string_view list,
                                            uint64_t* unknown) {
  *unknown = 0;
  SEALFS_ASSIGN_OR_RETURN(std::vector<PullItem> all, ObjectsOf(manifest));
  std::vector<PullItem> order;
  order.reserve(all.size());
  std::unordered_set<Digest, DigestHash> listed;
  uint64_t number = 0;
  while (!list.empty()) {
    const size_t end = list.find('\n');
    const std::string_view raw = list.substr(0, end);
    list = end == std::string_view::npos ? std::string_view()
                                         : list.substr(end + 1);
    ++number;
    if (raw.empty()) continue;
    if (raw.front() != '/') {
      return Status::Corrupt("access list: line " + std::to_string(number) +
                             ": not an absolute path");
    }
    SEALFS_ASSIGN_OR_RETURN(std::string path, Unescape(raw, number));
    Result<uint64_t> ino = Resolve(manifest, path);
    if (!ino.ok()) {
      if (ino.status().err() != ENOENT && ino.status().err() != ENOTDIR) {
        return ino.status();
      }
      ++*unknown;
      continue;
    }
    SEALFS_ASSIGN_OR_RETURN(Inode inode, manifest.GetInode(*ino));
    if (!S_ISREG(inode.mode) || inode.is_inline()) continue;
    SEALFS_ASSIGN_OR_RETURN(Digest digest, manifest.FileDigest(*ino));
    if (listed.insert(digest).second) order.push_back({digest, inode.size});
  }
  for (const PullItem& item : all) {
    if (!listed.contains(item.digest)) order.push_back(item);
  }
  return order;
}

}  // namespace sealfs::remote
