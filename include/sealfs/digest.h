// SPDX-License-Identifier: Apache-2.0
// fs-verity digests and Merkle trees (SHA-256, 4096-byte blocks, no salt):
// computing them, and verifying single blocks of untrusted data against a
// trusted digest. Byte-for-byte what the kernel and `fsverity digest` do.
#ifndef SEALFS_INCLUDE_SEALFS_DIGEST_H_
#define SEALFS_INCLUDE_SEALFS_DIGEST_H_

#include <array>
#include <atomic>
#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sealfs/format.h"
#include "sealfs/status.h"

namespace sealfs {

// A raw 32-byte SHA-256 fs-verity digest. Thread-compatible value type.
struct Digest {
  std::array<uint8_t, kDigestSize> bytes{};

  // 64 lowercase hex digits.
  std::string Hex() const;
  // "sha256:<64 hex>", as `fsverity digest` prints it.
  std::string ToString() const { return "sha256:" + Hex(); }
  // Parses 64 hex digits, optionally prefixed by "sha256:". EINVAL otherwise.
  static Result<Digest> Parse(std::string_view text);

  auto operator<=>(const Digest&) const = default;
};

struct DigestHash {
  size_t operator()(const Digest& d) const noexcept;
};

// Plain SHA-256 of `data` (OpenSSL's low-level functions; see digest.cc).
Digest Sha256(std::span<const uint8_t> data);

// Plain SHA-256 of bytes fed in pieces (an OCI blob's digest).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(std::span<const uint8_t> data);
  // The digest of everything fed; the stream is then spent.
  Digest Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// How Sha256Blocks may hash.
enum class BlockHashing {
  // Several blocks at once where the CPU allows (multi-buffer SHA-256),
  // once the process has hashed enough to repay setting that up (a few ms;
  // see sha256_blocks.cc). What makes verification cheap.
  kFastest,
  // One block at a time, never setting anything up: for a caller whose data
  // arrives no faster than that hashes it anyway (IdentityHasher, behind a
  // read), where set-up time would be all loss. Not counted towards kFastest's
  // threshold.
  kOneAtATime,
};

// Sha256() of each of the data.size() / kBlockSize whole blocks of `data`,
// into out[0], out[1], ....
// REQUIRES: data.size() is a multiple of kBlockSize.
void Sha256Blocks(std::span<const uint8_t> data, Digest* out,
                  BlockHashing how = BlockHashing::kFastest);

// SHA-256 of a data block zero-padded to kBlockSize, as fs-verity hashes it.
// REQUIRES: data.size() <= kBlockSize.
Digest HashDataBlock(std::span<const uint8_t> data);

// HashDataBlock of each block of `data` into out[0], out[1], ...: whole
// blocks, the last of which may be short. Whole blocks go through
// Sha256Blocks.
void HashDataBlocks(std::span<const uint8_t> data, Digest* out,
                    BlockHashing how = BlockHashing::kFastest);

// Where each tree level lives for a file of a given size. Level 0 hashes the
// data blocks; the top level is one block. Files of at most one block have no
// tree (levels == 0). In the tree file, the top level comes first.
struct TreeGeometry {
  uint64_t data_size = 0;
  uint64_t data_blocks = 0;  // ceil(data_size / kBlockSize)
  int levels = 0;            // tree levels; 0 for data_size <= kBlockSize
  // level_blocks[l]: tree blocks in level l (0 = leaf level).
  std::array<uint64_t, 8> level_blocks{};
  // level_start[l]: index of level l's first block within the tree file.
  std::array<uint64_t, 8> level_start{};
  uint64_t tree_blocks = 0;  // total blocks in the tree file

  static TreeGeometry For(uint64_t data_size);
  uint64_t tree_bytes() const { return tree_blocks * kBlockSize; }
};

// A file's digest together with its tree, in the layout of the tree file.
struct MerkleTree {
  Digest digest;
  uint64_t data_size = 0;
  std::vector<uint8_t> tree;  // TreeGeometry::For(data_size).tree_bytes()
};

// Computes the digest and tree of a stream of bytes, fed in any chunk sizes.
// Memory: the tree (data_size / 128) plus one block per level.
class MerkleBuilder {
 public:
  explicit MerkleBuilder(BlockHashing how = BlockHashing::kFastest);
  ~MerkleBuilder();
  MerkleBuilder(const MerkleBuilder&) = delete;
  MerkleBuilder& operator=(const MerkleBuilder&) = delete;

