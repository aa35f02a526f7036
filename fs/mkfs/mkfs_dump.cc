// SPDX-License-Identifier: Apache-2.0
// BuildImageFromDump: parse -> check the store -> the shared WriteImage tail.
#include "fs/mkfs/mkfs_dump.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <memory>
#include <optional>
#include <unordered_map>

#include "fs/core/store_io.h"
#include "fs/mkfs/dump_parser.h"
#include "fs/mkfs/mkfs.h"
#include "sealfs/store.h"
#include "sealfs/unique_fd.h"

namespace sealfs::mkfs {
namespace {

Result<ParsedDump> ReadDump(const std::string& path, DumpParseOptions options) {
  if (path == "-") {
    Result<ParsedDump> parsed = ParseDumpFd(0, "standard input", options);
    if (!parsed.ok()) return parsed.status().WithPrefix("standard input");
    return parsed;
  }
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(path);
  Result<ParsedDump> parsed = ParseDumpFd(fd.get(), path, options);
  if (!parsed.ok()) return parsed.status().WithPrefix(path);
  return parsed;
}

// Checks that every stored file's object is present with the right size.
// Returns the number of distinct objects missing (only with allow_missing).
Result<uint64_t> CheckObjects(const ParsedDump& dump,
                              const DumpMkfsOptions& options) {
  if (dump.stored.empty()) return uint64_t{0};
  const std::string& store_path = options.output.store;
  Result<std::shared_ptr<Store>> store =
      Store::Open(store_path, Store::Mode::kReadOnly);
  // A store that does not exist holds no object: report the first file.
  if (!store.ok() && store.status().err() != ENOENT) {
    return store.status().WithPrefix("store " + store_path);
  }
  // Size of each digest seen: one digest names one content, so one size.
  std::unordered_map<Digest, uint64_t, DigestHash> seen;
  uint64_t missing = 0;
  for (const DumpStoredFile& f : dump.stored) {
    auto [it, first] = seen.emplace(f.digest, f.size);
    if (!first) {
      if (it->second != f.size) {
        return Status::FromErrno(
            EINVAL, f.path + ": SIZE is " + std::to_string(f.size) +
                        " but an earlier file with DIGEST " + f.digest.Hex() +
                        " has SIZE " + std::to_string(it->second));
      }
      continue;
    }
    Result<UniqueFd> obj = store.ok() ? (*store)->OpenObject(f.digest)
                                      : Result<UniqueFd>(store.status());
    if (!obj.ok()) {
      if (obj.status().err() == ENOENT) {
        if (options.allow_missing) {
          ++missing;
          continue;
        }
        return Status::FromErrno(ENOENT,
                                 f.path + ": object " + f.digest.ToString() +
                                     " is not in store " + store_path +
                                     " (add it first, or use --allow-missing)");
      }
      return obj.status().WithPrefix(f.path + ": object " +
                                     f.digest.ToString());
    }
    struct stat st;
    if (fstat(obj->get(), &st) != 0) {
      return ErrnoStatus(f.path + ": object " + f.digest.ToString());
    }
    if (static_cast<uint64_t>(st.st_size) != f.size) {
      return Status::FromErrno(
          EINVAL, f.path + ": SIZE is " + std::to_string(f.size) +
                      " but object " + f.digest.ToString() + " has " +
                      std::to_string(st.st_size) + " bytes");
    }
  }
  return missing;
}

// Adds to the store what the dump carries or points at: long CONTENT, and
// PAYLOAD files under options.basedir, whose digests it sets in the tree.
Status StoreDumpContent(ParsedDump& dump, const DumpMkfsOptions& options,
                        StoreWriter& writer) {
  UniqueFd base;
  for (DumpStoredFile& f : dump.stored) {
    if (!f.content.empty()) {
      std::span<const uint8_t> bytes(
          reinterpret_cast<const uint8_t*>(f.content.data()), f.content.size());
      SEALFS_RETURN_IF_ERROR(
          writer.AddFromBytes(bytes, ComputeMerkleTree(bytes))
              .WithPrefix(f.path));
      f.content = std::string();
      continue;
    }
    if (f.payload.empty()) continue;
    const std::string what = f.path + ": payload " + f.payload;
    if (!base.valid()) {
      base = UniqueFd(
          open(options.basedir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!base.valid()) return ErrnoStatus("--basedir " + options.basedir);
    }
    // composefs joins BASEDIR and PAYLOAD; a leading '/' is part of neither.
    std::string_view rel = f.payload;
    while (rel.starts_with('/')) rel.remove_prefix(1);
    Result<UniqueFd> fd =
        OpenBeneath(base.get(), std::string(rel), O_RDONLY | O_CLOEXEC);
    if (!fd.ok()) return fd.status().WithPrefix(what);
    struct stat st;
    if (fstat(fd->get(), &st) != 0) return ErrnoStatus(what);
    SEALFS_RETURN_IF_ERROR(CheckRegular(st, what));
    if (static_cast<uint64_t>(st.st_size) != f.size) {
      return Status::FromErrno(
          EINVAL, what + " has " + std::to_string(st.st_size) +
                      " bytes but SIZE is " + std::to_string(f.size));
    }
    Result<MerkleTree> tree = ComputeMerkleTree(fd->get());
    if (!tree.ok()) return tree.status().WithPrefix(what);
    if (tree->data_size != f.size) {
      return Status::FromErrno(EINVAL, what + " changed while being read");
    }
    SEALFS_RETURN_IF_ERROR(writer.AddFromFd(fd->get(), *tree).WithPrefix(what));
    f.digest = tree->digest;
    dump.tree.inode(f.node).digest = tree->digest;
    f.payload = std::string();
  }
  return {};
}

}  // namespace

Result<DumpMkfsReport> BuildImageFromDump(const DumpMkfsOptions& options) {
  SEALFS_ASSIGN_OR_RETURN(std::optional<SigningKey> key,
                          PrepareImageOutput(options.output));
  DumpParseOptions parse_options;
  parse_options.payload_without_digest = !options.basedir.empty();
  SEALFS_ASSIGN_OR_RETURN(ParsedDump dump,
                          ReadDump(options.dump_path, parse_options));
  DumpMkfsReport report;
  // Only a dump that carries or points at content writes to the store (and
  // so takes its lock); the writer lives until the image is written.
  std::unique_ptr<StoreWriter> writer;
  for (const DumpStoredFile& f : dump.stored) {
    if (f.content.empty() && f.payload.empty()) continue;
    SEALFS_ASSIGN_OR_RETURN(std::shared_ptr<Store> store,
                            OpenStore(options.output.store));
    writer = std::make_unique<StoreWriter>(store);
    SEALFS_RETURN_IF_ERROR(StoreDumpContent(dump, options, *writer));
    SEALFS_RETURN_IF_ERROR(writer->Commit());
    report.objects_written = writer->objects_written();
    report.bytes_written = writer->bytes_written();
    break;
  }
  SEALFS_ASSIGN_OR_RETURN(report.objects_missing, CheckObjects(dump, options));
  report.inodes = dump.tree.node_count();
  report.files = dump.stored.size();
  for (const DumpStoredFile& f : dump.stored) report.file_bytes += f.size;
  SEALFS_RETURN_IF_ERROR(WriteImage(dump.tree, options.output, key, &report));
  return report;
}

}  // namespace sealfs::mkfs
