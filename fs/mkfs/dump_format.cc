// SPDX-License-Identifier: Apache-2.0
// Escaping, unescaping and numbers of composefs dump lines.
#include "fs/mkfs/dump_format.h"

#include <array>

namespace sealfs::mkfs {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<uint64_t> ParseBase(std::string_view field, uint64_t max,
                           unsigned base) {
  if (field.empty()) return Status::FromErrno(EINVAL, "empty number");
  uint64_t v = 0;
  for (char c : field) {
    auto digit = static_cast<unsigned>(c - '0');
    if (c < '0' || digit >= base) {
      return Status::FromErrno(
          EINVAL, base == 8 ? "not an octal number" : "not a decimal number");
    }
    if (__builtin_mul_overflow(v, uint64_t{base}, &v) ||
        __builtin_add_overflow(v, uint64_t{digit}, &v) || v > max) {
      return Status::FromErrno(ERANGE,
                               "number larger than " + std::to_string(max));
    }
  }
  return v;
}

}  // namespace

const char* DumpFieldName(size_t field) {
  static constexpr std::array<const char*, kDumpFixedFields> kNames = {
      "PATH", "SIZE",  "MODE",    "NLINK",   "UID",    "GID",
      "RDEV", "MTIME", "PAYLOAD", "CONTENT", "DIGEST",
  };
  return field < kNames.size() ? kNames[field] : "XATTR";
}

void AppendDumpEscaped(std::string* out, std::string_view value,
                       DumpEscape mode) {
  static constexpr char kHex[] = "0123456789abcdef";
  if (mode == DumpEscape::kLoneDash && value == "-") {
    out->append("\\x2d");
    return;
  }
  for (char ch : value) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\\': out->append("\\\\"); continue;
      case '\n': out->append("\\n"); continue;
      case '\r': out->append("\\r"); continue;
      case '\t': out->append("\\t"); continue;
      default: break;
    }
    bool hex = c <= 0x20 || c >= 0x7f || (c == '=' && mode == DumpEscape::kEqual);
    if (hex) {
      out->append("\\x");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xF]);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
}

Result<std::string> DumpUnescape(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    char c = field[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i == field.size()) {
      return Status::FromErrno(EINVAL, "bad escape: '\\' at end of field");
    }
    switch (field[i]) {
      case '\\': out.push_back('\\'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'x': {
        int hi = i + 1 < field.size() ? HexValue(field[i + 1]) : -1;
        int lo = i + 2 < field.size() ? HexValue(field[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
          return Status::FromErrno(EINVAL,
                                   "bad escape: \\x needs two hex digits");
        }
        out.push_back(static_cast<char>(hi << 4 | lo));
        i += 2;
        break;
      }
      default: {
        std::string shown;
        AppendDumpEscaped(&shown, std::string_view(&field[i], 1),
                          DumpEscape::kStandard);
        return Status::FromErrno(EINVAL, "bad escape: \\" + shown);
      }
    }
  }
  return out;
}

Result<uint64_t> ParseDumpDecimal(std::string_view field, uint64_t max) {
  return ParseBase(field, max, 10);
}

Result<uint64_t> ParseDumpOctal(std::string_view field, uint64_t max) {
  return ParseBase(field, max, 8);
}

}  // namespace sealfs::mkfs
