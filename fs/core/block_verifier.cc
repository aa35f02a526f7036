// SPDX-License-Identifier: Apache-2.0
// BlockVerifier: checks data blocks against a trusted fs-verity digest,
// verifying tree blocks top-down and caching each verified one privately.
// Thread-safe; lookups of cached blocks take no lock.
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "sealfs/digest.h"

namespace sealfs {
namespace {

// Cache storage up to this size comes from the heap; larger caches are an
// anonymous mapping, so pages no verified block lands on are never touched.
constexpr uint64_t kHeapCacheLimit = uint64_t{64} * 1024;

constexpr int kBitsPerWord = 64;

// Blocks hashed per Sha256Blocks call in VerifyBlocks.
constexpr uint64_t kBatchBlocks = 64;

// Cache blocks made present at once when tree blocks arrive in order (a
// sequential read): 128 KiB of cache covers 16 MiB of data.
constexpr uint64_t kPopulateBlocks = 32;

// Tree blocks read and hashed together when a sequential reader needs the
// next one (FetchTreeBlocks): 64 KiB of tree covers 8 MiB of data.
constexpr uint64_t kTreeRunBlocks = 16;

// The walk below finds a block's ancestors by shifting by 7 bits per level.
static_assert(kHashesPerBlock == 128);

std::string BlockName(const char* what, uint64_t index) {
  return std::string(what) + " " + std::to_string(index);
}

bool HashMatches(const uint8_t* expected, const Digest& actual) {
  return std::memcmp(expected, actual.bytes.data(), kDigestSize) == 0;
}

}  // namespace

// Verified tree blocks. Block i of the tree file lives at blocks + i *
// kBlockSize and may be read without a lock once bit i of `verified` is set
// (acquire); it is written exactly once, under `mu`, before the bit is set
// (release), and never changes afterwards.
struct BlockVerifier::Cache {
  std::mutex mu;  // guards allocation and inserts; never held during I/O
  // Set (release) once the storage exists and the top block is verified in
  // it; after that, `blocks` and `verified` never change.
  std::atomic<bool> ready{false};
  uint8_t* storage = nullptr;  // blocks, then the bitmap
  size_t storage_bytes = 0;
  bool mapped = false;  // storage came from mmap rather than calloc
  uint64_t tree_blocks = 0;
  uint64_t populated_end = 0;  // PopulateAhead's mark; guarded by mu
  uint8_t* blocks = nullptr;
  uint64_t* verified = nullptr;  // bitmap, accessed through std::atomic_ref

  ~Cache() {
    if (storage == nullptr) return;
    if (mapped) {
      ::munmap(storage, storage_bytes);
    } else {
      std::free(storage);
    }
  }

