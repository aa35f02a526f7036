// SPDX-License-Identifier: Apache-2.0
#include "fs/util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <utility>

#include "sealfs/unique_fd.h"

namespace sealfs {

Result<MappedFile> MappedFile::Open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return ErrnoStatus(path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(path);
  if (!S_ISREG(st.st_mode)) {
    return Status::FromErrno(EINVAL, path + ": not a regular file");
  }
  MappedFile file;
  if (st.st_size == 0) return file;
  void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ,
                   MAP_PRIVATE, fd.get(), 0);
  if (p == MAP_FAILED) return ErrnoStatus("mmap " + path);
  file.data_ = static_cast<const uint8_t*>(p);
  file.size_ = static_cast<size_t>(st.st_size);
  file.mapped_ = true;
  return file;
}

MappedFile MappedFile::FromBytes(std::vector<uint8_t> bytes) {
  MappedFile file;
  file.owned_ = std::move(bytes);
  file.data_ = file.owned_.data();
  file.size_ = file.owned_.size();
  return file;
}

MappedFile::MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this == &other) return *this;
  Release();
  mapped_ = std::exchange(other.mapped_, false);
  size_ = std::exchange(other.size_, 0);
  owned_ = std::move(other.owned_);
  data_ = mapped_ ? std::exchange(other.data_, nullptr) : owned_.data();
  other.data_ = nullptr;
  return *this;
}

MappedFile::~MappedFile() { Release(); }

void MappedFile::Release() {
  if (mapped_) ::munmap(const_cast<uint8_t*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
  mapped_ = false;
  owned_.clear();
}

}  // namespace sealfs
