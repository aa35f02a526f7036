// SPDX-License-Identifier: Apache-2.0
// Reads a composefs dump (composefs-dump(5)) into an ImageTree. The input is
// hostile: every line is checked and the first bad one is refused with
// "line N: reason"; nothing is allocated from a number in the input, and a
// line is bounded by kMaxDumpLineLen. See docs/FORMAT.md#composefs-dump.
// Thread-safety: a DumpParser is not thread-safe; free functions reentrant.
#ifndef SEALFS_FS_MKFS_DUMP_PARSER_H_
#define SEALFS_FS_MKFS_DUMP_PARSER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sealfs/digest.h"
#include "sealfs/manifest_writer.h"
#include "sealfs/status.h"

namespace sealfs::mkfs {

// Longest line accepted (bytes, without the newline). A legitimate line is at
// most a few hundred KiB (escaped path, symlink target, inline content and
// 64 KiB xattr values).
inline constexpr size_t kMaxDumpLineLen = 16u << 20;

// A regular file whose content must come from the object store.
struct DumpStoredFile {
  std::string path;
  Digest digest;
  uint64_t size = 0;
};

struct ParsedDump {
  ImageTree tree;
  std::vector<DumpStoredFile> stored;  // in input order, one per inode
  uint64_t lines = 0;
};

// Parses line by line. Line numbers count from 1 and include every line fed.
class DumpParser {
 public:
  DumpParser() = default;

  // Parses one line (without its newline). On failure the error's context
  // is "line N: reason" and errno is: EINVAL for malformed fields, bad
  // escapes, a bad path, a wrong field count or an unusable file (bad
  // type, inline content too big or not matching SIZE, a payload without a
  // digest or not naming it, an xattr over its limits); ERANGE for a number
  // out of range; ENOENT for a missing parent or hard-link target (or one
  // only defined later); ENOTDIR for a parent that is not a directory;
  // EEXIST for a duplicate path or xattr key; EPERM for a hard link to a
  // directory; kErrDigest for CONTENT that does not match DIGEST.
  Status AddLine(std::string_view line);

  // The tree. EINVAL if there was no line at all. REQUIRES: every AddLine
  // returned OK.
  Result<ParsedDump> Finish() &&;

 private:
  Status ParseLine(std::string_view line);
  Result<NodeId> LookupPath(std::string_view path) const;

  std::optional<ImageTree> tree_;
  std::vector<DumpStoredFile> stored_;
  uint64_t line_no_ = 0;
};

// Parses a whole dump held in memory. Lines end with '\n'; the last may lack
// it. An empty line is refused.
Result<ParsedDump> ParseDump(std::string_view text);
// The same, read from `fd` until EOF in bounded chunks. `name` prefixes
// read errors.
Result<ParsedDump> ParseDumpFd(int fd, const std::string& name);

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_DUMP_PARSER_H_
