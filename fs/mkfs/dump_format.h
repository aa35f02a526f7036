// SPDX-License-Identifier: Apache-2.0
// The lexical layer of the composefs dump format (composefs-dump(5)): field
// escaping as composefs-info writes it, strict unescaping and number parsing
// as mkcomposefs --from-file reads it. Shared by the dump parser and writer.
// Thread-safety: all functions are reentrant.
#ifndef SEALFS_FS_MKFS_DUMP_FORMAT_H_
#define SEALFS_FS_MKFS_DUMP_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sealfs/status.h"

namespace sealfs::mkfs {

// The fixed fields of a dump line, in order; extended attributes follow.
enum DumpField : size_t {
  kFieldPath,
  kFieldSize,
  kFieldMode,
  kFieldNlink,
  kFieldUid,
  kFieldGid,
  kFieldRdev,
  kFieldMtime,
  kFieldPayload,
  kFieldContent,
  kFieldDigest,
  kDumpFixedFields,  // 11
};

// Upper-case field name as composefs-dump(5) spells it ("SIZE").
const char* DumpFieldName(size_t field);

enum class DumpEscape {
  kStandard,  // PATH
  kLoneDash,  // PAYLOAD, CONTENT: a value of exactly "-" becomes \x2d
  kEqual,     // xattr KEY and VALUE: '=' becomes \x3d
};

// Appends `value` escaped exactly as composefs-info does: backslash, \n, \r
// and \t as C escapes, every byte outside 0x21..0x7e as \xXY (lower case).
void AppendDumpEscaped(std::string* out, std::string_view value,
                       DumpEscape mode);

// Decodes \\, \n, \r, \t and \xXY (either case); every other byte stands for
// itself. EINVAL naming the bad escape otherwise. The result is never longer
// than `field`.
Result<std::string> DumpUnescape(std::string_view field);

// Whole-field unsigned integers: digits only (no sign, no space, no empty
// field), at most `max`. EINVAL for a non-number, ERANGE above `max`.
Result<uint64_t> ParseDumpDecimal(std::string_view field, uint64_t max);
Result<uint64_t> ParseDumpOctal(std::string_view field, uint64_t max);

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_DUMP_FORMAT_H_
