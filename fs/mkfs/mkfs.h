// SPDX-License-Identifier: Apache-2.0
// The whole `sealfs mkfs` build: walk the source tree, hash and store every
// file on all cores, commit the store, then write the (optionally signed)
// image atomically. An image never exists before all its objects are durable.
// Thread-safety: BuildImage is reentrant.
#ifndef SEALFS_FS_MKFS_MKFS_H_
#define SEALFS_FS_MKFS_MKFS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sealfs/digest.h"
#include "sealfs/manifest_writer.h"
#include "sealfs/signature.h"
#include "sealfs/status.h"

namespace sealfs {
class Store;
}  // namespace sealfs

namespace sealfs::mkfs {

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
  std::vector<std::string> tags;  // STORE/images/ names to record it under
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

// Opens the object store at `path` for a build, creating it and its parents
// if missing. Errors are prefixed "store PATH".
Result<std::shared_ptr<Store>> OpenStore(const std::string& path);

// EINVAL for an inline_max over kMaxInlineSize, threads < 1 or a bad tag
// name: what every builder checks before any work.
Status CheckMkfsOptions(const MkfsOptions& options);

// Builds `options.image` from `options.source`. EEXIST if the image exists and
// !force (checked before any work); EINVAL for an inline_max over
// kMaxInlineSize, threads < 1 or a bad tag name; otherwise the first failure,
// naming its path. Each of options.tags is written to STORE/images/ after the
// image, while the build still holds the store lock.
Result<MkfsReport> BuildImage(const MkfsOptions& options);

// The steps every builder (tree, dump, tar) shares around its own work.
// PrepareImageOutput runs before any work: EEXIST if options.image exists
// and !force; loads options.key_path (nullopt when empty). WriteImage runs
// last, once every object the tree names is durable: serialises `tree`
// (mtimes clamped to options.epoch; `oci_config`, if set, kept in the
// manifest), reads it back (never publishes an image the reader refuses),
// signs it with `key` if set, writes options.image atomically, and sets
// report->identity and report->image_bytes.
Result<std::optional<SigningKey>> PrepareImageOutput(
    const MkfsOptions& options);
Status WriteImage(const ImageTree& tree, const MkfsOptions& options,
                  const std::optional<SigningKey>& key, MkfsReport* report,
                  const std::optional<std::string>& oci_config = std::nullopt);
// Records the image just written under each of options.tags in
// STORE/images/. Call it while the build's StoreWriter (and so the store
// lock) is alive: gc then cannot sweep between "objects present" and
// "image is a root". EAGAIN if options.image no longer is that image.
Status TagImage(const Store& store, const MkfsOptions& options,
                const MkfsReport& report);

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_MKFS_H_
