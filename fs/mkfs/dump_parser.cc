// SPDX-License-Identifier: Apache-2.0
// DumpParser: one composefs dump line at a time into an ImageTree, refusing
// anything the format or sealfs cannot represent faithfully.
#include "fs/mkfs/dump_parser.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <set>
#include <span>
#include <utility>

#include "fs/mkfs/dump_format.h"
#include "sealfs/format.h"
#include "sealfs/store.h"

namespace sealfs::mkfs {
namespace {

constexpr size_t kPathMax = 4096;  // PATH_MAX, for symlink targets
constexpr uint32_t kModeBits = S_IFMT | 07777;

Status Bad(int err, std::string reason) {
  return Status::FromErrno(err, std::move(reason));
}

// "PATH: reason" for a failed lexical check of one field.
Status FieldError(size_t field, const Status& s) {
  return Status::FromErrno(
      s.err(), std::string(DumpFieldName(field)) + ": " + s.context());
}

// Splits at single spaces. Every field, xattrs included, must be non-empty
// (composefs writes '-' for an unset field, never nothing).
std::vector<std::string_view> SplitFields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (true) {
    size_t sp = line.find(' ', pos);
    if (sp == std::string_view::npos) {
      fields.push_back(line.substr(pos));
      return fields;
    }
    fields.push_back(line.substr(pos, sp - pos));
    pos = sp + 1;
  }
}

// '-' is unset; anything else is unescaped.
Result<std::optional<std::string>> Optional(std::string_view field,
                                            size_t which) {
  if (field == "-") return std::optional<std::string>();
  Result<std::string> v = DumpUnescape(field);
  if (!v.ok()) return FieldError(which, v.status());
  return std::optional<std::string>(std::move(*v));
}

// An absolute path in canonical form: "/" or "/a/b", components non-empty,
// not "." or "..", at most kMaxNameLen bytes, no NUL.
Status CheckPath(std::string_view path, const char* what) {
  std::string w = what;
  if (path.empty()) return Bad(EINVAL, w + " is empty");
  if (path.front() != '/') return Bad(EINVAL, w + " is not absolute");
  if (path.find('\0') != std::string_view::npos) {
    return Bad(EINVAL, w + " contains NUL");
  }
  if (path == "/") return Status();
  size_t pos = 1;
  while (true) {
    size_t slash = path.find('/', pos);
    std::string_view part = path.substr(pos, slash == std::string_view::npos
                                                 ? std::string_view::npos
                                                 : slash - pos);
    if (part.empty()) return Bad(EINVAL, w + " has an empty component");
    if (part == "." || part == "..") {
      return Bad(EINVAL, w + " has a '" + std::string(part) + "' component");
    }
    if (part.size() > kMaxNameLen) {
      return Bad(ENAMETOOLONG, w + " has a component longer than " +
                                   std::to_string(kMaxNameLen) + " bytes");
    }
    if (slash == std::string_view::npos) return Status();
    pos = slash + 1;
  }
}

std::pair<std::string_view, std::string_view> SplitParent(
    std::string_view path) {
  size_t slash = path.rfind('/');
  std::string_view parent = slash == 0 ? "/" : path.substr(0, slash);
  return {parent, path.substr(slash + 1)};
}

// The payload composefs stores for a digest: "XX/<62 hex>".
std::string DigestPayload(const Digest& d) {
  std::string hex = d.Hex();
  return hex.substr(0, 2) + "/" + hex.substr(2);
}

const char* TypeName(uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return "regular file";
    case S_IFDIR:
      return "directory";
    case S_IFLNK:
      return "symlink";
    case S_IFCHR:
      return "character device";
    case S_IFBLK:
      return "block device";
    case S_IFIFO:
      return "fifo";
    case S_IFSOCK:
      return "socket";
    default:
      return "file of unknown type";
  }
}

