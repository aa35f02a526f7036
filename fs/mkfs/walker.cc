// SPDX-License-Identifier: Apache-2.0
// Directory walk for mkfs: one ImageTree node per inode, hard links by
// (st_dev, st_ino), xattrs, devices, and the list of files to hash.
#include "fs/mkfs/walker.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

#include "fs/util/io.h"
#include "sealfs/format.h"

namespace sealfs::mkfs {
namespace {

constexpr int kReadFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
                           O_CLOEXEC;

// The names in the directory `fd`, sorted as bytes, without "." and "..".
// `fd` itself stays open and unmoved (readdir works on a duplicate).
Result<std::vector<std::string>> ReadDirNames(int fd) {
  int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return ErrnoStatus("dup");
  DIR* dir = fdopendir(dup_fd);
  if (dir == nullptr) {
    Status s = ErrnoStatus("fdopendir");
    close(dup_fd);
    return s;
  }
  rewinddir(dir);
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    struct dirent* ent = readdir(dir);
    if (ent == nullptr) {
      if (errno != 0) {
        Status s = ErrnoStatus("readdir");
        closedir(dir);
        return s;
      }
      break;
    }
    if (std::strcmp(ent->d_name, ".") == 0 ||
        std::strcmp(ent->d_name, "..") == 0) {
      continue;
    }
    names.emplace_back(ent->d_name);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

// Reads every xattr of one inode. `fd` >= 0 uses the f*xattr calls; otherwise
// the l*xattr calls on `path` (which never follow a final symlink).
Result<std::vector<Xattr>> ReadXattrs(int fd, const std::string& path) {
  auto list = [&](char* buf, size_t size) {
    return fd >= 0 ? flistxattr(fd, buf, size)
                   : llistxattr(path.c_str(), buf, size);
  };
  auto get = [&](const char* key, void* buf, size_t size) {
    return fd >= 0 ? fgetxattr(fd, key, buf, size)
                   : lgetxattr(path.c_str(), key, buf, size);
  };
  std::vector<Xattr> out;
  std::string names;
  for (;;) {
    ssize_t n = list(nullptr, 0);
    if (n < 0) {
      if (errno == ENOTSUP) return out;
      return ErrnoStatus("listxattr");
    }
    if (n == 0) return out;
    names.resize(static_cast<size_t>(n) + 1);
    n = list(names.data(), names.size());
    if (n < 0) {
      if (errno == ERANGE) continue;  // grew in between: ask again
      return ErrnoStatus("listxattr");
    }
    names.resize(static_cast<size_t>(n));
    break;
  }
  std::string value;
  for (size_t pos = 0; pos < names.size();) {
    size_t end = names.find('\0', pos);
    if (end == std::string::npos) end = names.size();
    std::string key = names.substr(pos, end - pos);
    pos = end + 1;
    if (key.empty()) continue;
    for (;;) {
      ssize_t n = get(key.c_str(), nullptr, 0);
      if (n < 0) {
        if (errno == ENODATA) break;  // removed since the list: not recorded
        return ErrnoStatus("getxattr " + key);
      }
      value.resize(static_cast<size_t>(n));
      n = get(key.c_str(), value.data(), value.size());
      if (n < 0) {
        if (errno == ERANGE) continue;
        if (errno == ENODATA) break;
        return ErrnoStatus("getxattr " + key);
      }
      value.resize(static_cast<size_t>(n));
      out.push_back(Xattr{key, value});
      break;
    }
  }
  return out;
}

InodeSpec SpecFromStat(const struct stat& st) {
  InodeSpec spec;
  spec.mode = st.st_mode;
  spec.uid = st.st_uid;
  spec.gid = st.st_gid;
  spec.mtime_sec = st.st_mtim.tv_sec;
  spec.mtime_nsec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
  return spec;
}

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
         (a.st_mode & S_IFMT) == (b.st_mode & S_IFMT);
}

class Walker {
 public:
  Walker(std::string source, const WalkOptions& options, WalkResult& out)
      : source_(std::move(source)), options_(options), out_(out) {
    use_proc_ = access("/proc/self/fd", X_OK) == 0;
  }

