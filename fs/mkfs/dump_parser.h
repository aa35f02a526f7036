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

// Longest CONTENT accepted: composefs's own limit on inline content (its
// tests/assets/should-fail-big-inline.dump, 5004 bytes, must fail). Content
// over kMaxInlineSize and up to this is stored as an object.
inline constexpr size_t kMaxDumpContent = 5000;

// A regular file whose content must come from the object store.
struct DumpStoredFile {
  std::string path;
  Digest digest;  // unset (zero) while `payload` is still to be read
  uint64_t size = 0;
  NodeId node = 0;
  // CONTENT over kMaxInlineSize: the bytes, for the builder to store
  // (`digest` is theirs, checked against DIGEST if the dump had one).
  std::string content;
  // PAYLOAD without DIGEST (only with
  // DumpParseOptions::payload_without_digest): the path, relative to the
  // builder's base directory, to read the content from and compute `digest` of.
  std::string payload;
};

struct DumpParseOptions {
  // Accept PAYLOAD without DIGEST on a regular file (mkfs --basedir); the
  // builder then computes the digest. Without it such a line is refused.
  bool payload_without_digest = false;
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
  explicit DumpParser(DumpParseOptions options) : options_(options) {}

  // Parses one line (without its newline). As composefs does, a line that
  // ends after MTIME reads the missing PAYLOAD, CONTENT and DIGEST as "-".
  // On failure the error's context is "line N: reason" and errno is:
  // EINVAL for malformed fields, bad escapes, a bad path, a wrong field
  // count or an unusable file (bad type, content not matching SIZE, a
  // payload without a digest unless allowed, or not naming the digest, an
  // xattr over its limits); ERANGE for a number
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

  DumpParseOptions options_;
  std::optional<ImageTree> tree_;
  std::vector<DumpStoredFile> stored_;
  uint64_t line_no_ = 0;
};

// Parses a whole dump held in memory. Lines end with '\n'; the last may lack
// it. An empty line is refused.
Result<ParsedDump> ParseDump(std::string_view text,
                             DumpParseOptions options = {});
// The same, read from `fd` until EOF in bounded chunks. `name` prefixes
// read errors.
Result<ParsedDump> ParseDumpFd(int fd, const std::string& name,
                               DumpParseOptions options = {});

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_DUMP_PARSER_H_
