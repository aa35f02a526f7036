// SPDX-License-Identifier: Apache-2.0
// MappedFile: a whole regular file mapped read-only (MAP_PRIVATE), a private
// read-only copy of one, or bytes held in memory behind the same interface. Move-only; const access is
// thread-safe. Views into bytes() live as long as the MappedFile.
#ifndef SEALFS_FS_UTIL_MAPPED_FILE_H_
#define SEALFS_FS_UTIL_MAPPED_FILE_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sealfs/status.h"

namespace sealfs {

class MappedFile {
 public:
  // EINVAL if `path` is not a regular file. An empty file maps to no bytes.
  static Result<MappedFile> Open(const std::string& path);
  // The file's bytes copied into anonymous memory that is then made
  // read-only: nothing done to the file later reaches them. The memory is
  // populated in one call rather than page by page (a fault per page is what
  // dominates reading a manifest of a few MiB, on a VM especially).
  static Result<MappedFile> ReadPrivate(const std::string& path);
  static MappedFile FromBytes(std::vector<uint8_t> bytes);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  MappedFile() = default;
  void Release();

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_size_ = 0;     // length of the mapping at data_, if mapped_
  bool mapped_ = false;        // data_ came from mmap
  std::vector<uint8_t> owned_;  // FromBytes storage
};

}  // namespace sealfs

#endif  // SEALFS_FS_UTIL_MAPPED_FILE_H_
