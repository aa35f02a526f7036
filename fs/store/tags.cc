// SPDX-License-Identifier: Apache-2.0
// Tags: name rules, atomic writes under images/, listing and parsing them,
// and the set of objects an image references.
#include "fs/store/tags.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <utility>

#include "fs/core/store_io.h"
#include "fs/store/scan.h"
#include "fs/util/io.h"
#include "sealfs/format.h"
#include "sealfs/signature.h"

namespace sealfs::store {
namespace {

bool IsTagChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

// Opens images/ beneath the store as a real directory (never a symlink).
Result<UniqueFd> OpenImagesDir(const Store& store, bool create) {
  if (create && ::mkdirat(store.dir_fd(), kImagesDir, 0755) != 0 &&
      errno != EEXIST) {
    return ErrnoStatus(std::string("mkdir ") + kImagesDir);
  }
  Result<UniqueFd> fd =
      OpenBeneath(store.dir_fd(), kImagesDir, O_RDONLY | O_DIRECTORY);
  if (!fd.ok()) {
    return StoreOpenError(fd.status().err(), std::string(kImagesDir) + "/");
  }
  return fd;
}

// Reads one tag file, refusing anything but a regular file of sane size.
Result<std::vector<uint8_t>> ReadTagFile(int dir_fd, const std::string& name,
                                         const std::string& what) {
  int raw;
  do {
    raw = ::openat(dir_fd, name.c_str(),
                   O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  } while (raw < 0 && errno == EINTR);
  if (raw < 0) return StoreOpenError(errno, what);
  UniqueFd fd(raw);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(what + ": fstat");
  SEALFS_RETURN_IF_ERROR(CheckRegular(st, what));
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > kMaxTagFileSize) {
    return Status::Corrupt(what + ": " + std::to_string(size) +
                           " bytes, more than any image");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  SEALFS_ASSIGN_OR_RETURN(size_t got, PreadFull(fd.get(), bytes, 0));
  if (got != size) return Status::Corrupt(what + ": changed while reading");
  return bytes;
}

}  // namespace

Status CheckTagName(std::string_view name) {
  const std::string shown = PrintableName(std::string(name));
  if (name.empty() || name.size() > kMaxTagNameLen) {
    return Status::FromErrno(
        EINVAL, "tag name '" + shown + "': must be 1 to 128 characters");
  }
  if (!std::all_of(name.begin(), name.end(), IsTagChar)) {
    return Status::FromErrno(
        EINVAL, "tag name '" + shown + "': only A-Z a-z 0-9 . _ - allowed");
  }
  if (name.front() == '.') {
    return Status::FromErrno(
        EINVAL, "tag name '" + shown + "': must not start with '.'");
  }
  if (name.find(kTempPrefix) != std::string_view::npos) {
    return Status::FromErrno(EINVAL, "tag name '" + shown +
                                         "': must not contain '.tmp-' "
                                         "(reserved for partial writes)");
  }
  return {};
}

Result<std::shared_ptr<const Manifest>> ParseImage(std::vector<uint8_t> bytes) {
  SEALFS_ASSIGN_OR_RETURN(std::shared_ptr<const Manifest> manifest,
                          Manifest::FromBytes(std::move(bytes)));
  Result<std::vector<Signature>> sigs =
      ParseSignatureBlock(manifest->trailer_bytes());
  if (!sigs.ok()) return sigs.status();
  return manifest;
}

Status WriteTag(const Store& store, std::string_view name,
                std::span<const uint8_t> image) {
  SEALFS_RETURN_IF_ERROR(CheckTagName(name));
  // images/ is checked to be a real directory of the store before the path
  // is used, so the write cannot land outside it.
  SEALFS_ASSIGN_OR_RETURN(UniqueFd dir, OpenImagesDir(store, /*create=*/true));
  const std::string path =
      store.path() + "/" + kImagesDir + "/" + std::string(name);
  return WriteFileAtomic(path, image, 0644);
}

Status DeleteTag(const Store& store, std::string_view name) {
  SEALFS_RETURN_IF_ERROR(CheckTagName(name));
  const std::string what = "tag " + std::string(name);
  Result<UniqueFd> dir = OpenImagesDir(store, /*create=*/false);
  if (!dir.ok()) {
    if (dir.status().err() == ENOENT) {
      return Status::FromErrno(ENOENT, what + ": no such tag");
    }
    return dir.status();
  }
  if (::unlinkat(dir->get(), std::string(name).c_str(), 0) != 0) {
    if (errno == ENOENT)
      return Status::FromErrno(ENOENT, what + ": no such tag");
    return ErrnoStatus(what);
  }
  if (::fsync(dir->get()) != 0) return ErrnoStatus(what + ": fsync images/");
  return {};
}

Result<std::vector<Tag>> ListTags(const Store& store) {
  Result<UniqueFd> dir = OpenImagesDir(store, /*create=*/false);
  if (!dir.ok()) {
    if (dir.status().err() == ENOENT) return std::vector<Tag>{};
    return dir.status();
  }
  SEALFS_ASSIGN_OR_RETURN(std::vector<std::string> names,
                          ListDirNames(dir->get(), kImagesDir));
  std::vector<Tag> tags;
  for (const std::string& name : names) {
    // WriteFileAtomic's temp files: a tag being written, not yet a tag.
    if (name.find(kTempPrefix) != std::string::npos) continue;
    Tag tag;
    tag.name = PrintableName(name);
    const std::string what = std::string(kImagesDir) + "/" + tag.name;
    tag.status = CheckTagName(name);
    if (tag.status.ok()) {
      Result<std::vector<uint8_t>> bytes = ReadTagFile(dir->get(), name, what);
      if (bytes.ok()) {
        tag.file_size = bytes->size();
        Result<std::shared_ptr<const Manifest>> m =
            ParseImage(std::move(*bytes));
        if (m.ok()) {
          tag.manifest = std::move(*m);
        } else {
          tag.status = m.status().WithPrefix(what);
        }
      } else if (bytes.status().err() == ENOENT) {
        continue;  // deleted since readdir
      } else {
        tag.status = bytes.status();
      }
    }
    tags.push_back(std::move(tag));
  }
  return tags;
}

Result<std::vector<ObjectRef>> ImageObjects(const Manifest& image) {
  std::vector<ObjectRef> refs;
  for (uint64_t ino = 1; ino <= image.inode_count(); ++ino) {
    SEALFS_ASSIGN_OR_RETURN(Inode inode, image.GetInode(ino));
    if (!S_ISREG(inode.mode) || inode.is_inline()) continue;
    SEALFS_ASSIGN_OR_RETURN(Digest digest, image.FileDigest(ino));
    refs.push_back({digest, inode.size});
  }
  std::sort(refs.begin(), refs.end(),
            [](const ObjectRef& a, const ObjectRef& b) {
              return a.digest < b.digest;
            });
  refs.erase(std::unique(refs.begin(), refs.end(),
                         [](const ObjectRef& a, const ObjectRef& b) {
                           return a.digest == b.digest;
                         }),
             refs.end());
  return refs;
}

Result<std::vector<ScanEntry>> ScanTagTemps(const Store& store) {
  std::vector<ScanEntry> temps;
  Result<UniqueFd> dir = OpenImagesDir(store, /*create=*/false);
  if (!dir.ok()) {
    if (dir.status().err() == ENOENT) return temps;
    return dir.status();
  }
  SEALFS_ASSIGN_OR_RETURN(std::vector<std::string> names,
                          ListDirNames(dir->get(), kImagesDir));
  auto shared = std::make_shared<UniqueFd>(std::move(*dir));
  for (const std::string& name : names) {
    if (name.find(kTempPrefix) == std::string::npos) continue;
    ScanEntry e;
    e.kind = ScanEntry::Kind::kTemp;
    e.dir = shared;
    e.name = name;
    e.rel_path = std::string(kImagesDir) + "/" + PrintableName(name);
    if (::fstatat(shared->get(), name.c_str(), &e.st, AT_SYMLINK_NOFOLLOW) !=
        0) {
      if (errno == ENOENT) continue;  // renamed into place meanwhile
      return ErrnoStatus(e.rel_path);
    }
    temps.push_back(std::move(e));
  }
  return temps;
}

}  // namespace sealfs::store