  Status WalkDir(int dir_fd, NodeId dir_node, const std::string& rel) {
    Result<std::vector<std::string>> names = ReadDirNames(dir_fd);
    if (!names.ok()) return names.status().WithPrefix(FullPath(rel));
    for (const std::string& name : *names) {
      std::string child_rel = rel.empty() ? name : rel + "/" + name;
      Status s = AddEntry(dir_fd, dir_node, name, child_rel);
      if (!s.ok()) return s;
    }
    return Status();
  }

 private:
  std::string FullPath(const std::string& rel) const {
    if (rel.empty()) return source_;
    return source_ == "/" ? "/" + rel : source_ + "/" + rel;
  }

  // Path for l*xattr that resolves `name` relative to `dir_fd`, so a renamed
  // ancestor cannot redirect it.
  std::string XattrPath(int dir_fd, const std::string& name,
                        const std::string& rel) const {
    if (!use_proc_) return FullPath(rel);
    return "/proc/self/fd/" + std::to_string(dir_fd) + "/" + name;
  }

  Status AddEntry(int dir_fd, NodeId dir_node, const std::string& name,
                  const std::string& rel) {
    const std::string path = FullPath(rel);
    struct stat st;
    if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoStatus(path);
    }
    const bool maybe_linked = !S_ISDIR(st.st_mode) && st.st_nlink > 1;
    if (maybe_linked) {
      auto it = links_.find({st.st_dev, st.st_ino});
      if (it != links_.end()) {
        return out_.tree.Link(dir_node, name, it->second).WithPrefix(path);
      }
    }
    InodeSpec spec = SpecFromStat(st);
    UniqueFd fd;
    bool is_job = false;
    switch (st.st_mode & S_IFMT) {
      case S_IFREG: {
        const uint64_t size = static_cast<uint64_t>(st.st_size);
        spec.size = size;
        if (size > options_.inline_max) {
          is_job = true;
          break;
        }
        fd.reset(openat(dir_fd, name.c_str(), kReadFlags));
        if (!fd.valid()) return ErrnoStatus(path);
        SEALFS_RETURN_IF_ERROR(CheckSame(fd.get(), st, path));
        std::string data(size + 1, '\0');
        Result<size_t> got = PreadFull(
            fd.get(),
            std::span<uint8_t>(reinterpret_cast<uint8_t*>(data.data()),
                               data.size()),
            0);
        if (!got.ok()) return got.status().WithPrefix(path);
        if (*got != size) {
          return Status::FromErrno(EAGAIN, path + ": changed during the walk");
        }
        data.resize(size);
        spec.inline_data = std::move(data);
        break;
      }
      case S_IFDIR:
        fd.reset(openat(dir_fd, name.c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd.valid()) return ErrnoStatus(path);
        SEALFS_RETURN_IF_ERROR(CheckSame(fd.get(), st, path));
        break;
      case S_IFLNK: {
        std::string target(kMaxSymlinkLen + 1, '\0');
        ssize_t n = readlinkat(dir_fd, name.c_str(), target.data(),
                               target.size());
        if (n < 0) return ErrnoStatus(path);
        if (static_cast<size_t>(n) > kMaxSymlinkLen) {
          return Status::FromErrno(ENAMETOOLONG,
                                   path + ": symlink target too long");
        }
        target.resize(static_cast<size_t>(n));
        spec.symlink_target = std::move(target);
        break;
      }
      case S_IFCHR:
      case S_IFBLK:
        spec.rdev_major = major(st.st_rdev);
        spec.rdev_minor = minor(st.st_rdev);
        break;
      case S_IFIFO:
      case S_IFSOCK:
        break;
      default:
        return Status::FromErrno(EINVAL, path + ": unknown file type");
    }
    Result<std::vector<Xattr>> xattrs =
        fd.valid() ? ReadXattrs(fd.get(), path)
                   : ReadXattrs(-1, XattrPath(dir_fd, name, rel));
    if (!xattrs.ok()) return xattrs.status().WithPrefix(path);
    spec.xattrs = std::move(*xattrs);

    NodeId node = out_.tree.AddInode(std::move(spec));
    ++out_.inode_count;
    SEALFS_RETURN_IF_ERROR(out_.tree.Link(dir_node, name, node).WithPrefix(path));
    if (maybe_linked) links_.emplace(std::make_pair(st.st_dev, st.st_ino), node);
    if (is_job) {
      out_.files.push_back(FileJob{node, rel, static_cast<uint64_t>(st.st_size),
                                   st.st_dev, st.st_ino});
    }
    if (S_ISDIR(st.st_mode)) return WalkDir(fd.get(), node, rel);
    return Status();
  }

