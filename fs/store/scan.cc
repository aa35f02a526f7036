// SPDX-License-Identifier: Apache-2.0
// ScanStoreDir: readdir of objects/ or trees/ and their fan-out directories,
// classifying each name by lstat alone.
#include "fs/store/scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <utility>

#include "fs/core/store_io.h"
#include "sealfs/format.h"

namespace sealfs::store {
namespace {

bool IsLowerHex(const std::string& s, size_t len) {
  return s.size() == len && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool IsTempName(const std::string& name) {
  return name.rfind(kTempPrefix, 0) == 0;
}

}  // namespace

Result<std::vector<std::string>> ListDirNames(int fd, const std::string& what) {
  // A new open file description: a dup would share (and move) the offset.
  int dup = ::openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup < 0) return ErrnoStatus(what + ": open");
  DIR* dir = ::fdopendir(dup);
  if (dir == nullptr) {
    Status s = ErrnoStatus(what + ": opendir");
    ::close(dup);
    return s;
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
    errno = 0;
  }
  const int err = errno;
  ::closedir(dir);
  if (err != 0) return Status::FromErrno(err, what + ": readdir");
  std::sort(names.begin(), names.end());
  return names;
}

bool IsFanoutName(const std::string& name) { return IsLowerHex(name, 2); }
bool IsLeafName(const std::string& name) { return IsLowerHex(name, 62); }

std::string PrintableName(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    if (c >= 0x21 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

Result<std::vector<ScanEntry>> ScanStoreDir(int store_fd, const char* top) {
  Result<UniqueFd> top_fd = OpenBeneath(store_fd, top, O_RDONLY | O_DIRECTORY);
  if (!top_fd.ok()) {
    return StoreOpenError(top_fd.status().err(), std::string(top) + "/");
  }
  auto top_dir = std::make_shared<UniqueFd>(std::move(*top_fd));
  SEALFS_ASSIGN_OR_RETURN(std::vector<std::string> fanouts,
                          ListDirNames(top_dir->get(), top));
  std::vector<ScanEntry> entries;
  for (const std::string& fanout : fanouts) {
    ScanEntry top_entry;
    top_entry.dir = top_dir;
    top_entry.name = fanout;
    top_entry.rel_path = std::string(top) + "/" + PrintableName(fanout);
    if (::fstatat(top_dir->get(), fanout.c_str(), &top_entry.st,
                  AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // removed since readdir
      return ErrnoStatus(top_entry.rel_path);
    }
    if (IsTempName(fanout) && S_ISREG(top_entry.st.st_mode)) {
      top_entry.kind = ScanEntry::Kind::kTemp;  // AddFromStream's temps
      entries.push_back(std::move(top_entry));
      continue;
    }
    if (!IsFanoutName(fanout) || !S_ISDIR(top_entry.st.st_mode)) {
      top_entry.kind = ScanEntry::Kind::kBadFanout;
      entries.push_back(std::move(top_entry));
      continue;
    }
    int fd;
    do {
      fd = ::openat(top_dir->get(), fanout.c_str(),
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
      if (errno == ENOENT) continue;
      return ErrnoStatus(top_entry.rel_path);
    }
    auto dir = std::make_shared<UniqueFd>(fd);
    SEALFS_ASSIGN_OR_RETURN(std::vector<std::string> names,
                            ListDirNames(dir->get(), top_entry.rel_path));
    for (std::string& name : names) {
      ScanEntry e;
      e.dir = dir;
      e.rel_path = top_entry.rel_path + "/" + PrintableName(name);
      if (::fstatat(dir->get(), name.c_str(), &e.st, AT_SYMLINK_NOFOLLOW) !=
          0) {
        if (errno == ENOENT) continue;
        return ErrnoStatus(e.rel_path);
      }
      if (IsTempName(name)) {
        e.kind = S_ISREG(e.st.st_mode) ? ScanEntry::Kind::kTemp
                                       : ScanEntry::Kind::kBadName;
      } else if (!IsLeafName(name)) {
        e.kind = ScanEntry::Kind::kBadName;
      } else {
        Result<Digest> digest = Digest::Parse(fanout + name);
        if (!digest.ok()) return digest.status();  // cannot happen: 64 hex
        e.digest = *digest;
        e.kind = S_ISREG(e.st.st_mode) ? ScanEntry::Kind::kFile
                                       : ScanEntry::Kind::kNotRegular;
      }
      e.name = std::move(name);
      entries.push_back(std::move(e));
    }
  }
  return entries;
}

}  // namespace sealfs::store
