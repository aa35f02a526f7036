// SPDX-License-Identifier: Apache-2.0
// The tar header walk of an `oci-archive:` (POSIX.1-2001 pax, ustar and GNU
// headers; see tar(5)), and the layout files it finds.
#include "fs/mkfs/oci_archive.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "fs/core/oci.h"
#include "fs/core/store_io.h"
#include "fs/util/io.h"

namespace sealfs::mkfs {
namespace {

constexpr uint64_t kBlock = 512;
// pax and GNU long-name records are read into memory: at most this large.
constexpr uint64_t kMaxRecord = uint64_t{1} << 20;

// Field offsets and lengths of a ustar header block.
constexpr size_t kNameOff = 0, kNameLen = 100;
constexpr size_t kSizeOff = 124, kSizeLen = 12;
constexpr size_t kChksumOff = 148, kChksumLen = 8;
constexpr size_t kTypeOff = 156;
constexpr size_t kMagicOff = 257;
constexpr size_t kPrefixOff = 345, kPrefixLen = 155;

using Block = std::array<uint8_t, kBlock>;

// A NUL-terminated field of at most `len` bytes.
std::string_view Field(const Block& b, size_t off, size_t len) {
  const char* p = reinterpret_cast<const char*>(b.data()) + off;
  return {p, strnlen(p, len)};
}

// A numeric field: octal digits after optional spaces, ended by NUL or
// space, or GNU's base-256 (high bit of the first byte set).
std::optional<uint64_t> Number(const Block& b, size_t off, size_t len) {
  const uint8_t* p = b.data() + off;
  if ((p[0] & 0x80) != 0) {
    if (p[0] == 0xff) return std::nullopt;  // negative
    uint64_t v = p[0] & 0x7f;
    for (size_t i = 1; i < len; ++i) {
      if (v > (UINT64_MAX >> 8)) return std::nullopt;
      v = (v << 8) | p[i];
    }
    return v;
  }
  size_t i = 0;
  while (i < len && p[i] == ' ') ++i;
  uint64_t v = 0;
  size_t digits = 0;
  for (; i < len && p[i] >= '0' && p[i] <= '7'; ++i, ++digits) {
    if (v > (UINT64_MAX >> 3)) return std::nullopt;
    v = (v << 3) | (p[i] - '0');
  }
  if (digits == 0) return std::nullopt;
  for (; i < len; ++i) {
    if (p[i] != ' ' && p[i] != '\0') return std::nullopt;
  }
  return v;
}

bool ChecksumMatches(const Block& b) {
  std::optional<uint64_t> stored = Number(b, kChksumOff, kChksumLen);
  if (!stored.has_value()) return false;
  uint64_t unsigned_sum = 0;
  int64_t signed_sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    const bool in_field = i >= kChksumOff && i < kChksumOff + kChksumLen;
    const uint8_t c = in_field ? ' ' : b[i];
    unsigned_sum += c;
    signed_sum += static_cast<int8_t>(c);
  }
  // Some old writers summed signed chars.
  return *stored == unsigned_sum ||
         (signed_sum >= 0 && *stored == static_cast<uint64_t>(signed_sum));
}

std::optional<uint64_t> Decimal(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9' || v > (UINT64_MAX - 9) / 10) return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// The attributes of a pax header that matter here.
struct Pax {
  std::optional<std::string> path;
  std::optional<uint64_t> size;
};

// Parses pax records "LEN KEY=VALUE\n" (LEN counts the whole record).
Status ParsePax(std::string_view data, Pax* out) {
  while (!data.empty()) {
    const size_t space = data.find(' ');
    if (space == std::string_view::npos || space > 20) {
      return Status::Corrupt("pax record without a length");
    }
    std::optional<uint64_t> len = Decimal(data.substr(0, space));
    if (!len.has_value() || *len <= space + 2 || *len > data.size()) {
      return Status::Corrupt("pax record length out of range");
    }
    std::string_view record = data.substr(0, static_cast<size_t>(*len));
    data.remove_prefix(static_cast<size_t>(*len));
    if (record.back() != '\n') {
      return Status::Corrupt("pax record not ended by a newline");
    }
    record = record.substr(space + 1, record.size() - space - 2);
    const size_t eq = record.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Status::Corrupt("pax record without a key");
    }
    const std::string_view key = record.substr(0, eq);
    const std::string_view value = record.substr(eq + 1);
    if (key == "path") {
      out->path = std::string(value);
    } else if (key == "size") {
      out->size = Decimal(value);
      if (!out->size.has_value())
        return Status::Corrupt("pax size not a number");
    }
  }
  return {};
}

// Whether `name` is a file an image layout defines, which IndexTarArchive
// keeps: "oci-layout", "index.json", "blobs/sha256/<64 lowercase hex>".
bool IsLayoutName(std::string_view name) {
  if (name == "oci-layout" || name == "index.json") return true;
  constexpr std::string_view kBlobs = "blobs/sha256/";
  if (!name.starts_with(kBlobs)) return false;
  return ParseOciDigest("sha256:" + std::string(name.substr(kBlobs.size())))
      .ok();
}

class ArchiveFiles : public LayoutFiles {
 public:
  ArchiveFiles(std::shared_ptr<const UniqueFd> fd,
               std::map<std::string, ArchiveMember> members)
      : fd_(std::move(fd)), members_(std::move(members)) {}

