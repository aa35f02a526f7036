// SPDX-License-Identifier: Apache-2.0
// Full structural validation of a v1 manifest (docs/FORMAT.md#validation),
// run once when an image is opened, and the bounds-checked record reads the
// reader's accessors share with it. Reentrant.
#ifndef SEALFS_FS_CORE_MANIFEST_VALIDATE_H_
#define SEALFS_FS_CORE_MANIFEST_VALIDATE_H_

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "sealfs/format.h"
#include "sealfs/status.h"

namespace sealfs {

struct SectionRange {
  uint64_t offset = 0;  // from the start of the file; inside manifest_size
  uint64_t size = 0;    // bytes
};

// What validation learned: where everything is. Every range lies inside
// [0, manifest_size), and manifest_size inside the bytes validated.
struct ManifestLayout {
  uint64_t manifest_size = 0;
  uint16_t version = 0;
  // By kind; {0, 0} for an optional kind that is absent.
  std::array<SectionRange, kMaxSectionKind + 1> sections{};
  uint64_t inode_count = 0;
  uint64_t dirent_count = 0;
  uint64_t xattr_set_count = 0;
  uint64_t xattr_entry_count = 0;
  uint64_t digest_count = 0;

  const SectionRange& section(SectionKind kind) const { return sections[kind]; }
};

// Checks every rule of docs/FORMAT.md#validation over `file` (manifest plus
// any trailer) in time linear in its size. kErrCorrupt with context naming
// the object and the failed check, e.g.
// "manifest: inode 42: dirent 3: name extends past string table".
Result<ManifestLayout> ValidateManifest(std::span<const uint8_t> file);

// The rules of docs/FORMAT.md#validation that need only the header and the
// size of the whole image file: magic, version, features, manifest_size, and
// a trailer no longer than a signature block can be. ValidateManifest checks
// them first; Manifest::Open checks them before it reads the file, so a file
// that cannot be an image is refused without being read into memory.
Status ValidateHeaderFields(const ManifestHeader& h, uint64_t file_size);

// Copies a T out of `bytes` at `offset` (memcpy: any alignment), or
// kErrCorrupt if it does not fit.
template <typename T>
Result<T> ReadAt(std::span<const uint8_t> bytes, uint64_t offset) {
  if (!InBounds(bytes.size(), offset, sizeof(T))) {
    return Status::Corrupt("manifest: read of " + std::to_string(sizeof(T)) +
                           " bytes at offset " + std::to_string(offset) +
                           " out of bounds");
  }
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

// Record `index` of a record section. kErrCorrupt if past its end.
template <typename T>
Result<T> ReadRecord(std::span<const uint8_t> bytes, const SectionRange& s,
                     uint64_t index) {
  if (index >= s.size / sizeof(T)) {
    return Status::Corrupt("manifest: record " + std::to_string(index) +
                           " past end of section");
  }
  return ReadAt<T>(bytes, s.offset + index * sizeof(T));
}

// Points *out at bytes [off, off + len) of section `s`; false (and *out
// untouched) if that range is not inside the section and the section inside
// `bytes`.
inline bool SliceOf(std::span<const uint8_t> bytes, const SectionRange& s,
                    uint64_t off, uint64_t len, std::span<const uint8_t>* out) {
  if (!InBounds(s.size, off, len) ||
      !InBounds(bytes.size(), s.offset, s.size)) {
    return false;
  }
  *out = bytes.subspan(s.offset + off, len);
  return true;
}

// Orders names as the format sorts them: unsigned bytes, then shorter first.
inline int CompareNames(std::string_view a, std::string_view b) {
  size_t n = a.size() < b.size() ? a.size() : b.size();
  int c = n == 0 ? 0 : std::memcmp(a.data(), b.data(), n);
  if (c != 0) return c;
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

// `bytes` for a one-line message: control bytes, DEL and backslash become
// \xNN; everything else (UTF-8 included) is kept.
inline std::string Printable(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || u == '\\') {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

inline std::string_view AsView(std::span<const uint8_t> s) {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

}  // namespace sealfs

#endif  // SEALFS_FS_CORE_MANIFEST_VALIDATE_H_
