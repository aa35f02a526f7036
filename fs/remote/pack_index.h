// SPDX-License-Identifier: Apache-2.0
// Pack indexes (docs/FORMAT.md#registry): where each object, and its tree,
// lies in a pack blob. Encoding for push; decoding, which treats the bytes
// as hostile, for pull and lazy mounts. Reentrant.
#ifndef SEALFS_FS_REMOTE_PACK_INDEX_H_
#define SEALFS_FS_REMOTE_PACK_INDEX_H_

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "sealfs/digest.h"
#include "sealfs/status.h"

namespace sealfs::remote {

struct PackEntry {
  Digest digest;
  uint64_t offset = 0;  // of the data in the pack
  uint64_t size = 0;
  std::optional<uint64_t> tree_offset;  // none for objects of <= 1 block
};

struct PackIndex {
  Digest pack_digest;  // SHA-256 of the pack blob (raw bytes)
  uint64_t pack_size = 0;
  std::vector<PackEntry> entries;  // sorted by digest, unique

  // The entry for `digest`, or null.
  const PackEntry* Find(const Digest& digest) const;
};

// The index blob for `index`. REQUIRES: entries sorted by digest, unique,
// inside the pack.
std::vector<uint8_t> EncodePackIndex(const PackIndex& index);

// Parses an index blob. kErrCorrupt, naming the failed check, for anything
// docs/FORMAT.md#registry says a reader must refuse.
Result<PackIndex> DecodePackIndex(std::span<const uint8_t> bytes);

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_PACK_INDEX_H_
