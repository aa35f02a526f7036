// SPDX-License-Identifier: Apache-2.0
// Tests for fs/core/block_verifier.cc: good files verify, every flipped byte
// of data or tree fails exactly the blocks it covers, read errors and bad
// arguments are reported, the cache is private, and threads can share it.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "sealfs/digest.h"
#include "tests/test_util.h"

namespace sealfs {
namespace {

using ::sealfs::testing::RandomBytes;

// A file, its trusted digest, and an untrusted tree the test can corrupt.
// The reader copies from `tree` and counts the blocks it reads and its
// calls.
struct Subject {
  std::vector<uint8_t> data;
  Digest digest;
  TreeGeometry geometry;
  std::shared_ptr<std::vector<uint8_t>> tree;
  std::shared_ptr<std::atomic<int>> reads;  // blocks
  std::shared_ptr<std::atomic<int>> calls =
      std::make_shared<std::atomic<int>>(0);

  explicit Subject(size_t size, uint64_t seed = 1)
      : data(RandomBytes(size, seed)),
        geometry(TreeGeometry::For(size)),
        tree(std::make_shared<std::vector<uint8_t>>()),
        reads(std::make_shared<std::atomic<int>>(0)) {
    MerkleTree t = ComputeMerkleTree(data);
    digest = t.digest;
    *tree = std::move(t.tree);
  }

  TreeBlockReader Reader() const {
    return [tree = tree, reads = reads, calls = calls](
               uint64_t index, std::span<uint8_t> out) -> Status {
      ++*calls;
      *reads += static_cast<int>(out.size() / kBlockSize);  // blocks, not calls
      if (out.empty() || out.size() % kBlockSize != 0) {
        return Status::FromErrno(EINVAL, "size");
      }
      if (!InBounds(tree->size(), index * kBlockSize, out.size())) {
        return Status::Corrupt("tree block past end");
      }
      std::memcpy(out.data(), tree->data() + index * kBlockSize, out.size());
      return {};
    };
  }

  std::unique_ptr<BlockVerifier> Verifier() const {
    return std::make_unique<BlockVerifier>(digest, data.size(), Reader());
  }

  uint64_t blocks() const { return geometry.data_blocks; }

  std::span<const uint8_t> Block(uint64_t index) const {
    size_t start = index * kBlockSize;
    size_t len = std::min<size_t>(kBlockSize, data.size() - start);
    return std::span<const uint8_t>(data).subspan(start, len);
  }

