// SPDX-License-Identifier: Apache-2.0
// BuildImage: walker -> hasher -> StoreWriter::Commit -> manifest -> image.
#include "fs/mkfs/mkfs.h"

#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "fs/mkfs/hasher.h"
#include "fs/mkfs/walker.h"
#include "fs/store/tags.h"
#include "fs/util/io.h"
#include "fs/util/progress.h"
#include "sealfs/format.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/manifest_writer.h"
#include "sealfs/signature.h"
#include "sealfs/store.h"

namespace sealfs::mkfs {

Status CheckMkfsOptions(const MkfsOptions& options) {
  if (options.inline_max > kMaxInlineSize) {
    return Status::FromErrno(EINVAL, "inline size " +
                                         std::to_string(options.inline_max) +
                                         " exceeds " +
                                         std::to_string(kMaxInlineSize));
  }
  if (options.threads < 1) {
    return Status::FromErrno(EINVAL, "threads must be at least 1");
  }
  for (const std::string& tag : options.tags) {
    SEALFS_RETURN_IF_ERROR(store::CheckTagName(tag));
  }
  return Status();
}

Result<std::shared_ptr<Store>> OpenStore(const std::string& path) {
  // Store::Open creates the store directory itself; its parents (e.g.
  // /var/lib/sealfs) are made here.
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) return Status::FromErrno(ec.value(), parent.string());
  }
  Result<std::shared_ptr<Store>> store = Store::Open(path, Store::Mode::kCreate);
  if (!store.ok()) return store.status().WithPrefix("store " + path);
  return store;
}

Result<MkfsReport> BuildImage(const MkfsOptions& options) {
  SEALFS_RETURN_IF_ERROR(CheckMkfsOptions(options));
  SEALFS_ASSIGN_OR_RETURN(std::optional<SigningKey> key,
                          PrepareImageOutput(options));

  WalkOptions walk_options;
  walk_options.inline_max = options.inline_max;
  SEALFS_ASSIGN_OR_RETURN(WalkResult walked,
                          WalkTree(options.source, walk_options));

  SEALFS_ASSIGN_OR_RETURN(std::shared_ptr<Store> store,
                          OpenStore(options.store));
  StoreWriter writer(store);
  MkfsReport report;
  report.inodes = walked.inode_count;
  report.files = walked.files.size();
  for (const FileJob& job : walked.files) report.file_bytes += job.size;
  {
    std::unique_ptr<Progress> progress;
    if (options.progress) {
      progress = std::make_unique<Progress>("hashing", report.file_bytes,
                                            Progress::Unit::kBytes);
    }
    HashOptions hash_options;
    hash_options.threads = options.threads;
    hash_options.progress = progress.get();
    hash_options.source = options.source;
    while (hash_options.source.size() > 1 && hash_options.source.back() == '/') {
      hash_options.source.pop_back();
    }
    SEALFS_ASSIGN_OR_RETURN(
        std::vector<HashedFile> hashed,
        HashFiles(walked.root_fd.get(), walked.files, writer, hash_options));
    for (const HashedFile& h : hashed) {
      walked.tree.inode(h.node).digest = h.digest;
    }
  }
  // Every object is durable before the image that names them exists.
  SEALFS_RETURN_IF_ERROR(writer.Commit().WithPrefix("store " + options.store));
  report.objects_written = writer.objects_written();
  report.bytes_written = writer.bytes_written();

  SEALFS_RETURN_IF_ERROR(WriteImage(walked.tree, options, key, &report));
  // Tagged while `writer` still holds the store lock.
  SEALFS_RETURN_IF_ERROR(TagImage(*store, options, report));
  return report;
}

Status TagImage(const Store& store, const MkfsOptions& options,
                const MkfsReport& report) {
  if (options.tags.empty()) return {};
  // The tag gets the bytes just written, read back and checked to be that
  // image.
  SEALFS_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes,
                          ReadFileBytes(options.image));
  SEALFS_ASSIGN_OR_RETURN(std::shared_ptr<const Manifest> written,
                          store::ParseImage(bytes));
  if (written->identity() != report.identity) {
    return Status::FromErrno(EAGAIN,
                             options.image + ": replaced while being tagged");
  }
  for (const std::string& tag : options.tags) {
    SEALFS_RETURN_IF_ERROR(
        store::WriteTag(store, tag, bytes).WithPrefix("store " + options.store));
  }
  return {};
}

Result<std::optional<SigningKey>> PrepareImageOutput(
    const MkfsOptions& options) {
  if (!options.force) {
    struct stat st;
    if (lstat(options.image.c_str(), &st) == 0) {
      return Status::FromErrno(EEXIST,
                               options.image + ": exists (use --force)");
    }
    if (errno != ENOENT) return ErrnoStatus(options.image);
  }
  std::optional<SigningKey> key;
  if (!options.key_path.empty()) {
    Result<SigningKey> loaded = SigningKey::Load(options.key_path);
    if (!loaded.ok()) return loaded.status().WithPrefix(options.key_path);
    key.emplace(std::move(*loaded));
  }
  return key;
}

Status WriteImage(const ImageTree& tree, const MkfsOptions& options,
                  const std::optional<SigningKey>& key, MkfsReport* report,
                  const std::optional<std::string>& oci_config) {
  WriteOptions write_options;
  write_options.clamp_mtime_sec = options.epoch;
  write_options.oci_config = oci_config;
  SEALFS_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes,
                          WriteManifest(tree, write_options));
  // Read back what was written: never publish an image the reader refuses.
  Result<std::shared_ptr<const Manifest>> check = Manifest::FromBytes(bytes);
  if (!check.ok()) return check.status().WithPrefix("manifest self-check");
  report->identity = (*check)->identity();
  if (key.has_value()) {
    Signature sig{key->public_key(), key->Sign(report->identity)};
    std::vector<uint8_t> block = EncodeSignatureBlock({&sig, 1});
    bytes.insert(bytes.end(), block.begin(), block.end());
  }
  report->image_bytes = bytes.size();
  return WriteFileAtomic(options.image, bytes, 0644, !options.force)
      .WithPrefix(options.image);
}

}  // namespace sealfs::mkfs