  static Status CheckSame(int fd, const struct stat& walked,
                          const std::string& path) {
    struct stat now;
    if (fstat(fd, &now) != 0) return ErrnoStatus(path);
    if (!SameFile(now, walked)) {
      return Status::FromErrno(EAGAIN, path + ": replaced during the walk");
    }
    return Status();
  }

  const std::string source_;
  const WalkOptions& options_;
  WalkResult& out_;
  bool use_proc_ = false;
  std::map<std::pair<dev_t, ino_t>, NodeId> links_;
};

// "a/b/" -> "a/b"; "/" stays "/".
std::string TrimSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

Result<WalkResult> WalkTree(const std::string& source,
                            const WalkOptions& options) {
  const std::string root_path = TrimSlashes(source);
  UniqueFd root(open(root_path.c_str(),
                     O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return ErrnoStatus(root_path);
  struct stat st;
  if (fstat(root.get(), &st) != 0) return ErrnoStatus(root_path);
  InodeSpec spec = SpecFromStat(st);
  Result<std::vector<Xattr>> xattrs = ReadXattrs(root.get(), root_path);
  if (!xattrs.ok()) return xattrs.status().WithPrefix(root_path);
  spec.xattrs = std::move(*xattrs);

  WalkResult out{ImageTree(std::move(spec)), {}, UniqueFd(), 1};
  Walker walker(root_path, options, out);
  SEALFS_RETURN_IF_ERROR(walker.WalkDir(root.get(), ImageTree::kRoot, ""));
  out.root_fd = std::move(root);
  return out;
}

Result<UniqueFd> OpenBeneath(int root_fd, const std::string& rel_path) {
  struct open_how how;
  std::memset(&how, 0, sizeof(how));
  how.flags = kReadFlags;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH;
  long fd = syscall(SYS_openat2, root_fd, rel_path.c_str(), &how, sizeof(how));
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  if (errno != ENOSYS && errno != ENAMETOOLONG && errno != EXDEV) {
    return ErrnoStatus("open");
  }
  // Older kernels, paths over PATH_MAX, and trees spanning mounts: one
  // component at a time, none of them followed if it is a symlink.
  UniqueFd dir;
  int at = root_fd;
  size_t pos = 0;
  for (;;) {
    size_t slash = rel_path.find('/', pos);
    std::string part = rel_path.substr(
        pos, slash == std::string::npos ? std::string::npos : slash - pos);
    if (part.empty() || part == "." || part == "..") {
      return Status::FromErrno(EINVAL, "open: bad path component");
    }
    if (slash == std::string::npos) {
      UniqueFd file(openat(at, part.c_str(), kReadFlags));
      if (!file.valid()) return ErrnoStatus("open");
      return file;
    }
    UniqueFd next(openat(at, part.c_str(),
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) return ErrnoStatus("open");
    dir = std::move(next);
    at = dir.get();
    pos = slash + 1;
  }
}

}  // namespace sealfs::mkfs