Result<uint32_t> ParseMode(std::string_view field) {
  Result<uint64_t> mode = ParseDumpOctal(field, UINT32_MAX);
  if (!mode.ok()) return FieldError(kFieldMode, mode.status());
  auto m = static_cast<uint32_t>(*mode);
  if ((m & ~kModeBits) != 0) {
    return Bad(EINVAL, "MODE: bits outside the file type and permissions");
  }
  if ((m & S_IFMT) == 0) return Bad(EINVAL, "MODE: missing file type");
  if (!IsKnownFileType(m)) return Bad(EINVAL, "MODE: unknown file type");
  return m;
}

Status ParseMtime(std::string_view field, InodeSpec* spec) {
  bool negative = !field.empty() && field.front() == '-';
  if (negative) field.remove_prefix(1);
  size_t dot = field.find('.');
  if (dot == std::string_view::npos) {
    return Bad(EINVAL, "MTIME: expected SECONDS.NANOSECONDS");
  }
  Result<uint64_t> sec =
      ParseDumpDecimal(field.substr(0, dot), uint64_t{INT64_MAX});
  if (!sec.ok()) return FieldError(kFieldMtime, sec.status());
  Result<uint64_t> nsec = ParseDumpDecimal(field.substr(dot + 1), 999999999);
  if (!nsec.ok()) return FieldError(kFieldMtime, nsec.status());
  spec->mtime_sec =
      negative ? -static_cast<int64_t>(*sec) : static_cast<int64_t>(*sec);
  spec->mtime_nsec = static_cast<uint32_t>(*nsec);
  return Status();
}

Status ParseXattr(std::string_view field, std::vector<Xattr>* out,
                  std::set<std::string, std::less<>>* seen) {
  // '=' inside a key is always escaped, so the first literal one splits.
  size_t eq = field.find('=');
  if (eq == std::string_view::npos) return Bad(EINVAL, "xattr without '='");
  Result<std::string> key = DumpUnescape(field.substr(0, eq));
  if (!key.ok()) return key.status().WithPrefix("xattr key");
  if (key->empty()) return Bad(EINVAL, "xattr key is empty");
  if (key->size() > kMaxXattrNameLen) {
    return Bad(EINVAL, "xattr key longer than " +
                           std::to_string(kMaxXattrNameLen) + " bytes");
  }
  if (key->find('\0') != std::string::npos) {
    return Bad(EINVAL, "xattr key contains NUL");
  }
  std::string shown;
  AppendDumpEscaped(&shown, *key, DumpEscape::kEqual);
  Result<std::string> value = DumpUnescape(field.substr(eq + 1));
  if (!value.ok()) return value.status().WithPrefix("xattr " + shown);
  if (value->size() > kMaxXattrValueLen) {
    return Bad(EINVAL, "xattr " + shown + ": value longer than " +
                           std::to_string(kMaxXattrValueLen) + " bytes");
  }
  if (!seen->insert(*key).second) {
    return Bad(EEXIST, "xattr " + shown + " given twice");
  }
  out->push_back(Xattr{std::move(*key), std::move(*value)});
  return Status();
}

}  // namespace

Result<NodeId> DumpParser::LookupPath(std::string_view path) const {
  NodeId node = ImageTree::kRoot;
  size_t pos = 1;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    SEALFS_ASSIGN_OR_RETURN(node,
                            tree_->Lookup(node, path.substr(pos, slash - pos)));
    pos = slash + 1;
  }
  return node;
}

Status DumpParser::AddLine(std::string_view line) {
  ++line_no_;
  Status s = ParseLine(line);
  if (!s.ok()) {
    return Status::FromErrno(
        s.err(), "line " + std::to_string(line_no_) + ": " + s.context());
  }
  return s;
}