  // REQUIRES: mu held.
  Status Allocate(const TreeGeometry& g) {
    if (storage != nullptr) return {};
    const uint64_t words = (g.tree_blocks + kBitsPerWord - 1) / kBitsPerWord;
    const uint64_t total = g.tree_bytes() + words * sizeof(uint64_t);
    if (total <= kHeapCacheLimit) {
      storage = static_cast<uint8_t*>(std::calloc(1, total));
      mapped = false;
    } else {
      void* p = ::mmap(nullptr, total, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      storage = p == MAP_FAILED ? nullptr : static_cast<uint8_t*>(p);
      mapped = true;
    }
    if (storage == nullptr) {
      return Status::FromErrno(ENOMEM, "cannot allocate a cache for a " +
                                           std::to_string(g.tree_bytes()) +
                                           "-byte Merkle tree");
    }
    storage_bytes = total;
    tree_blocks = g.tree_blocks;
    blocks = storage;
    // tree_bytes() is a multiple of kBlockSize, so the bitmap is aligned.
    verified = reinterpret_cast<uint64_t*>(storage + g.tree_bytes());
    return {};
  }

  bool Has(uint64_t index) const {
    uint64_t word = std::atomic_ref<uint64_t>(verified[index / kBitsPerWord])
                        .load(std::memory_order_acquire);
    return (word >> (index % kBitsPerWord) & 1) != 0;
  }

  const uint8_t* Block(uint64_t index) const {
    return blocks + index * kBlockSize;
  }

  // Caches the verified top block (tree block 0), making the cache ready.
  Status PublishTop(const TreeGeometry& g, const uint8_t* top) {
    std::lock_guard<std::mutex> lock(mu);
    SEALFS_RETURN_IF_ERROR(Allocate(g));
    Insert(0, top);
    ready.store(true, std::memory_order_release);
    return {};
  }

  // A mapped cache's pages would each be faulted in by the first copy into
  // them: 2,243 faults for a 1 GiB file read once, on a paravirtualised
  // guest (PVM) where a fault is dear. When blocks arrive in order, one
  // madvise makes the next kPopulateBlocks present instead (180 faults; the
  // daemon's CPU time for the read fell 8%). Random readers still fault a
  // page at a time, so they commit no more memory than they use.
  // REQUIRES: mu held.
  void PopulateAhead(uint64_t index) {
    if (!mapped || index < populated_end || index == 0 || !Has(index - 1)) {
      return;
    }
    const uint64_t end = std::min(index + kPopulateBlocks, tree_blocks);
    // A failure (a kernel before 5.14) leaves the faults to the copy.
    (void)::madvise(blocks + index * kBlockSize, (end - index) * kBlockSize,
                    MADV_POPULATE_WRITE);
    populated_end = end;
  }

  // Copies a verified block in and publishes it. REQUIRES: mu held.
  void Insert(uint64_t index, const uint8_t* data) {
    if (Has(index)) return;  // another thread verified the same bytes first
    PopulateAhead(index);
    std::memcpy(blocks + index * kBlockSize, data, kBlockSize);
    std::atomic_ref<uint64_t>(verified[index / kBitsPerWord])
        .fetch_or(uint64_t{1} << (index % kBitsPerWord),
                  std::memory_order_release);
  }
};

BlockVerifier::BlockVerifier(const Digest& digest, uint64_t data_size,
                             TreeBlockReader read_tree)
    : digest_(digest),
      geometry_(TreeGeometry::For(data_size)),
      read_tree_(std::move(read_tree)),
      cache_(std::make_unique<Cache>()) {}

BlockVerifier::~BlockVerifier() = default;

namespace {

// Reads tree blocks from `index` into `out` (whole blocks). The caller
// checks them; a reader that fills less leaves zeros, which fail that check
// rather than exposing stale bytes.
Status ReadTreeBlocks(const TreeBlockReader& read_tree, uint64_t index,
                      std::span<uint8_t> out) {
  std::memset(out.data(), 0, out.size());
  Status s = read_tree(index, out);
  if (!s.ok()) return s.WithPrefix(BlockName("reading tree block", index));
  return {};
}

}  // namespace

Status BlockVerifier::CheckLength(uint64_t index, size_t len) const {
  const TreeGeometry& g = geometry_;
  if (index >= g.data_blocks) {
    return Status::FromErrno(
        EINVAL, BlockName("block", index) + ": out of range for a " +
                    std::to_string(g.data_size) + "-byte file");
  }
  const uint64_t want_len =
      std::min<uint64_t>(kBlockSize, g.data_size - index * kBlockSize);
  if (len != want_len) {
    return Status::FromErrno(EINVAL, BlockName("block", index) + ": got " +
                                         std::to_string(len) +
                                         " bytes, expected " +
                                         std::to_string(want_len));
  }
  return {};
}

Status BlockVerifier::VerifyBlock(uint64_t index,
                                  std::span<const uint8_t> data) {
  SEALFS_RETURN_IF_ERROR(CheckLength(index, data.size()));
  return CheckHash(index, HashDataBlock(data));
}

Status BlockVerifier::VerifyBlocks(uint64_t first,
                                   std::span<const uint8_t> data) {
  // All but the last must be whole blocks; the last may be the file's
  // short tail.
  const uint64_t count = (data.size() + kBlockSize - 1) / kBlockSize;
  if (count == 0) return Status::FromErrno(EINVAL, "no blocks to verify");
  const size_t last_len = data.size() - (count - 1) * kBlockSize;
  SEALFS_RETURN_IF_ERROR(CheckLength(first + count - 1, last_len));
  Digest hashes[kBatchBlocks];
  for (uint64_t done = 0; done < count;) {
    const uint64_t n = std::min<uint64_t>(kBatchBlocks, count - done);
    const size_t at = done * kBlockSize;
    HashDataBlocks(data.subspan(at, std::min(n * kBlockSize, data.size() - at)),
                   hashes);
    for (uint64_t i = 0; i < n; ++i) {
      SEALFS_RETURN_IF_ERROR(CheckHash(first + done + i, hashes[i]));
    }
    done += n;
  }
  return {};
}

Status BlockVerifier::CheckHash(uint64_t index, const Digest& data_hash) {
  const TreeGeometry& g = geometry_;
  if (g.levels == 0) {
    // One block, no tree: its hash is the root hash.
    if (DigestFromRoot(g.data_size, data_hash) != digest_) {
      return Status::FromErrno(kErrDigest, BlockName("block", index) +
                                               ": does not match the digest");
    }
    return {};
  }

  if (!read_tree_) {
    return Status::FromErrno(EINVAL, "no Merkle tree reader for a " +
                                         std::to_string(g.data_size) +
                                         "-byte file");
  }
  Cache& c = *cache_;
  if (!c.ready.load(std::memory_order_acquire)) {
    uint8_t buf[kBlockSize];
    // The top block (tree block 0) is trusted only if it hashes to the root
    // the digest commits to. Read outside the lock: the reader may block.
    SEALFS_RETURN_IF_ERROR(ReadTreeBlocks(read_tree_, 0, buf));
    if (DigestFromRoot(g.data_size, Sha256(buf)) != digest_) {
      return Status::FromErrno(kErrDigest,
                               "Merkle tree root block does not match the "
                               "digest");
    }
    SEALFS_RETURN_IF_ERROR(c.PublishTop(g, buf));
  }

  // Walk from the top level down to the leaf level. At each step `parent` is
  // a verified block holding the hash of the next block on the path.
  const uint8_t* parent = c.Block(0);
  for (int level = g.levels - 1; level > 0; --level) {
    const uint64_t child = index >> (7 * level);  // block within level - 1
    const uint8_t* expected = parent + (child % kHashesPerBlock) * kDigestSize;
    const uint64_t tree_index =
        g.level_start[static_cast<size_t>(level - 1)] + child;
    if (!c.Has(tree_index)) {
      SEALFS_RETURN_IF_ERROR(
          FetchTreeBlocks(level - 1, tree_index, child, expected));
    }
    parent = c.Block(tree_index);
  }

  if (!HashMatches(parent + (index % kHashesPerBlock) * kDigestSize,
                   data_hash)) {
    return Status::FromErrno(
        kErrDigest,
        BlockName("block", index) + ": does not match the Merkle tree");
  }
  return {};
}

Status BlockVerifier::FetchTreeBlocks(int level, uint64_t tree_index,
                                      uint64_t child, const uint8_t* expected) {
  const TreeGeometry& g = geometry_;
  Cache& c = *cache_;
  // A sequential reader, whose left sibling is cached, also gets the
  // siblings that follow under the same parent and in the same level: one
  // read and one multi-buffer hash for the run. Reading a 1 GiB file took
  // 2,048 tree preads and single-block hashes plus ~1,000 repeated by
  // threads racing for the same block; now 286 in all.
  uint64_t run = 1;
  const uint64_t slot = child % kHashesPerBlock;
  if (slot > 0 && c.Has(tree_index - 1)) {
    const uint64_t level_end = g.level_start[static_cast<size_t>(level)] +
                               g.level_blocks[static_cast<size_t>(level)];
    run = std::min(
        {kTreeRunBlocks, kHashesPerBlock - slot, level_end - tree_index});
  }
  // Unverified bytes never enter the cache: they are read and checked here.
  const std::unique_ptr<uint8_t[]> buffer(new uint8_t[run * kBlockSize]);
  const std::span<uint8_t> blocks(buffer.get(), run * kBlockSize);
  SEALFS_RETURN_IF_ERROR(ReadTreeBlocks(read_tree_, tree_index, blocks));
  Digest hashes[kTreeRunBlocks];
  HashDataBlocks(blocks, hashes);
  if (!HashMatches(expected, hashes[0])) {
    return Status::FromErrno(kErrDigest,
                             BlockName("Merkle tree block", tree_index) +
                                 ": does not match its parent's hash");
  }
  std::lock_guard<std::mutex> lock(c.mu);
  // The siblings' hashes follow `expected` in the parent; a sibling that
  // does not match is left out, to fail when a read needs it.
  for (uint64_t i = 0; i < run; ++i) {
    if (i > 0 && !HashMatches(expected + i * kDigestSize, hashes[i])) break;
    c.Insert(tree_index + i, blocks.data() + i * kBlockSize);
  }
  return {};
}

bool BlockVerifier::HasTopBlock() const {
  return geometry_.levels == 0 || cache_->ready.load(std::memory_order_acquire);
}

Status BlockVerifier::VerifyObject(std::span<const uint8_t> data) {
  const TreeGeometry& g = geometry_;
  if (data.size() != g.data_size || g.levels > 1) {
    return Status::FromErrno(
        EINVAL, "whole-object check of " + std::to_string(data.size()) +
                    " bytes for a " + std::to_string(g.data_size) +
                    "-byte object (at most " +
                    std::to_string(kHashesPerBlock * kBlockSize) + ")");
  }
  if (g.levels == 0) return VerifyBlock(0, data);
  // The one tree block: each data block's hash in order, zero-padded.
  Digest hashes[kHashesPerBlock];
  HashDataBlocks(data, hashes);
  uint8_t top[kBlockSize] = {};
  for (uint64_t b = 0; b < g.data_blocks; ++b) {
    std::memcpy(top + b * kDigestSize, hashes[b].bytes.data(), kDigestSize);
  }
  if (DigestFromRoot(g.data_size, Sha256(top)) != digest_) {
    return Status::FromErrno(kErrDigest,
                             "object does not match its digest (checked "
                             "whole)");
  }
  return cache_->PublishTop(g, top);
}

}  // namespace sealfs
