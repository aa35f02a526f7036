// SPDX-License-Identifier: Apache-2.0
// MappedFile: a whole regular file mapped read-only (MAP_PRIVATE), a private
// read-only copy of one, or bytes held in memory behind the same interface. Move-only; const access is
// thread-safe. Views into bytes() live as long as the MappedFile.
#ifndef SEALFS_FS_UTIL_MAPPED_FILE_H_
#define SEALFS_FS_UTIL_MAPPED_FILE_H_

#include <cstddef>
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
  // `observer`, if given, hears of the read as it happens, so that another
  // thread can work on the bytes while the rest is read.
  class ReadObserver {
   public:
    virtual ~ReadObserver() = default;
    // The file has `size` bytes (more than zero); reading starts.
    virtual void Started(size_t size) = 0;
    // The first `ready.size()` bytes are in place and never change again.
    // Every call names the same buffer and a longer prefix of it.
    virtual void Ready(std::span<const uint8_t> ready) = 0;
    // The read failed and the buffer is about to be released: return only
    // once nothing uses it.
    virtual void Failed() = 0;
  };
  static Result<MappedFile> ReadPrivate(const std::string& path,
                                        ReadObserver* observer = nullptr);
  // The same for an open regular file whose size, from fstat(), is `size`:
  // for callers that look at the file before deciding to read it. `path`
  // names it in errors.
  static Result<MappedFile> ReadPrivate(int fd, size_t size,
                                        const std::string& path,
                                        ReadObserver* observer = nullptr);
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
