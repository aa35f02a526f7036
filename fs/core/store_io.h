// SPDX-License-Identifier: Apache-2.0
// File-level primitives of the object store: opening names beneath the store
// directory without following symlinks, fan-out directories, and temporary
// files that become visible under their final name by one link. Reentrant.
#ifndef SEALFS_FS_CORE_STORE_IO_H_
#define SEALFS_FS_CORE_STORE_IO_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>

#include "sealfs/digest.h"
#include "sealfs/status.h"
#include "sealfs/unique_fd.h"

namespace sealfs {

// "ab" and the other 62 hex digits of a digest.
std::string FanoutName(const Digest& digest);
std::string LeafName(const Digest& digest);

// Opens `rel` (a relative path built by us, never from input) beneath
// `dir_fd`, following no symlink in any component: openat2() with
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or a component-by-component walk with
// O_NOFOLLOW on kernels without openat2. Returns the raw errno on failure
// (ELOOP for a symlink, ENOENT, ENOTDIR, ...) with `rel` as context.
Result<UniqueFd> OpenBeneath(int dir_fd, const std::string& rel, int flags);

// Opens the fan-out directory `top`/XX (top is kObjectsDir or kTreesDir) of
// `digest`. With `create`, makes XX (0755) on ENOENT; a concurrent mkdir
// (EEXIST) is fine. kErrCorrupt if the name is a symlink or not a directory.
Result<UniqueFd> OpenFanoutDir(int store_fd, const char* top,
                               const Digest& digest, bool create);

// Maps an open failure of a store file to a Status: a symlink or a special
// file at the name (ELOOP, ENXIO, ENODEV, ENOTDIR, EXDEV) is kErrCorrupt;
// anything else keeps its errno. `what` names the file ("object objects/..").
Status StoreOpenError(int err, const std::string& what);

// kErrCorrupt unless `st` is a regular file; the message names the type.
Status CheckRegular(const struct stat& st, const std::string& what);

// A file being written in a fan-out directory, not yet visible under its
// final name: an O_TMPFILE inode, or (where the filesystem lacks O_TMPFILE) a
// file named kTempPrefix + random. Move-only; destroying it discards the
// file (closes the fd; unlinks a named temp).
class TempFile {
 public:
  TempFile() = default;
  TempFile(TempFile&& other) noexcept;
  TempFile& operator=(TempFile&& other) noexcept;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() { Discard(); }

  // Creates a temp file (mode 0444, opened read-write) in `dir_fd`, which
  // must stay open until Link() or Discard().
  static Result<TempFile> Create(int dir_fd);

  int fd() const { return fd_.get(); }
  bool named() const { return !temp_name_.empty(); }

  // Gives the file its final `name` in the directory. Returns true if it was
  // linked, false if `name` already existed (EEXIST: a concurrent writer won,
  // and with content-addressed names that is the same content). Either way
  // the temp file is gone afterwards. REQUIRES: the data is durable already
  // (fsync or syncfs), so a crash never exposes a partial file.
  Result<bool> Link(const std::string& name);

  // Makes Link() name the file in `dir_fd` (same filesystem, must stay open)
  // instead of the directory it was created in: for content whose digest,
  // and so whose fan-out directory, is known only after it was written.
  void set_link_dir(int dir_fd) { link_dir_ = dir_fd; }

  // For a named temp, closes the fd (the name keeps the file for Link()), so
  // a waiting file costs no descriptor. No-op for O_TMPFILE, whose fd is the
  // only reference to the file.
  void CloseFdIfNamed() {
    if (named()) fd_.reset();
  }

  void Discard();

 private:
  UniqueFd fd_;
  int dir_fd_ = -1;        // not owned
  int link_dir_ = -1;      // not owned; -1: dir_fd_
  std::string temp_name_;  // empty for O_TMPFILE
};

// Writes `data` as a new file `name` in `dir_fd` (temp file, fsync, link).
// OK if `name` already exists. Used for trees, which are rebuildable.
Status WriteNewFile(int dir_fd, const std::string& name,
                    std::span<const uint8_t> data);

// For tests: makes TempFile::Create use named temps, as on a filesystem
// without O_TMPFILE.
void SetTmpfileDisabledForTesting(bool disabled);
// For tests: makes OpenBeneath walk components, as on a kernel without
// openat2. Passing false re-enables openat2.
void SetOpenat2DisabledForTesting(bool disabled);

}  // namespace sealfs

#endif  // SEALFS_FS_CORE_STORE_IO_H_
