// SPDX-License-Identifier: Apache-2.0
// Building fs-verity Merkle trees and digests exactly as the kernel and
// `fsverity digest` do (SHA-256, 4096-byte blocks, no salt). A MerkleBuilder
// is thread-compatible; the free functions are reentrant.
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

#include <algorithm>
#include <cassert>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <utility>

#include "fs/util/io.h"
#include "sealfs/digest.h"

namespace sealfs {
namespace {

// Reads of this size keep syscall and copy overhead small next to hashing.
constexpr size_t kReadChunk = size_t{1} << 20;

constexpr uint64_t CeilDiv(uint64_t a, uint64_t b) {
  return a / b + (a % b != 0 ? 1 : 0);
}

}  // namespace

TreeGeometry TreeGeometry::For(uint64_t data_size) {
  TreeGeometry g;
  g.data_size = data_size;
  g.data_blocks = CeilDiv(data_size, kBlockSize);
  if (g.data_blocks <= 1) return g;
  // Each level holds the hashes of the blocks below it, 128 per block, until
  // one block remains. 2^64 bytes is 2^52 blocks, so at most 8 levels.
  uint64_t below = g.data_blocks;
  int level = 0;
  while (true) {
    uint64_t blocks = CeilDiv(below, kHashesPerBlock);
    g.level_blocks[static_cast<size_t>(level)] = blocks;
    ++level;
    if (blocks == 1) break;
    below = blocks;
  }
  g.levels = level;
  // The tree file stores the top level first, as the kernel does.
  uint64_t start = 0;
  for (int l = g.levels - 1; l >= 0; --l) {
    g.level_start[static_cast<size_t>(l)] = start;
    start += g.level_blocks[static_cast<size_t>(l)];
  }
  g.tree_blocks = start;
  return g;
}

Digest DigestFromRoot(uint64_t data_size, const Digest& root_hash) {
  FsverityDescriptor desc;
  std::memset(&desc, 0, sizeof(desc));
  desc.version = 1;
  desc.hash_algorithm = 1;  // FS_VERITY_HASH_ALG_SHA256
  desc.log_blocksize = kLogBlockSize;
  desc.data_size.set(data_size);
  std::memcpy(desc.root_hash, root_hash.bytes.data(), kDigestSize);
  return Sha256({reinterpret_cast<const uint8_t*>(&desc), sizeof(desc)});
}

namespace {

// Blocks hashed per Sha256Blocks call: enough to keep its lanes full.
constexpr size_t kBatchBlocks = 64;

// The root hash of the tree over data blocks whose hashes are `leaves`
// (kDigestSize bytes per block, in order; all zero for an empty file). The
// tree's levels are built in `*tree`, in tree file layout, when it has any.
Digest RootFromLeaves(const TreeGeometry& g, std::span<const uint8_t> leaves,
                      BlockHashing how, std::vector<uint8_t>* tree) {
  assert(leaves.size() == g.data_blocks * kDigestSize);
  Digest root;
  if (g.levels == 0) {
    if (g.data_blocks == 1) {
      std::memcpy(root.bytes.data(), leaves.data(), kDigestSize);
    }
    return root;
  }
  tree->assign(g.tree_bytes(), 0);
  uint8_t* t = tree->data();
  std::memcpy(t + g.level_start[0] * kBlockSize, leaves.data(),
              std::min<uint64_t>(leaves.size(), g.data_blocks * kDigestSize));
  for (size_t l = 1; l < static_cast<size_t>(g.levels); ++l) {
    const uint8_t* below = t + g.level_start[l - 1] * kBlockSize;
    uint8_t* out = t + g.level_start[l] * kBlockSize;
    Digest hashes[kBatchBlocks];
    for (uint64_t i = 0; i < g.level_blocks[l - 1]; i += kBatchBlocks) {
      const size_t n =
          std::min<uint64_t>(kBatchBlocks, g.level_blocks[l - 1] - i);
      Sha256Blocks({below + i * kBlockSize, n * kBlockSize}, hashes, how);
      for (size_t j = 0; j < n; ++j) {
        std::memcpy(out + (i + j) * kDigestSize, hashes[j].bytes.data(),
                    kDigestSize);
      }
    }
  }
  return Sha256({t, kBlockSize});  // the top level is block 0
}

}  // namespace

Digest DigestFromLeaves(uint64_t data_size, std::span<const Digest> leaves,
                        BlockHashing how) {
  static_assert(sizeof(Digest) == kDigestSize);
  const TreeGeometry g = TreeGeometry::For(data_size);
  std::vector<uint8_t> tree;
  const Digest root = RootFromLeaves(
      g, {reinterpret_cast<const uint8_t*>(leaves.data()), leaves.size_bytes()},
      how, &tree);
  return DigestFromRoot(data_size, root);
}

struct MerkleBuilder::Impl {
  explicit Impl(BlockHashing h) : how(h) {}

