// SPDX-License-Identifier: Apache-2.0
// Store: opening the store, its objects and their trees (rebuilding a missing
// tree from the object). Thread-safe: every method is const or static.
#include "sealfs/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <utility>
#include <vector>

#include "fs/core/store_io.h"
#include "fs/core/store_lock.h"
#include "fs/util/io.h"
#include "sealfs/format.h"

namespace sealfs {
namespace {

constexpr int kReadFlags = O_RDONLY | O_NONBLOCK;

// Makes `name` (a directory) beneath `dir_fd` if missing.
Status MakeDir(int dir_fd, const char* name, const std::string& what) {
  if (::mkdirat(dir_fd, name, 0755) != 0 && errno != EEXIST) {
    return ErrnoStatus(what + ": mkdir " + name);
  }
  return {};
}

// ENOTDIR unless `name` beneath the store is a real directory (no symlink).
Status CheckSubdir(int dir_fd, const char* name, const std::string& path) {
  Result<UniqueFd> fd = OpenBeneath(dir_fd, name, O_PATH | O_DIRECTORY);
  if (fd.ok()) return {};
  int err = fd.status().err();
  if (err == ELOOP) err = ENOTDIR;
  return Status::FromErrno(err, path + "/" + name + ": not a store directory");
}

// A tree reader over the tree file, shared by every copy of the reader.
TreeBlockReader FileTreeReader(std::shared_ptr<UniqueFd> fd, std::string what,
                               uint64_t tree_blocks) {
  return [fd = std::move(fd), what = std::move(what), tree_blocks](
             uint64_t index, std::span<uint8_t> out) -> Status {
    if (!TreeBlocksInRange(index, out.size(), tree_blocks)) {
      return Status::FromErrno(
          EINVAL,
          what + ": tree block " + std::to_string(index) + " out of range");
    }
    Result<size_t> got = PreadFull(fd->get(), out, index * kBlockSize);
    if (!got.ok()) return got.status().WithPrefix(what);
    if (*got != out.size()) {
      return Status::Corrupt(what + ": short read at tree block " +
                             std::to_string(index));
    }
    return {};
  };
}

TreeBlockReader MemoryTreeReader(
    std::shared_ptr<const std::vector<uint8_t>> tree, std::string what) {
  return [tree = std::move(tree), what = std::move(what)](
             uint64_t index, std::span<uint8_t> out) -> Status {
    if (!TreeBlocksInRange(index, out.size(), tree->size() / kBlockSize)) {
      return Status::FromErrno(
          EINVAL,
          what + ": tree block " + std::to_string(index) + " out of range");
    }
    std::copy_n(tree->begin() + static_cast<ptrdiff_t>(index * kBlockSize),
                out.size(), out.begin());
    return {};
  };
}

}  // namespace

Result<std::shared_ptr<Store>> Store::Open(const std::string& path, Mode mode) {
  if (mode == Mode::kCreate && ::mkdir(path.c_str(), 0755) != 0 &&
      errno != EEXIST) {
    return ErrnoStatus(path + ": mkdir");
  }
  // The store path itself may be a symlink: the user chose it. Nothing below
  // it is ever followed.
  UniqueFd dir_fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd.valid()) return ErrnoStatus(path);
  if (mode == Mode::kCreate) {
    SEALFS_RETURN_IF_ERROR(MakeDir(dir_fd.get(), kObjectsDir, path));
  }
  SEALFS_RETURN_IF_ERROR(CheckSubdir(dir_fd.get(), kObjectsDir, path));
  // Trees are rebuildable, so a store without trees/ (a composefs store) is
  // still a store; a writable one gets the directory.
  if (mode != Mode::kReadOnly) {
    SEALFS_RETURN_IF_ERROR(MakeDir(dir_fd.get(), kTreesDir, path));
    SEALFS_RETURN_IF_ERROR(CheckSubdir(dir_fd.get(), kTreesDir, path));
    SEALFS_RETURN_IF_ERROR(
        CreateStoreLockFile(dir_fd.get()).WithPrefix("store " + path));
  }
  return std::shared_ptr<Store>(new Store(path, std::move(dir_fd), mode));
}

Store::~Store() = default;

std::string Store::ObjectPath(const Digest& digest) {
  return std::string(kObjectsDir) + "/" + FanoutName(digest) + "/" +
         LeafName(digest);
}

