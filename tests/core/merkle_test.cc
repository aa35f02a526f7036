// SPDX-License-Identifier: Apache-2.0
// Tests for fs/core/merkle.cc: tree geometry, the tree file layout (levels
// top first, each block hashed into its parent), and MerkleBuilder chunking.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "sealfs/digest.h"
#include "tests/test_util.h"

namespace sealfs {
namespace {

using ::sealfs::testing::RandomBytes;

constexpr uint64_t kB = kBlockSize;

struct GeometryCase {
  uint64_t size;
  uint64_t data_blocks;
  int levels;
  std::vector<uint64_t> level_blocks;  // leaf level first
  std::vector<uint64_t> level_start;
};

TEST(TreeGeometry, MatchesHandComputedLayouts) {
  const std::vector<GeometryCase> cases = {
      {0, 0, 0, {}, {}},
      {1, 1, 0, {}, {}},
      {kB, 1, 0, {}, {}},
      {kB + 1, 2, 1, {1}, {0}},
      {128 * kB, 128, 1, {1}, {0}},
      {128 * kB + 1, 129, 2, {2, 1}, {1, 0}},
      {128 * 128 * kB, 16384, 2, {128, 1}, {1, 0}},
      {128 * 128 * kB + 1, 16385, 3, {129, 2, 1}, {3, 1, 0}},
      {128 * 128 * 128 * kB + 1,
       2097153,
       4,
       {16385, 129, 2, 1},
       {132, 3, 1, 0}},
  };
  for (const GeometryCase& c : cases) {
    SCOPED_TRACE(c.size);
    TreeGeometry g = TreeGeometry::For(c.size);
    EXPECT_EQ(g.data_size, c.size);
    EXPECT_EQ(g.data_blocks, c.data_blocks);
    ASSERT_EQ(g.levels, c.levels);
    uint64_t total = 0;
    for (size_t l = 0; l < c.level_blocks.size(); ++l) {
      EXPECT_EQ(g.level_blocks[l], c.level_blocks[l]) << "level " << l;
      EXPECT_EQ(g.level_start[l], c.level_start[l]) << "level " << l;
      total += c.level_blocks[l];
    }
    for (size_t l = c.level_blocks.size(); l < g.level_blocks.size(); ++l) {
      EXPECT_EQ(g.level_blocks[l], 0u);
    }
    EXPECT_EQ(g.tree_blocks, total);
    EXPECT_EQ(g.tree_bytes(), total * kB);
  }
}

TEST(TreeGeometry, LargestSizeFitsEightLevels) {
  TreeGeometry g = TreeGeometry::For(UINT64_MAX);
  EXPECT_EQ(g.data_blocks, uint64_t{1} << 52);
  EXPECT_EQ(g.levels, 8);
  EXPECT_EQ(g.level_blocks[7], 1u);
  EXPECT_EQ(g.level_start[7], 0u);
  EXPECT_EQ(g.level_blocks[0], uint64_t{1} << 45);
  EXPECT_GT(g.tree_bytes(), g.tree_blocks);  // no overflow to something small
}

// Checks the tree against the definition, independently of the builder:
// leaf slots are the hashes of the padded data blocks, every other block's
// hash sits in its parent's slot, unused slots are zero, and the top block
// hashes to the digest.
void ExpectTreeFollowsDefinition(const std::vector<uint8_t>& data,
                                 const MerkleTree& t) {
  const TreeGeometry g = TreeGeometry::For(data.size());
  ASSERT_EQ(t.tree.size(), g.tree_bytes());
  ASSERT_GT(g.levels, 0);
  auto slot = [&](size_t level, uint64_t entry) {
    uint64_t byte = (g.level_start[level] * kB) + entry * kDigestSize;
    return t.tree.data() + byte;
  };
  for (uint64_t i = 0; i < g.data_blocks; ++i) {
    std::vector<uint8_t> block(kB, 0);
    size_t len = std::min<size_t>(kB, data.size() - i * kB);
    std::memcpy(block.data(), data.data() + i * kB, len);
    Digest h = Sha256(block);
    ASSERT_EQ(std::memcmp(slot(0, i), h.bytes.data(), kDigestSize), 0)
        << "leaf " << i;
  }
  for (size_t l = 0; l < static_cast<size_t>(g.levels); ++l) {
    const uint64_t entries = l == 0 ? g.data_blocks : g.level_blocks[l - 1];
    const uint64_t capacity = g.level_blocks[l] * kHashesPerBlock;
    for (uint64_t e = entries; e < capacity; ++e) {
      const uint8_t* p = slot(l, e);
      ASSERT_TRUE(
          std::all_of(p, p + kDigestSize, [](uint8_t b) { return b == 0; }))
          << "level " << l << " padding slot " << e;
    }
    if (l + 1 == static_cast<size_t>(g.levels)) break;
    for (uint64_t b = 0; b < g.level_blocks[l]; ++b) {
      Digest h = Sha256({slot(l, b * kHashesPerBlock), kB});
      ASSERT_EQ(std::memcmp(slot(l + 1, b), h.bytes.data(), kDigestSize), 0)
          << "level " << l << " block " << b;
    }
  }
  EXPECT_EQ(g.level_start[static_cast<size_t>(g.levels) - 1], 0u);
  EXPECT_EQ(t.digest, DigestFromRoot(data.size(), Sha256({t.tree.data(), kB})));
}

TEST(MerkleTree, LayoutFollowsDefinition) {
  for (size_t size : {size_t{kB + 1}, size_t{2 * kB}, size_t{128 * kB},
                      size_t{128 * kB + 1}, size_t{300 * kB + 77},
                      size_t{128 * 128 * kB}, size_t{128 * 128 * kB + 1}}) {
    SCOPED_TRACE(size);
    std::vector<uint8_t> data = RandomBytes(size, size);
    ExpectTreeFollowsDefinition(data, ComputeMerkleTree(data));
  }
}

TEST(MerkleTree, SmallFilesHaveNoTree) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{kB}}) {
    EXPECT_TRUE(ComputeMerkleTree(RandomBytes(size, 3)).tree.empty()) << size;
  }
}