  const BlockHashing how;
  uint64_t data_size = 0;
  uint8_t block[kBlockSize];    // a partial data block awaiting more bytes
  size_t fill = 0;              // bytes used in `block`
  std::vector<uint8_t> leaves;  // hashes of the data blocks, in order

  // Appends the hashes of whole blocks, hashed a batch at a time.
  void AddLeaves(std::span<const uint8_t> full_blocks) {
    Digest hashes[kBatchBlocks];
    while (!full_blocks.empty()) {
      const size_t n =
          std::min(full_blocks.size() / kBlockSize, size_t{kBatchBlocks});
      Sha256Blocks(full_blocks.first(n * kBlockSize), hashes, how);
      for (size_t i = 0; i < n; ++i) {
        leaves.insert(leaves.end(), hashes[i].bytes.begin(),
                      hashes[i].bytes.end());
      }
      full_blocks = full_blocks.subspan(n * kBlockSize);
    }
  }
};

MerkleBuilder::MerkleBuilder(BlockHashing how)
    : impl_(std::make_unique<Impl>(how)) {}
MerkleBuilder::~MerkleBuilder() = default;

void MerkleBuilder::Update(std::span<const uint8_t> data) {
  // Also keeps memcpy away from an empty span's null pointer (undefined).
  if (data.empty()) return;
  Impl& m = *impl_;
  m.data_size += data.size();
  if (m.fill > 0) {
    size_t take = std::min(data.size(), kBlockSize - m.fill);
    std::memcpy(m.block + m.fill, data.data(), take);
    m.fill += take;
    data = data.subspan(take);
    if (m.fill < kBlockSize) return;
    m.AddLeaves(m.block);
    m.fill = 0;
  }
  // Whole blocks are hashed in place, without a copy. A full block needs no
  // padding even if it turns out to be the last one.
  const size_t whole = data.size() / kBlockSize * kBlockSize;
  m.AddLeaves(data.first(whole));
  data = data.subspan(whole);
  std::memcpy(m.block, data.data(), data.size());
  m.fill = data.size();
}

MerkleTree MerkleBuilder::Finish() {
  Impl& m = *impl_;
  if (m.fill > 0) {
    std::memset(m.block + m.fill, 0, kBlockSize - m.fill);
    m.AddLeaves(m.block);
  }
  const TreeGeometry g = TreeGeometry::For(m.data_size);

  MerkleTree result;
  result.data_size = m.data_size;
  result.digest = DigestFromRoot(
      m.data_size, RootFromLeaves(g, m.leaves, m.how, &result.tree));

  m.data_size = 0;
  m.fill = 0;
  m.leaves = {};
  return result;
}

MerkleTree ComputeMerkleTree(std::span<const uint8_t> data) {
  MerkleBuilder builder;
  builder.Update(data);
  return builder.Finish();
}

namespace {

// Files at least this large are read by a second thread while this one
// hashes, so the kernel's copy into our buffers overlaps the hashing. For
// smaller files a thread costs more than it saves.
constexpr uint64_t kReadAheadMinSize = uint64_t{8} << 20;

// Reads `fd` from offset 0 to EOF, handing each chunk to `consume` in order.
// Serial: read, then consume.
Status ReadSerially(
    int fd, const std::function<void(std::span<const uint8_t>)>& consume) {
  std::vector<uint8_t> buf(kReadChunk);
  uint64_t offset = 0;
  while (true) {
    SEALFS_ASSIGN_OR_RETURN(size_t n, PreadFull(fd, buf, offset));
    consume(std::span<const uint8_t>(buf).first(n));
    offset += n;
    if (n < buf.size()) return {};  // PreadFull stops short only at EOF
  }
}

// The same, with a reader thread filling a ring of kSlots chunks ahead of
// the consumer.
class ReadAhead {
 public:
  explicit ReadAhead(int fd) : fd_(fd) {
    for (std::vector<uint8_t>& b : buf_) b.resize(kReadChunk);
  }