Status DumpParser::ParseLine(std::string_view line) {
  if (line.empty()) return Bad(EINVAL, "empty line");
  std::vector<std::string_view> f = SplitFields(line);
  // composefs reads a line that stops after MTIME as if PAYLOAD, CONTENT
  // and DIGEST were "-": nothing that would be verified is missing.
  if (f.size() > kFieldMtime && f.size() < kDumpFixedFields) {
    f.resize(kDumpFixedFields, "-");
  }
  if (f.size() < kDumpFixedFields) {
    return Bad(EINVAL, "expected at least " + std::to_string(kDumpFixedFields) +
                           " fields, got " + std::to_string(f.size()));
  }
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i].empty()) {
      return Bad(EINVAL, std::string("empty ") + DumpFieldName(i) +
                             " field (two spaces in a row or a trailing "
                             "space)");
    }
  }

  Result<std::string> path = DumpUnescape(f[kFieldPath]);
  if (!path.ok()) return FieldError(kFieldPath, path.status());
  SEALFS_RETURN_IF_ERROR(CheckPath(*path, "path"));
  const bool is_root = *path == "/";
  if (!tree_.has_value() && !is_root) {
    return Bad(EINVAL, "the first line must be the root directory \"/\"");
  }
  if (tree_.has_value() && is_root) return Bad(EEXIST, "duplicate path /");

  bool hard_link = f[kFieldMode].front() == '@';
  if (hard_link) f[kFieldMode].remove_prefix(1);
  SEALFS_ASSIGN_OR_RETURN(uint32_t mode, ParseMode(f[kFieldMode]));

  NodeId parent = ImageTree::kRoot;
  std::string_view name;
  if (!is_root) {
    auto [parent_path, base] = SplitParent(*path);
    name = base;
    Result<NodeId> p = LookupPath(parent_path);
    if (!p.ok()) {
      if (p.status().err() == ENOTDIR) {
        return Bad(ENOTDIR, "parent of " + *path + " is not a directory");
      }
      return Bad(ENOENT, "parent directory of " + *path +
                             " is not defined on an earlier line");
    }
    if (!S_ISDIR(tree_->inode(*p).mode)) {
      return Bad(ENOTDIR, "parent of " + *path + " is not a directory");
    }
    if (tree_->Lookup(*p, name).ok()) {
      return Bad(EEXIST, "duplicate path " + *path);
    }
    parent = *p;
  }

  if (hard_link) {
    // As mkcomposefs does, only PAYLOAD (the target) counts on a hard-link
    // line; the other fields repeat the target's and are ignored.
    if (is_root) return Bad(EINVAL, "the root cannot be a hard link");
    if (S_ISDIR(mode)) return Bad(EPERM, "hard link to a directory");
    SEALFS_ASSIGN_OR_RETURN(std::optional<std::string> target,
                            Optional(f[kFieldPayload], kFieldPayload));
    if (!target.has_value()) {
      return Bad(EINVAL, "hard link without a target in PAYLOAD");
    }
    SEALFS_RETURN_IF_ERROR(CheckPath(*target, "hard link target"));
    if (*target == *path) return Bad(EINVAL, "hard link to itself");
    Result<NodeId> t = LookupPath(*target);
    if (!t.ok()) {
      return Bad(ENOENT, "hard link target " + *target +
                             " is not defined on an earlier line");
    }
    if (S_ISDIR(tree_->inode(*t).mode)) {
      return Bad(EPERM, "hard link to a directory");
    }
    return tree_->Link(parent, std::string(name), *t);
  }

  InodeSpec spec;
  DumpStoredFile pending;  // what the builder must store for this file
  spec.mode = mode;
  Result<uint64_t> size = ParseDumpDecimal(f[kFieldSize], UINT64_MAX);
  if (!size.ok()) return FieldError(kFieldSize, size.status());
  // NLINK is recomputed from the tree; it still has to be a number.
  Result<uint64_t> nlink = ParseDumpDecimal(f[kFieldNlink], UINT32_MAX);
  if (!nlink.ok()) return FieldError(kFieldNlink, nlink.status());
  Result<uint64_t> uid = ParseDumpDecimal(f[kFieldUid], UINT32_MAX);
  if (!uid.ok()) return FieldError(kFieldUid, uid.status());
  Result<uint64_t> gid = ParseDumpDecimal(f[kFieldGid], UINT32_MAX);
  if (!gid.ok()) return FieldError(kFieldGid, gid.status());
  Result<uint64_t> rdev = ParseDumpDecimal(f[kFieldRdev], UINT64_MAX);
  if (!rdev.ok()) return FieldError(kFieldRdev, rdev.status());
  spec.uid = static_cast<uint32_t>(*uid);
  spec.gid = static_cast<uint32_t>(*gid);
  SEALFS_RETURN_IF_ERROR(ParseMtime(f[kFieldMtime], &spec));
  SEALFS_ASSIGN_OR_RETURN(std::optional<std::string> payload,
                          Optional(f[kFieldPayload], kFieldPayload));
  SEALFS_ASSIGN_OR_RETURN(std::optional<std::string> content,
                          Optional(f[kFieldContent], kFieldContent));
  std::optional<Digest> digest;
  if (f[kFieldDigest] != "-") {
    Result<Digest> d = Digest::Parse(f[kFieldDigest]);
    if (!d.ok() || f[kFieldDigest].size() != 2 * kDigestSize) {
      return Bad(EINVAL, "DIGEST: expected 64 hex digits");
    }
    digest = *d;
  }

  const char* type = TypeName(mode);
  if (!S_ISREG(mode)) {
    if (content.has_value()) {
      return Bad(EINVAL, std::string("CONTENT on a ") + type);
    }
    if (digest.has_value()) {
      return Bad(EINVAL, std::string("DIGEST on a ") + type);
    }
    if (payload.has_value() && !S_ISLNK(mode)) {
      return Bad(EINVAL, std::string("PAYLOAD on a ") + type);
    }
  }
  switch (mode & S_IFMT) {
    case S_IFREG: {
      spec.size = *size;
      if (content.has_value()) {
        if (content->size() > kMaxDumpContent) {
          return Bad(EINVAL, "CONTENT longer than composefs's limit of " +
                                 std::to_string(kMaxDumpContent) + " bytes");
        }
        if (content->size() != *size) {
          return Bad(EINVAL, "CONTENT has " + std::to_string(content->size()) +
                                 " bytes but SIZE is " + std::to_string(*size));
        }
        if (digest.has_value()) {
          std::span<const uint8_t> bytes(
              reinterpret_cast<const uint8_t*>(content->data()),
              content->size());
          if (ComputeMerkleTree(bytes).digest != *digest) {
            return Bad(kErrDigest, "CONTENT does not match DIGEST");
          }
        }
      }
      if (payload.has_value()) {
        if (!digest.has_value()) {
          if (!options_.payload_without_digest) {
            return Bad(EINVAL,
                       "PAYLOAD without DIGEST: the content cannot be "
                       "verified (--basedir DIR computes it from "
                       "DIR/PAYLOAD)");
          }
          if (payload->empty() || payload->find('\0') != std::string::npos) {
            return Bad(EINVAL, "PAYLOAD is empty or contains NUL");
          }
          // CONTENT, if given, is the file; an empty file needs nothing.
          if (!content.has_value() && *size != 0) pending.payload = *payload;
        } else if (*payload != DigestPayload(*digest)) {
          return Bad(EINVAL,
                     "PAYLOAD does not name the object of DIGEST (expected " +
                         DigestPayload(*digest) + ")");
        }
      }
      if (content.has_value() && content->size() > kMaxInlineSize) {
        // Too long to inline: the dump carries the bytes, so they are
        // stored as an object, under the digest they have.
        // (A DIGEST given was checked against CONTENT above.)
        spec.digest = ComputeMerkleTree(
                          {reinterpret_cast<const uint8_t*>(content->data()),
                           content->size()})
                          .digest;
        pending.content = std::move(*content);
      } else if (content.has_value()) {
        if (*size != 0) spec.inline_data = std::move(*content);
      } else if (!pending.payload.empty()) {
        // The digest is the builder's to compute from the payload.
      } else if (digest.has_value()) {
        spec.digest = digest;
      } else if (*size != 0) {
        return Bad(EINVAL, "regular file of " + std::to_string(*size) +
                               " bytes has neither CONTENT nor DIGEST");
      }
      break;
    }
    case S_IFLNK:
      if (!payload.has_value() || payload->empty()) {
        return Bad(EINVAL, "symlink target (PAYLOAD) is empty");
      }
      if (payload->size() >= kPathMax || payload->size() > kMaxSymlinkLen) {
        return Bad(ENAMETOOLONG, "symlink target longer than " +
                                     std::to_string(kMaxSymlinkLen) + " bytes");
      }
      if (payload->find('\0') != std::string::npos) {
        return Bad(EINVAL, "symlink target contains NUL");
      }
      spec.symlink_target = std::move(*payload);
      break;
    case S_IFCHR:
    case S_IFBLK:
      spec.rdev_major = gnu_dev_major(*rdev);
      spec.rdev_minor = gnu_dev_minor(*rdev);
      break;
    default:
      // Directories, fifos and sockets: SIZE and RDEV carry nothing sealfs
      // records (composefs writes a directory's st_size there).
      break;
  }

  std::set<std::string, std::less<>> seen;
  for (size_t i = kDumpFixedFields; i < f.size(); ++i) {
    SEALFS_RETURN_IF_ERROR(ParseXattr(f[i], &spec.xattrs, &seen));
  }

  if (is_root) {
    if (!S_ISDIR(mode)) return Bad(EINVAL, "the root must be a directory");
    tree_.emplace(std::move(spec));
    return Status();
  }
  const bool stored = spec.digest.has_value() || !pending.payload.empty();
  if (spec.digest.has_value()) pending.digest = *spec.digest;
  pending.size = spec.size;
  NodeId id = tree_->AddInode(std::move(spec));
  SEALFS_RETURN_IF_ERROR(tree_->Link(parent, std::string(name), id));
  if (stored) {
    pending.path = *path;
    pending.node = id;
    stored_.push_back(std::move(pending));
  }
  return Status();
}