  Result<File> Open(const std::string& name) override {
    auto it = members_.find(name);
    if (it == members_.end()) {
      return Status::FromErrno(ENOENT, name + ": not in the archive");
    }
    return File{fd_, it->second.offset, it->second.size};
  }

 private:
  const std::shared_ptr<const UniqueFd> fd_;
  const std::map<std::string, ArchiveMember> members_;
};

}  // namespace

Result<std::map<std::string, ArchiveMember>> IndexTarArchive(
    const ReadAtFn& read, uint64_t size) {
  std::map<std::string, ArchiveMember> members;
  Pax next;  // from a pax or GNU long-name header, for the next member
  uint64_t count = 0;
  for (uint64_t off = 0;; ++count) {
    const std::string where = "archive member " + std::to_string(count) +
                              " (offset " + std::to_string(off) + ")";
    if (off == size) break;  // no end marker: the end of the file is one
    if (!InBounds(size, off, kBlock)) {
      return Status::Corrupt(where + ": truncated header");
    }
    Block b;
    SEALFS_ASSIGN_OR_RETURN(size_t got, read(b, off));
    if (got != kBlock) return Status::Corrupt(where + ": truncated header");
    if (std::all_of(b.begin(), b.end(), [](uint8_t c) { return c == 0; })) {
      break;  // the end-of-archive marker; what follows is padding
    }
    if (!ChecksumMatches(b)) return Status::Corrupt(where + ": bad checksum");
    const std::string_view magic(reinterpret_cast<const char*>(&b[kMagicOff]),
                                 8);
    const bool gnu = magic == std::string_view("ustar  \0", 8);
    if (!gnu && magic.substr(0, 6) != std::string_view("ustar\0", 6)) {
      return Status::Corrupt(where + ": not a ustar, pax or GNU tar header");
    }
    std::optional<uint64_t> field_size = Number(b, kSizeOff, kSizeLen);
    if (!field_size.has_value()) return Status::Corrupt(where + ": bad size");
    const char type = static_cast<char>(b[kTypeOff]);
    uint64_t data_size = *field_size;
    if (type != 'x' && type != 'g' && type != 'L' && type != 'K' &&
        next.size.has_value()) {
      data_size = *next.size;
    }
    // Members of these types have no data blocks, whatever size they give.
    if (type == '1' || type == '2' || type == '3' || type == '4' ||
        type == '5' || type == '6') {
      data_size = 0;
    }
    const uint64_t data_off = off + kBlock;
    if (!InBounds(size, data_off, data_size)) {
      return Status::Corrupt(where + ": data runs past the end of the file");
    }
    const uint64_t padded = data_size + (kBlock - data_size % kBlock) % kBlock;
    if (!InBounds(size, data_off, padded)) {
      return Status::Corrupt(where + ": data runs past the end of the file");
    }
    auto record = [&]() -> Result<std::string> {
      if (data_size > kMaxRecord) {
        return Status::Corrupt(where + ": header record over 1 MiB");
      }
      std::string data(static_cast<size_t>(data_size), '\0');
      SEALFS_ASSIGN_OR_RETURN(
          size_t n, read({reinterpret_cast<uint8_t*>(data.data()), data.size()},
                         data_off));
      if (n != data.size()) return Status::Corrupt(where + ": truncated");
      return data;
    };
    off = data_off + padded;
    switch (type) {
      case 'x': {
        SEALFS_ASSIGN_OR_RETURN(std::string data, record());
        Pax pax;
        Status st = ParsePax(data, &pax);
        if (!st.ok()) return st.WithPrefix(where);
        if (pax.path.has_value()) next.path = std::move(pax.path);
        if (pax.size.has_value()) next.size = pax.size;
        continue;
      }
      case 'g': {
        SEALFS_ASSIGN_OR_RETURN(std::string data, record());
        Pax pax;
        Status st = ParsePax(data, &pax);
        if (!st.ok()) return st.WithPrefix(where);
        if (pax.path.has_value() || pax.size.has_value()) {
          return Status::Corrupt(where +
                                 ": a global pax header sets a path "
                                 "or size");
        }
        continue;
      }
      case 'L': {
        SEALFS_ASSIGN_OR_RETURN(std::string data, record());
        next.path = data.substr(0, strnlen(data.data(), data.size()));
        continue;
      }
      case 'K':  // GNU long link name: links are skipped anyway
        continue;
      case '0':
      case '\0':
      case '7':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
        break;
      default:
        return Status::Corrupt(where + ": member type " +
                               Quote(std::string_view(&type, 1)) +
                               " not supported");
    }
    std::string name;
    if (next.path.has_value()) {
      name = std::move(*next.path);
    } else {
      const std::string_view prefix =
          gnu ? std::string_view() : Field(b, kPrefixOff, kPrefixLen);
      name = prefix.empty() ? std::string(Field(b, kNameOff, kNameLen))
                            : std::string(prefix) + "/" +
                                  std::string(Field(b, kNameOff, kNameLen));
    }
    next = Pax();
    const bool regular = type == '0' || type == '\0' || type == '7';
    std::string_view stem = name;
    while (stem.starts_with("./")) stem.remove_prefix(2);
    if (!regular || !IsLayoutName(stem)) continue;
    if (!members.emplace(std::string(stem), ArchiveMember{data_off, data_size})
             .second) {
      return Status::Corrupt(where + ": " + Quote(stem) +
                             " is in the archive twice");
    }
  }
  return members;
}

Result<std::unique_ptr<LayoutFiles>> OpenLayoutArchive(
    const std::string& path) {
  struct stat st;
  SEALFS_ASSIGN_OR_RETURN(UniqueFd fd, OpenRegularFile(path, &st));
  auto shared = std::make_shared<const UniqueFd>(std::move(fd));
  const int raw = shared->get();
  Result<std::map<std::string, ArchiveMember>> members = IndexTarArchive(
      [raw](std::span<uint8_t> out, uint64_t offset) {
        return PreadFull(raw, out, offset);
      },
      static_cast<uint64_t>(st.st_size));
  if (!members.ok()) return members.status();
  return std::unique_ptr<LayoutFiles>(
      new ArchiveFiles(std::move(shared), std::move(*members)));
}

}  // namespace sealfs::mkfs