  // Returns false (having done nothing) if no thread could be started.
  bool Run(const std::function<void(std::span<const uint8_t>)>& consume,
           Status* status) {
    pthread_t thread;
    if (pthread_create(&thread, nullptr, &ReadAhead::ThreadMain, this) != 0) {
      return false;
    }
    *status = Consume(consume);
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;  // on error, the reader may still be waiting for a slot
    }
    cv_.notify_all();
    pthread_join(thread, nullptr);
    return true;
  }

 private:
  static constexpr uint64_t kSlots = 3;

  static void* ThreadMain(void* self) {
    static_cast<ReadAhead*>(self)->Produce();
    return nullptr;
  }

  void Produce() {
    uint64_t offset = 0;
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || produced_ - consumed_ < kSlots; });
      if (stop_) return;
      const uint64_t slot = produced_ % kSlots;
      lock.unlock();  // the slot is ours until `produced_` moves past it
      Result<size_t> n = PreadFull(fd_, buf_[slot], offset);
      lock.lock();
      if (!n.ok()) {
        error_ = n.status();
        done_ = true;
      } else {
        len_[slot] = *n;
        offset += *n;
        ++produced_;
        done_ = *n < kReadChunk;
      }
      cv_.notify_all();
      if (done_) return;
    }
  }

  Status Consume(const std::function<void(std::span<const uint8_t>)>& consume) {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return consumed_ < produced_ || done_; });
      if (consumed_ < produced_) {
        const uint64_t slot = consumed_ % kSlots;
        lock.unlock();
        consume(std::span<const uint8_t>(buf_[slot]).first(len_[slot]));
        lock.lock();
        ++consumed_;
        cv_.notify_all();
        continue;
      }
      return error_;  // done_, and every chunk read was consumed
    }
  }

  const int fd_;
  std::vector<uint8_t> buf_[kSlots];  // slot i: chunks i, i + kSlots, ...
  std::mutex mu_;                     // guards everything below
  std::condition_variable cv_;
  size_t len_[kSlots] = {};
  uint64_t produced_ = 0;  // chunks read
  uint64_t consumed_ = 0;  // chunks hashed
  bool done_ = false;      // the reader hit EOF or an error
  bool stop_ = false;      // the consumer is finished; the reader must exit
  Status error_;
};

}  // namespace

Result<MerkleTree> ComputeMerkleTree(int fd) {
  // Advice only; a failure (e.g. on a pipe-like fd) changes nothing.
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  MerkleBuilder builder;
  auto consume = [&](std::span<const uint8_t> chunk) { builder.Update(chunk); };
  struct stat st;
  Status status;
  bool done = false;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
      static_cast<uint64_t>(st.st_size) >= kReadAheadMinSize) {
    done = ReadAhead(fd).Run(consume, &status);
  }
  if (!done) status = ReadSerially(fd, consume);
  SEALFS_RETURN_IF_ERROR(status);
  return builder.Finish();
}

}  // namespace sealfs