Result<ParsedDump> DumpParser::Finish() && {
  if (!tree_.has_value()) {
    return Status::FromErrno(EINVAL, "empty dump: no root line");
  }
  return ParsedDump{std::move(*tree_), std::move(stored_), line_no_};
}

Result<ParsedDump> ParseDump(std::string_view text, DumpParseOptions options) {
  DumpParser parser(options);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    SEALFS_RETURN_IF_ERROR(parser.AddLine(text.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  return std::move(parser).Finish();
}

Result<ParsedDump> ParseDumpFd(int fd, const std::string& name,
                               DumpParseOptions options) {
  DumpParser parser(options);
  std::string pending;  // an incomplete line carried over between reads
  std::array<char, 1 << 16> buf;
  uint64_t line_no = 0;
  while (true) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(name.empty() ? "read" : "read " + name);
    }
    if (n == 0) break;
    std::string_view chunk(buf.data(), static_cast<size_t>(n));
    while (!chunk.empty()) {
      size_t nl = chunk.find('\n');
      if (nl == std::string_view::npos) {
        if (pending.size() + chunk.size() > kMaxDumpLineLen) {
          return Status::FromErrno(
              EINVAL, "line " + std::to_string(line_no + 1) + ": longer than " +
                          std::to_string(kMaxDumpLineLen) + " bytes");
        }
        pending.append(chunk);
        break;
      }
      if (pending.size() + nl > kMaxDumpLineLen) {
        return Status::FromErrno(
            EINVAL, "line " + std::to_string(line_no + 1) + ": longer than " +
                        std::to_string(kMaxDumpLineLen) + " bytes");
      }
      ++line_no;
      if (pending.empty()) {
        SEALFS_RETURN_IF_ERROR(parser.AddLine(chunk.substr(0, nl)));
      } else {
        pending.append(chunk.substr(0, nl));
        SEALFS_RETURN_IF_ERROR(parser.AddLine(pending));
        pending.clear();
      }
      chunk.remove_prefix(nl + 1);
    }
  }
  if (!pending.empty()) SEALFS_RETURN_IF_ERROR(parser.AddLine(pending));
  return std::move(parser).Finish();
}

}  // namespace sealfs::mkfs
