// SPDX-License-Identifier: Apache-2.0
// The whole `sealfs mkfs` build: walk the source tree, hash and store every
// file on all cores, commit the store, then write the (optionally signed)
// image atomically. An image never exists before all its objects are durable.
// Thread-safety: BuildImage is reentrant.
#ifndef SEALFS_FS_BUILD_MKFS_H_
#define SEALFS_FS_BUILD_MKFS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "sealfs/digest.h"
#include "sealfs/manifest_writer.h"
#include "sealfs/signature.h"
#include "sealfs/status.h"
#include "sealfs/store.h"

namespace sealfs::build {

struct MkfsOptions {
  std::string source;      // directory to build from
  std::string image;       // image file to write
  std::string store;       // object store directory; created if missing
  std::string key_path;    // PEM Ed25519 private key; empty: unsigned
  std::optional<int64_t> epoch;  // clamp mtimes later than this
  int threads = 1;               // hashing threads, >= 1
  uint32_t inline_max = 64;      // inline files of at most this many bytes
  bool force = false;            // replace an existing image
  bool progress = false;         // progress bar (drawn only on a terminal)
};

struct MkfsReport {
  Digest identity;
  uint64_t inodes = 0;           // distinct inodes, root included
  uint64_t files = 0;            // regular files whose content is in the store
  uint64_t file_bytes = 0;       // their total size
  uint64_t objects_written = 0;  // objects new to the store
  uint64_t bytes_written = 0;    // their bytes
  uint64_t image_bytes = 0;      // size of the image file
};

// Builds `options.image` from `options.source`. EEXIST if the image exists and
// !force (checked before any work); EINVAL for an inline_max over
// kMaxInlineSize or threads < 1; otherwise the first failure, naming its path.
Result<MkfsReport> BuildImage(const MkfsOptions& options);

// The steps every builder (directory, tar, dump) shares, so that all of them
// check, sign and publish an image the same way.
//
// Checks `options` as BuildImage does (EEXIST, EINVAL) and loads the signing
// key, if any: everything that can fail before any work is done.
Result<std::optional<SigningKey>> PrepareBuild(const MkfsOptions& options);
// Opens (creating if needed) the store at `path` and its parents.
Result<std::shared_ptr<Store>> OpenBuildStore(const std::string& path);
// Commits `writer`, serialises `tree`, reads the manifest back, signs it with
// `key` if set and writes options.image atomically. Sets identity,
// objects_written, bytes_written and image_bytes in `report`.
Status FinishImage(const ImageTree& tree, StoreWriter& writer,
                   const std::optional<SigningKey>& key,
                   const MkfsOptions& options, MkfsReport& report);

}  // namespace sealfs::build

#endif  // SEALFS_FS_BUILD_MKFS_H_
