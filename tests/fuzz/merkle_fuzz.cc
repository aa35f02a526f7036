// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for BlockVerifier: a fixed file and its trusted digest;
// the fuzzer rewrites the (untrusted) tree and the data blocks offered. The
// verifier must never accept a block that differs from the true one: any
// such acceptance traps. Build and run: scripts/fuzz.sh merkle SECONDS.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "sealfs/digest.h"
#include "sealfs/format.h"

namespace {

using sealfs::kBlockSize;

// 20 full leaves' worth of blocks plus a tail: two tree levels (level 0 has
// 21 blocks, enough for runs of siblings read together) and a short last
// data block, so every path through the verifier is reachable.
constexpr uint64_t kDataSize = 20 * 128 * kBlockSize + 100;

struct Fixture {
  std::vector<uint8_t> data;
  sealfs::MerkleTree tree;
  Fixture() : data(kDataSize) {
    uint32_t x = 2463534242u;  // xorshift: deterministic, no libc state
    for (uint8_t& b : data) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      b = static_cast<uint8_t>(x);
    }
    tree = sealfs::ComputeMerkleTree(data);
  }
};

const Fixture& TheFixture() {
  static const Fixture* fixture = new Fixture();  // never destroyed
  return *fixture;
}

// Consumes little-endian integers and byte runs from the fuzz input.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint32_t U32() {
    uint32_t v = 0;
    for (int i = 0; i < 4 && pos_ < size_; ++i) v |= uint32_t{data_[pos_++]} << (8 * i);
    return v;
  }
  uint8_t U8() { return pos_ < size_ ? data_[pos_++] : 0; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace

// Input: a series of operations. Each is an opcode byte and arguments:
//   0: XOR a byte of the tree       (u32 offset, u8 mask)
//   1: verify block                 (u32 index, u32 offset, u8 mask, u8 cut)
//        the block is the true one with one byte XORed and `cut` bytes
//        dropped from its end; an out-of-range index is allowed.
//   2: truncate the tree            (u32 new size)
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const Fixture& f = TheFixture();
  std::vector<uint8_t> tree = f.tree.tree;
  sealfs::BlockVerifier verifier(
      f.tree.digest, kDataSize,
      [&tree](uint64_t index, std::span<uint8_t> out) -> sealfs::Status {
        if (!sealfs::TreeBlocksInRange(index, out.size(),
                                       tree.size() / kBlockSize)) {
          return sealfs::Status::Corrupt("tree short");
        }
        std::memcpy(out.data(), tree.data() + index * kBlockSize, out.size());
        return {};
      });
  Input in(bytes, size);
  const uint64_t blocks = (kDataSize + kBlockSize - 1) / kBlockSize;
  for (int ops = 0; !in.empty() && ops < 64; ++ops) {
    switch (in.U8() % 3) {
      case 0: {
        const uint32_t off = in.U32();
        const uint8_t mask = in.U8();
        if (!tree.empty()) tree[off % tree.size()] ^= mask;
        break;
      }
      case 1: {
        const uint64_t index = in.U32() % (blocks + 2);
        const uint32_t off = in.U32();
        const uint8_t mask = in.U8();
        const uint8_t cut = in.U8();
        const uint64_t start = std::min<uint64_t>(index * kBlockSize, kDataSize);
        const uint64_t len = std::min<uint64_t>(kBlockSize, kDataSize - start);
        std::vector<uint8_t> block(f.data.begin() + static_cast<ptrdiff_t>(start),
                                   f.data.begin() + static_cast<ptrdiff_t>(start + len));
        if (!block.empty()) block[off % block.size()] ^= mask;
        block.resize(block.size() - std::min<size_t>(cut, block.size()));
        const bool genuine =
            index < blocks && block.size() == len &&
            std::equal(block.begin(), block.end(), f.data.begin() + static_cast<ptrdiff_t>(start));
        if (verifier.VerifyBlock(index, block).ok() && !genuine) {
          __builtin_trap();  // accepted bytes that are not the file's
        }
        break;
      }
      default:
        tree.resize(in.U32() % (f.tree.tree.size() + 1));
        break;
    }
  }
  return 0;
}