TEST(MerkleBuilder, ChunkingDoesNotMatter) {
  const std::vector<uint8_t> data = RandomBytes(200 * kB + 1234, 11);
  const MerkleTree whole = ComputeMerkleTree(data);
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{kB - 1}, size_t{kB},
                       size_t{kB + 1}, size_t{65536}, size_t{1000003}}) {
    MerkleBuilder b;
    for (size_t off = 0; off < data.size(); off += chunk) {
      size_t n = std::min(chunk, data.size() - off);
      b.Update(std::span<const uint8_t>(data).subspan(off, n));
    }
    MerkleTree t = b.Finish();
    EXPECT_EQ(t.digest, whole.digest) << chunk;
    EXPECT_EQ(t.tree, whole.tree) << chunk;
    EXPECT_EQ(t.data_size, data.size());
  }
  // Irregular chunks, with an empty update after each (null and non-null
  // empty spans), so empty updates land on partial blocks.
  MerkleBuilder b;
  std::vector<uint8_t> sizes = RandomBytes(100000, 12);
  size_t off = 0;
  for (size_t i = 0; off < data.size(); ++i) {
    size_t n =
        std::min<size_t>(sizes[i % sizes.size()] * 97u, data.size() - off);
    b.Update(std::span<const uint8_t>(data).subspan(off, n));
    off += n;
    b.Update(std::span<const uint8_t>(data).subspan(off, 0));
    b.Update({});
  }
  EXPECT_EQ(b.Finish().digest, whole.digest);
}

// Past 4 MiB the default may switch to multi-buffer hashing; one block at a
// time must build the same tree, levels above the leaves included.
TEST(MerkleBuilder, OneAtATimeBuildsTheSameTree) {
  const std::vector<uint8_t> data = RandomBytes((5 << 20) + 4321, 13);
  const MerkleTree fastest = ComputeMerkleTree(data);
  MerkleBuilder b(BlockHashing::kOneAtATime);
  b.Update(data);
  MerkleTree t = b.Finish();
  EXPECT_EQ(t.digest, fastest.digest);
  EXPECT_EQ(t.tree, fastest.tree);
}

// Leaves hashed elsewhere (IdentityHasher, two threads) make the same
// digest, at every size where the tree changes shape: no block, one block,
// a partial last block, one full tree block of leaves, one more, and a
// third level.
TEST(DigestFromLeaves, MatchesTheBuilder) {
  const std::vector<uint8_t> data =
      RandomBytes((kHashesPerBlock * kHashesPerBlock + 1) * kB, 17);
  for (size_t size :
       {size_t{0}, size_t{1}, kB, kB + 1, 5 * kB - 7, kHashesPerBlock * kB,
        kHashesPerBlock * kB + 1, data.size() - kB + 1, data.size()}) {
    SCOPED_TRACE(size);
    const std::span<const uint8_t> part = std::span(data).first(size);
    std::vector<Digest> leaves;
    for (size_t off = 0; off < size; off += kB) {
      std::vector<uint8_t> block(kB, 0);
      const size_t n = std::min(kB, size - off);
      std::copy_n(part.begin() + off, n, block.begin());
      leaves.push_back(Sha256(block));
    }
    EXPECT_EQ(DigestFromLeaves(size, leaves), ComputeMerkleTree(part).digest);
    EXPECT_EQ(DigestFromLeaves(size, leaves, BlockHashing::kOneAtATime),
              ComputeMerkleTree(part).digest);
  }
}

TEST(MerkleBuilder, IsReusableAfterFinish) {
  MerkleBuilder b;
  const std::vector<uint8_t> first = RandomBytes(130 * kB + 5, 1);
  const std::vector<uint8_t> second = RandomBytes(3 * kB + 1, 2);
  b.Update(first);
  EXPECT_EQ(b.Finish().digest, ComputeMerkleTree(first).digest);
  b.Update(second);
  MerkleTree t = b.Finish();
  EXPECT_EQ(t.digest, ComputeMerkleTree(second).digest);
  EXPECT_EQ(t.data_size, second.size());
  MerkleTree empty = b.Finish();
  EXPECT_EQ(empty.digest, DigestFromRoot(0, Digest{}));
  EXPECT_EQ(empty.data_size, 0u);
  EXPECT_TRUE(empty.tree.empty());
}

}  // namespace
}  // namespace sealfs