  // Data blocks whose verification depends on tree block `t`: all those
  // below it. Returns [first, last).
  std::pair<uint64_t, uint64_t> Covered(uint64_t t) const {
    for (size_t l = 0; l < static_cast<size_t>(geometry.levels); ++l) {
      uint64_t start = geometry.level_start[l];
      if (t < start || t >= start + geometry.level_blocks[l]) continue;
      uint64_t span = 1;
      for (size_t k = 0; k <= l; ++k) span *= kHashesPerBlock;
      uint64_t j = t - start;
      return {j * span, std::min(blocks(), (j + 1) * span)};
    }
    ADD_FAILURE() << "tree block " << t << " not in any level";
    return {0, 0};
  }
};

void ExpectAllVerify(BlockVerifier& v, const Subject& s) {
  for (uint64_t i = 0; i < s.blocks(); ++i) {
    Status st = v.VerifyBlock(i, s.Block(i));
    ASSERT_TRUE(st.ok()) << "block " << i << ": " << st.ToString();
  }
}

constexpr uint64_t kB = kBlockSize;

TEST(BlockVerifier, AcceptsEveryBlockOfGoodFiles) {
  for (size_t size :
       {size_t{1}, size_t{100}, size_t{kB - 1}, size_t{kB}, size_t{kB + 1},
        size_t{2 * kB}, size_t{128 * kB}, size_t{128 * kB + 1},
        size_t{129 * kB - 7}, size_t{128 * 128 * kB + 1}}) {
    SCOPED_TRACE(size);
    Subject s(size);
    auto v = s.Verifier();
    EXPECT_EQ(v->data_size(), size);
    EXPECT_EQ(v->digest(), s.digest);
    ExpectAllVerify(*v, s);
    // Each tree block was read once and is cached from then on.
    EXPECT_EQ(static_cast<uint64_t>(s.reads->load()), s.geometry.tree_blocks);
    ExpectAllVerify(*v, s);
    EXPECT_EQ(static_cast<uint64_t>(s.reads->load()), s.geometry.tree_blocks);
  }
}

TEST(BlockVerifier, ConstructionDoesNoIo) {
  Subject s(129 * kB);
  auto v = s.Verifier();
  EXPECT_EQ(s.reads->load(), 0);
}

TEST(BlockVerifier, ReadsOneTreeBlockPerLevelThenNone) {
  Subject s(128 * 128 * kB + 1);  // three levels
  ASSERT_EQ(s.geometry.levels, 3);
  auto v = s.Verifier();
  ASSERT_TRUE(v->VerifyBlock(5, s.Block(5)).ok());
  EXPECT_EQ(s.reads->load(), 3);  // top, level 1, leaf
  ASSERT_TRUE(v->VerifyBlock(5, s.Block(5)).ok());
  EXPECT_EQ(s.reads->load(), 3);
  ASSERT_TRUE(v->VerifyBlock(127, s.Block(127)).ok());  // same leaf block
  EXPECT_EQ(s.reads->load(), 3);
  ASSERT_TRUE(v->VerifyBlock(300, s.Block(300)).ok());  // a leaf further on
  EXPECT_EQ(s.reads->load(), 4);
  const uint64_t last = s.blocks() - 1;  // other level-1 block
  ASSERT_TRUE(v->VerifyBlock(last, s.Block(last)).ok());
  EXPECT_EQ(s.reads->load(), 6);
}

TEST(BlockVerifier, SequentialReaderGetsTreeBlocksInRunsOfSiblings) {
  Subject s(128 * 128 * kB + 1);  // leaves 0-127 under one level-1 block
  auto v = s.Verifier();
  ASSERT_TRUE(v->VerifyBlock(0, s.Block(0)).ok());
  EXPECT_EQ(s.calls->load(), 3);  // top, level 1, leaf 0
  // Leaf 1's left sibling is cached: leaves 1-16 come in one read.
  ASSERT_TRUE(v->VerifyBlock(128, s.Block(128)).ok());
  EXPECT_EQ(s.calls->load(), 4);
  EXPECT_EQ(s.reads->load(), 3 + 16);
  for (uint64_t i = 129; i < 17 * 128; ++i) {
    ASSERT_TRUE(v->VerifyBlock(i, s.Block(i)).ok()) << i;
  }
  EXPECT_EQ(s.calls->load(), 4);
  // A run ends at the last child of its parent: leaves 113-127, then the
  // other level-1 block's only leaf alone.
  for (uint64_t i = 17 * 128; i < s.blocks(); ++i) {
    ASSERT_TRUE(v->VerifyBlock(i, s.Block(i)).ok()) << i;
  }
  EXPECT_EQ(static_cast<uint64_t>(s.reads->load()), s.geometry.tree_blocks);
}

TEST(BlockVerifier, BadBlockInATreeRunFailsOnlyTheReadsItCovers) {
  Subject s(128 * 128 * kB + 1);
  const uint64_t bad = s.geometry.level_start[0] + 5;  // a leaf
  (*s.tree)[bad * kB + 9] ^= 0x10;
  auto v = s.Verifier();
  const auto [first_bad, end_bad] = s.Covered(bad);
  for (uint64_t i = 0; i < s.blocks(); ++i) {
    Status st = v->VerifyBlock(i, s.Block(i));
    if (i >= first_bad && i < end_bad) {
      ASSERT_EQ(st.err(), kErrDigest) << i;
    } else {
      ASSERT_TRUE(st.ok()) << i << ": " << st.ToString();
    }
  }
}

TEST(BlockVerifier, SingleBlockFilesNeverReadTheTree) {
  for (size_t size : {size_t{1}, size_t{100}, size_t{kB}}) {
    Subject s(size);
    auto v = s.Verifier();
    ASSERT_TRUE(v->VerifyBlock(0, s.Block(0)).ok());
    std::vector<uint8_t> bad(s.data);
    bad[size / 2] ^= 1;
    Status st = v->VerifyBlock(0, bad);
    EXPECT_EQ(st.err(), kErrDigest);
    EXPECT_EQ(s.reads->load(), 0);
  }
}

// Flips each byte of the data in turn (every `stride`-th byte) and checks
// that the block holding it fails while its neighbours still verify.
void SweepDataFlips(size_t size, size_t stride) {
  SCOPED_TRACE(size);
  Subject s(size);
  auto v = s.Verifier();
  uint64_t neighbours_checked = UINT64_MAX;
  for (size_t off = 0; off < size; off += stride) {
    const uint64_t block = off / kB;
    s.data[off] ^= 0x01;
    Status st = v->VerifyBlock(block, s.Block(block));
    s.data[off] ^= 0x01;
    ASSERT_EQ(st.err(), kErrDigest) << "byte " << off << " flip accepted";
    if (neighbours_checked == block) continue;  // once per block is enough
    neighbours_checked = block;
    if (block > 0) {
      ASSERT_TRUE(v->VerifyBlock(block - 1, s.Block(block - 1)).ok()) << off;
    }
    if (block + 1 < s.blocks()) {
      ASSERT_TRUE(v->VerifyBlock(block + 1, s.Block(block + 1)).ok()) << off;
    }
  }
  ExpectAllVerify(*v, s);
}

TEST(BlockVerifier, VerifiesRunsOfBlocksAndNamesTheBadOne) {
  Subject s(200 * kB + 123);  // two levels, a short tail
  auto v = s.Verifier();
  const std::span<const uint8_t> all(s.data);
  // Runs of every shape: one block, a batch and more, ending at the tail.
  EXPECT_TRUE(v->VerifyBlocks(0, all.first(kB)).ok());
  EXPECT_TRUE(v->VerifyBlocks(3, all.subspan(3 * kB, 70 * kB)).ok());
  EXPECT_TRUE(v->VerifyBlocks(130, all.subspan(130 * kB)).ok());
  EXPECT_TRUE(v->VerifyBlocks(0, all).ok());
  std::vector<uint8_t> bad = s.data;
  bad[150 * kB + 9] ^= 0x40;
  Status st = v->VerifyBlocks(
      100, std::span<const uint8_t>(bad).subspan(100 * kB, 64 * kB));
  EXPECT_EQ(st.err(), kErrDigest);
  EXPECT_NE(st.ToString().find("block 150:"), std::string::npos)
      << st.ToString();
  // Lengths must be whole blocks up to the file's own tail.
  EXPECT_EQ(v->VerifyBlocks(0, all.first(kB + 1)).err(), EINVAL);
  EXPECT_EQ(v->VerifyBlocks(199, all.subspan(199 * kB, kB + 5)).err(), EINVAL);
  EXPECT_EQ(v->VerifyBlocks(201, all.first(kB)).err(), EINVAL);
  EXPECT_EQ(v->VerifyBlocks(0, {}).err(), EINVAL);
}

TEST(BlockVerifier, WholeObjectCheckCachesTheTreeWithoutReadingIt) {
  for (size_t size : {size_t{1}, size_t{kB}, size_t{kB + 1}, size_t{3 * kB},
                      size_t{128 * kB - 5}, size_t{128 * kB}}) {
    SCOPED_TRACE(size);
    Subject s(size);
    auto v = s.Verifier();
    EXPECT_EQ(v->HasTopBlock(), s.geometry.levels == 0);
    ASSERT_TRUE(v->VerifyObject(s.data).ok());
    EXPECT_TRUE(v->HasTopBlock());
    ExpectAllVerify(*v, s);
    EXPECT_EQ(s.reads->load(), 0);
  }
}

TEST(BlockVerifier, WholeObjectCheckRejectsAnyFlippedByte) {
  Subject s(5 * kB + 17);
  for (size_t at :
       {size_t{0}, size_t{kB}, size_t{3 * kB + 99}, s.data.size() - 1}) {
    SCOPED_TRACE(at);
    std::vector<uint8_t> bad = s.data;
    bad[at] ^= 0x01;
    auto v = s.Verifier();
    Status st = v->VerifyObject(bad);
    EXPECT_EQ(st.err(), kErrDigest) << st.ToString();
    EXPECT_FALSE(v->HasTopBlock());
    // The tree still tells the good blocks from the bad one.
    for (uint64_t i = 0; i < s.blocks(); ++i) {
      std::span<const uint8_t> block =
          std::span<const uint8_t>(bad).subspan(i * kB, s.Block(i).size());
      EXPECT_EQ(v->VerifyBlock(i, block).ok(), i != at / kB) << "block " << i;
    }
  }
}

TEST(BlockVerifier, WholeObjectCheckRefusesPartsAndLargeObjects) {
  Subject s(3 * kB);
  auto v = s.Verifier();
  EXPECT_EQ(
      v->VerifyObject(std::span<const uint8_t>(s.data).first(2 * kB)).err(),
      EINVAL);
  Subject big(128 * kB + 1);
  auto vb = big.Verifier();
  EXPECT_EQ(vb->VerifyObject(big.data).err(), EINVAL);
  EXPECT_FALSE(vb->HasTopBlock());
}

TEST(BlockVerifier, RejectsEveryFlippedDataByte) {
  SweepDataFlips(1, 1);
  SweepDataFlips(kB, 1);
  SweepDataFlips(2 * kB, 1);
  SweepDataFlips(129 * kB, 1);
  SweepDataFlips(129 * kB - 1, 3);
  SweepDataFlips(128 * 128 * kB + 1, 4093);  // dense sample, every block hit
}

TEST(BlockVerifier, RejectsOtherBitFlipsAndSwappedBlocks) {
  Subject s(3 * kB);
  auto v = s.Verifier();
  for (int bit = 0; bit < 8; ++bit) {
    s.data[kB + 17] ^= static_cast<uint8_t>(1 << bit);
    EXPECT_EQ(v->VerifyBlock(1, s.Block(1)).err(), kErrDigest) << bit;
    s.data[kB + 17] ^= static_cast<uint8_t>(1 << bit);
  }
  // Genuine bytes of the wrong block.
  EXPECT_EQ(v->VerifyBlock(0, s.Block(1)).err(), kErrDigest);
  EXPECT_EQ(v->VerifyBlock(1, s.Block(0)).err(), kErrDigest);
  ExpectAllVerify(*v, s);
}

// Flips tree bytes (all, or every `stride`-th plus each block's first and
// last byte) and checks, with a fresh verifier per flip, that exactly the
// data blocks below the damaged tree block fail.
void SweepTreeFlips(size_t size, size_t stride) {
  SCOPED_TRACE(size);
  Subject s(size);
  std::vector<uint8_t>& tree = *s.tree;
  ASSERT_FALSE(tree.empty());
  std::set<size_t> offsets;
  for (size_t off = 0; off < tree.size(); off += stride) offsets.insert(off);
  for (size_t off = 0; off < tree.size(); off += kB) {
    offsets.insert(off);
    offsets.insert(off + kB - 1);
  }
  for (size_t off : offsets) {
    const uint64_t t = off / kB;
    auto [first, last] = s.Covered(t);
    // The edges of the damaged range, just outside it, and a few others.
    std::set<uint64_t> probes = {0,     s.blocks() - 1, s.blocks() / 2,
                                 first, last - 1,       (first + last) / 2};
    if (first > 0) probes.insert(first - 1);
    if (last < s.blocks()) probes.insert(last);
    tree[off] ^= 0x80;
    auto v = s.Verifier();
    for (uint64_t b : probes) {
      Status st = v->VerifyBlock(b, s.Block(b));
      if (b >= first && b < last) {
        ASSERT_EQ(st.err(), kErrDigest)
            << "tree byte " << off << " flip accepted for block " << b;
      } else {
        ASSERT_TRUE(st.ok()) << "tree byte " << off << " flip broke block " << b
                             << ": " << st.ToString();
      }
    }
    tree[off] ^= 0x80;
  }
}

TEST(BlockVerifier, RejectsEveryFlippedTreeByte) {
  SweepTreeFlips(2 * kB, 1);               // tree: one leaf block, the top
  SweepTreeFlips(129 * kB, 1);             // tree: top + 2 leaf blocks
  SweepTreeFlips(128 * 128 * kB + 1, 61);  // top + 2 + 129 blocks
}

TEST(BlockVerifier, CachedBlocksIgnoreLaterTreeChanges) {
  Subject s(300 * kB);
  auto v = s.Verifier();
  ExpectAllVerify(*v, s);
  const int reads = s.reads->load();
  std::fill(s.tree->begin(), s.tree->end(), 0xAA);
  ExpectAllVerify(*v, s);
  EXPECT_EQ(s.reads->load(), reads);
  // A fresh verifier does see the damage.
  auto fresh = s.Verifier();
  EXPECT_EQ(fresh->VerifyBlock(0, s.Block(0)).err(), kErrDigest);
}

TEST(BlockVerifier, RejectsWrongDigestOrSize) {
  Subject s(200 * kB + 5);
  Digest wrong = s.digest;
  wrong.bytes[0] ^= 1;
  BlockVerifier v(wrong, s.data.size(), s.Reader());
  EXPECT_EQ(v.VerifyBlock(0, s.Block(0)).err(), kErrDigest);
  EXPECT_EQ(v.VerifyBlock(199, s.Block(199)).err(), kErrDigest);

  // Same tree and digest, size one block shorter: the descriptor differs.
  BlockVerifier shorter(s.digest, 199 * kB, s.Reader());
  EXPECT_EQ(shorter.VerifyBlock(0, s.Block(0)).err(), kErrDigest);

  Subject one(kB);
  BlockVerifier one_wrong(wrong, kB, one.Reader());
  EXPECT_EQ(one_wrong.VerifyBlock(0, one.Block(0)).err(), kErrDigest);
}

TEST(BlockVerifier, RejectsBadIndexAndLength) {
  Subject s(2 * kB + 10);
  auto v = s.Verifier();
  EXPECT_EQ(v->VerifyBlock(3, s.Block(0)).err(), EINVAL);
  EXPECT_EQ(v->VerifyBlock(UINT64_MAX, s.Block(0)).err(), EINVAL);
  EXPECT_EQ(v->VerifyBlock(UINT64_MAX / kB + 1, s.Block(0)).err(), EINVAL);
  std::span<const uint8_t> all(s.data);
  EXPECT_EQ(v->VerifyBlock(0, all.first(kB - 1)).err(), EINVAL);
  EXPECT_EQ(v->VerifyBlock(0, all.first(kB + 1)).err(), EINVAL);
  EXPECT_EQ(v->VerifyBlock(0, {}).err(), EINVAL);
  EXPECT_EQ(v->VerifyBlock(2, all.subspan(2 * kB, 9)).err(), EINVAL);
  EXPECT_EQ(v->VerifyBlock(2, all.subspan(2 * kB - 1, 11)).err(), EINVAL);
  std::vector<uint8_t> padded(kB, 0);
  std::memcpy(padded.data(), s.data.data() + 2 * kB, 10);
  EXPECT_EQ(v->VerifyBlock(2, padded).err(), EINVAL);  // padding is not data
  EXPECT_TRUE(v->VerifyBlock(2, s.Block(2)).ok());

  Subject empty(0);
  auto ve = empty.Verifier();
  EXPECT_EQ(ve->VerifyBlock(0, {}).err(), EINVAL);
  EXPECT_EQ(empty.reads->load(), 0);
}

TEST(BlockVerifier, MissingReaderIsAnErrorOnlyWhenATreeIsNeeded) {
  Subject big(5 * kB);
  BlockVerifier v(big.digest, big.data.size(), nullptr);
  EXPECT_EQ(v.VerifyBlock(0, big.Block(0)).err(), EINVAL);
  Subject small(kB);
  BlockVerifier one(small.digest, small.data.size(), nullptr);
  EXPECT_TRUE(one.VerifyBlock(0, small.Block(0)).ok());
}

TEST(BlockVerifier, ReportsReaderErrorsAndRecovers) {
  Subject s(129 * kB);
  std::atomic<int> mode{0};  // 0 fine, 1 EIO, 2 short (corrupt), 3 half fill
  auto inner = s.Reader();
  TreeBlockReader reader = [&](uint64_t index, std::span<uint8_t> out) {
    switch (mode.load()) {
      case 1:
        return Status::FromErrno(EIO, "disk on fire");
      case 2:
        return Status::Corrupt("short read");
      case 3: {
        // Claims success but leaves half the block untouched.
        Status st = inner(index, out);
        std::memset(out.data() + kB / 2, 0x5A, kB / 2);
        return st;
      }
      default:
        return inner(index, out);
    }
  };
  BlockVerifier v(s.digest, s.data.size(), reader);
  mode = 1;
  EXPECT_EQ(v.VerifyBlock(0, s.Block(0)).err(), EIO);
  mode = 2;
  EXPECT_EQ(v.VerifyBlock(0, s.Block(0)).err(), kErrCorrupt);
  mode = 3;
  EXPECT_EQ(v.VerifyBlock(0, s.Block(0)).err(), kErrDigest);
  mode = 0;
  EXPECT_TRUE(v.VerifyBlock(0, s.Block(0)).ok());  // top + leaf 0 cached now
  mode = 1;
  EXPECT_TRUE(v.VerifyBlock(1, s.Block(1)).ok());          // needs no read
  EXPECT_EQ(v.VerifyBlock(128, s.Block(128)).err(), EIO);  // leaf 1 uncached
  mode = 3;
  EXPECT_EQ(v.VerifyBlock(128, s.Block(128)).err(), kErrDigest);
  mode = 0;
  EXPECT_TRUE(v.VerifyBlock(128, s.Block(128)).ok());
}

TEST(BlockVerifier, ReaderFailureOnTheDeepestLevelIsReported) {
  // A tree file cut short: the reader refuses blocks past the end.
  Subject s(128 * 128 * kB + 1);
  s.tree->erase(s.tree->end() - static_cast<std::ptrdiff_t>(kB), s.tree->end());
  auto v = s.Verifier();
  const uint64_t last = s.blocks() - 1;  // its leaf is the last tree block
  EXPECT_EQ(v->VerifyBlock(last, s.Block(last)).err(), kErrCorrupt);
  EXPECT_TRUE(v->VerifyBlock(0, s.Block(0)).ok());
}

TEST(BlockVerifier, ConcurrentVerificationSharesTheCache) {
  Subject s(128 * 128 * kB + 300 * kB);
  std::vector<uint8_t> bad = s.data;
  for (size_t i = 0; i < bad.size(); i += 7 * kB) bad[i] ^= 1;  // every 7th
  auto v = s.Verifier();
  std::atomic<bool> go{false};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  const int kThreads = 4;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      // Each thread walks the file from a different start, so first reads
      // of the same tree blocks race.
      const uint64_t n = s.blocks();
      for (uint64_t k = 0; k < n; ++k) {
        uint64_t i = (k + static_cast<uint64_t>(t) * n / kThreads) % n;
        bool corrupt = i % 7 == 0;
        size_t start = i * kB;
        size_t len = std::min<size_t>(kB, bad.size() - start);
        std::span<const uint8_t> block =
            corrupt ? std::span<const uint8_t>(bad).subspan(start, len)
                    : s.Block(i);
        Status st = v->VerifyBlock(i, block);
        if (corrupt ? st.err() != kErrDigest : !st.ok()) ++wrong;
      }
    });
  }
  go = true;
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  // Racing threads may read a block more than once, but not per lookup.
  EXPECT_GE(static_cast<uint64_t>(s.reads->load()), s.geometry.tree_blocks);
  EXPECT_LE(static_cast<uint64_t>(s.reads->load()),
            kThreads * s.geometry.tree_blocks);
}

}  // namespace
}  // namespace sealfs