  void Update(std::span<const uint8_t> data);
  // Returns the result and resets the builder for another file.
  MerkleTree Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Digest and tree of a whole buffer, or of a file read from `fd` at offset 0
// to EOF (pread; the fd offset is unchanged). Fails only on read errors.
MerkleTree ComputeMerkleTree(std::span<const uint8_t> data);
Result<MerkleTree> ComputeMerkleTree(int fd);

// The digest `fsverity digest` prints for a file of `data_size` bytes whose
// top-level hash is `root_hash` (all zero for an empty file).
Digest DigestFromRoot(uint64_t data_size, const Digest& root_hash);

// The same for a file whose data blocks, each zero-padded to kBlockSize,
// hash to `leaves`: for callers that hash the blocks themselves, in any
// order or on several threads. REQUIRES: one leaf per data block.
Digest DigestFromLeaves(uint64_t data_size, std::span<const Digest> leaves,
                        BlockHashing how = BlockHashing::kFastest);

// Reads consecutive tree blocks from block `index` (0-based, in tree file
// order) into `out`, a non-zero multiple of kBlockSize bytes. A block past
// the tree's end is EINVAL; a short or failed read is an error (kErrCorrupt
// or errno). BlockVerifier may call it from several threads at once (pread
// is fine).
using TreeBlockReader =
    std::function<Status(uint64_t index, std::span<uint8_t> out)>;

// True if `out_bytes` is a non-zero multiple of kBlockSize and that many
// blocks from `index` lie within a tree of `tree_blocks` blocks.
inline bool TreeBlocksInRange(uint64_t index, size_t out_bytes,
                              uint64_t tree_blocks) {
  return out_bytes != 0 && out_bytes % kBlockSize == 0 && index < tree_blocks &&
         out_bytes / kBlockSize <= tree_blocks - index;
}

// Checks blocks of a file's data against its trusted digest, reading the
// untrusted tree through `read_tree`. Each tree block is hashed and checked
// against its parent once, then kept in a private cache, so later checks cost
// one data-block hash plus cached lookups, and the tree source changing later
// cannot affect what was verified. Thread-safe: VerifyBlock may be called
// concurrently. Memory: at most the tree's size, touched lazily.
class BlockVerifier {
 public:
  BlockVerifier(const Digest& digest, uint64_t data_size,
                TreeBlockReader read_tree);
  ~BlockVerifier();
  BlockVerifier(const BlockVerifier&) = delete;
  BlockVerifier& operator=(const BlockVerifier&) = delete;

  // Verifies data block `index`. `data` is the block's bytes as read: exactly
  // min(kBlockSize, data_size - index * kBlockSize) bytes. Returns OK only if
  // they are the file's true bytes; kErrDigest if the data or the tree does
  // not match the digest; kErrCorrupt or an errno if the tree cannot be read;
  // EINVAL for an index or length out of range.
  Status VerifyBlock(uint64_t index, std::span<const uint8_t> data);
  // VerifyBlock for consecutive blocks from `first`, hashed several at a
  // time: `data` holds whole blocks, the last of which may be the file's
  // short tail. Fails at the first bad block, naming it.
  Status VerifyBlocks(uint64_t first, std::span<const uint8_t> data);

  // Verifies a whole object of at most one tree block (kHashesPerBlock data
  // blocks) from its bytes alone: builds that tree block from the data and
  // checks it against the digest. On success the block is cached, so later
  // VerifyBlock calls need no tree reader. Same errors as VerifyBlock;
  // EINVAL if `data` is not the whole object or the object is larger.
  Status VerifyObject(std::span<const uint8_t> data);
  // True once the top tree block is cached (or the object needs no tree):
  // VerifyBlock then reads the tree only below the top level.
  bool HasTopBlock() const;

  uint64_t data_size() const { return geometry_.data_size; }
  const Digest& digest() const { return digest_; }

 private:
  struct Cache;
  // EINVAL unless `len` is the length of block `index` of this file.
  Status CheckLength(uint64_t index, size_t len) const;
  // Checks a data block's hash against the tree (reading and verifying the
  // tree blocks on its path that are not cached yet).
  Status CheckHash(uint64_t index, const Digest& data_hash);
  // Reads tree block `tree_index`, child `child` of a verified block of the
  // level above (level `level` + 1) holding its hash at `expected`, checks
  // it and caches it, with some of its siblings when reading in order.
  Status FetchTreeBlocks(int level, uint64_t tree_index, uint64_t child,
                         const uint8_t* expected);

  Digest digest_;
  TreeGeometry geometry_;
  TreeBlockReader read_tree_;
  std::unique_ptr<Cache> cache_;
};

}  // namespace sealfs

#endif  // SEALFS_INCLUDE_SEALFS_DIGEST_H_