std::string Store::TreePath(const Digest& digest) {
  return std::string(kTreesDir) + "/" + FanoutName(digest) + "/" +
         LeafName(digest);
}

Result<UniqueFd> Store::OpenObject(const Digest& digest,
                                   struct stat* st) const {
  const std::string what = "object " + ObjectPath(digest);
  Result<UniqueFd> fd =
      OpenBeneath(dir_fd_.get(), ObjectPath(digest), kReadFlags);
  if (!fd.ok()) return StoreOpenError(fd.status().err(), what);
  struct stat own;
  if (st == nullptr) st = &own;
  if (::fstat(fd->get(), st) != 0) return ErrnoStatus(what + ": fstat");
  SEALFS_RETURN_IF_ERROR(CheckRegular(*st, what));
  return fd;
}

bool Store::HasObject(const Digest& digest) const {
  // O_PATH opens nothing (no FIFO or device open), and a symlink yields an
  // fd to the link itself, which fstat then reports as not regular.
  Result<UniqueFd> fd = OpenBeneath(dir_fd_.get(), ObjectPath(digest), O_PATH);
  struct stat st;
  return fd.ok() && ::fstat(fd->get(), &st) == 0 && S_ISREG(st.st_mode);
}

Status Store::Sync() const {
  if (::syncfs(dir_fd_.get()) != 0)
    return ErrnoStatus("store " + path_ + ": syncfs");
  return {};
}

Result<TreeBlockReader> Store::OpenTree(const Digest& digest,
                                        uint64_t data_size,
                                        int object_fd) const {
  const std::string what = "tree " + TreePath(digest);
  const TreeGeometry geometry = TreeGeometry::For(data_size);
  if (geometry.tree_blocks == 0) {
    return TreeBlockReader([what](uint64_t, std::span<uint8_t>) -> Status {
      return Status::FromErrno(EINVAL, what + ": object has no tree");
    });
  }

  Result<UniqueFd> fd =
      OpenBeneath(dir_fd_.get(), TreePath(digest), kReadFlags);
  if (fd.ok()) {
    struct stat st;
    if (::fstat(fd->get(), &st) != 0) return ErrnoStatus(what + ": fstat");
    SEALFS_RETURN_IF_ERROR(CheckRegular(st, what));
    if (static_cast<uint64_t>(st.st_size) != geometry.tree_bytes()) {
      return Status::Corrupt(
          what + ": size " + std::to_string(st.st_size) + ", expected " +
          std::to_string(geometry.tree_bytes()) + " for an object of " +
          std::to_string(data_size) + " bytes");
    }
    return FileTreeReader(std::make_shared<UniqueFd>(std::move(*fd)), what,
                          geometry.tree_blocks);
  }
  if (fd.status().err() != ENOENT) {
    return StoreOpenError(fd.status().err(), what);
  }

  // Missing tree: rebuild it from the object, and use it only if the object
  // really has this digest (otherwise the object itself is corrupt).
  const std::string object_what = "object " + ObjectPath(digest);
  Result<MerkleTree> rebuilt = ComputeMerkleTree(object_fd);
  if (!rebuilt.ok()) return rebuilt.status().WithPrefix(object_what);
  if (rebuilt->digest != digest || rebuilt->data_size != data_size) {
    return Status::FromErrno(kErrDigest,
                             object_what +
                                 ": content does not match its digest "
                                 "(found while rebuilding its missing tree)");
  }
  if (rebuilt->tree.size() != geometry.tree_bytes()) {
    return Status::Corrupt(what + ": rebuilt tree has the wrong size");
  }
  auto tree =
      std::make_shared<const std::vector<uint8_t>>(std::move(rebuilt->tree));
  if (writable()) {
    // Best effort: a store we cannot write to (EROFS, EACCES, ENOSPC) still
    // serves the tree from memory, and the next open rebuilds it again.
    Result<UniqueFd> dir =
        OpenFanoutDir(dir_fd_.get(), kTreesDir, digest, /*create=*/true);
    if (dir.ok()) {
      Status stored = WriteNewFile(dir->get(), LeafName(digest), *tree);
      (void)stored;
    }
  }
  return MemoryTreeReader(std::move(tree), what);
}

}  // namespace sealfs
