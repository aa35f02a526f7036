// SPDX-License-Identifier: Apache-2.0
// Tests for fs/core/digest.cc and the digest side of fs/core/merkle.cc:
// Digest text forms, SHA-256, pinned fs-verity digests, and a cross-check
// against the real `fsverity digest`.
#include "sealfs/digest.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace sealfs {
namespace {

using ::sealfs::testing::HaveProgram;
using ::sealfs::testing::RandomBytes;
using ::sealfs::testing::Run;
using ::sealfs::testing::TempDir;
using ::sealfs::testing::WriteFile;

// Deterministic content that depends on nothing but the size, so the pinned
// digests below stay valid whatever else changes.
std::vector<uint8_t> Pattern(size_t size) {
  std::vector<uint8_t> out(size);
  for (size_t i = 0; i < size; ++i) {
    out[i] = static_cast<uint8_t>((i * 31 + 7) % 251);
  }
  return out;
}

Result<MerkleTree> TreeOfFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open " + path);
  Result<MerkleTree> t = ComputeMerkleTree(fd);
  ::close(fd);
  return t;
}

// What `fsverity digest PATH` prints, without the trailing newline.
std::string FsverityDigest(const std::string& path) {
  testing::CommandResult r = Run({"fsverity", "digest", path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r.out;
}

TEST(Digest, HexIsLowercaseAndRoundTrips) {
  Digest d;
  for (size_t i = 0; i < kDigestSize; ++i)
    d.bytes[i] = static_cast<uint8_t>(0xA0 + i);
  std::string hex = d.Hex();
  EXPECT_EQ(hex,
            "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf");
  EXPECT_EQ(d.ToString(), "sha256:" + hex);
  Result<Digest> parsed = Digest::Parse(hex);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, d);
  Result<Digest> prefixed = Digest::Parse(d.ToString());
  ASSERT_TRUE(prefixed.ok());
  EXPECT_EQ(*prefixed, d);
}

TEST(Digest, ParseAcceptsUppercase) {
  Result<Digest> d = Digest::Parse(std::string(64, 'F'));
  ASSERT_TRUE(d.ok());
  for (uint8_t b : d->bytes) EXPECT_EQ(b, 0xFF);
}

TEST(Digest, ParseRejectsMalformedText) {
  // Built with append() rather than operator+, which trips g++ 12's
  // -Wrestrict false positive at -O3.
  const std::string good(64, 'a');
  auto cat = [](std::string a, const std::string& b) { return a.append(b); };
  const std::vector<std::string> bad = {
      "",
      "sha256:",
      good.substr(1),
      cat(good, "a"),
      cat(good, "aa"),
      cat("g", good.substr(1)),
      cat(good.substr(1), " "),
      cat(" ", good.substr(1)),
      cat("sha512:", good),
      cat("SHA256:", good),
      cat("sha256:sha256:", good),
      cat(std::string(1, '\0'), good.substr(1)),
  };
  for (const std::string& text : bad) {
    Result<Digest> d = Digest::Parse(text);
    ASSERT_FALSE(d.ok()) << "accepted '" << text << "'";
    EXPECT_EQ(d.status().err(), EINVAL) << text;
  }
}

TEST(Digest, OrderingAndHashFollowBytes) {
  Digest a, b;
  b.bytes[31] = 1;
  EXPECT_LT(a, b);
  EXPECT_NE(a, b);
  std::unordered_set<Digest, DigestHash> set = {a, b, a};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(DigestHash()(a), DigestHash()(Digest{}));
}

TEST(Sha256, KnownAnswers) {
  // FIPS 180-2 examples.
  EXPECT_EQ(Sha256({}).Hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string abc = "abc";
  EXPECT_EQ(
      Sha256({reinterpret_cast<const uint8_t*>(abc.data()), abc.size()}).Hex(),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::vector<uint8_t> million_a(1000000, 'a');
  EXPECT_EQ(Sha256(million_a).Hex(),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// The batch hasher (multi-buffer where built in) agrees with Sha256() of
// each block, for batch sizes around its lane counts, and across threads
// that share its pool of managers. A process hashes its first 4 MiB one
// block at a time (sha256_blocks.cc), so the tests hash more than that
// first, to reach the multi-buffer path.
void HashPastTheFirstMegabytes() {
  std::vector<uint8_t> zeros(8 << 20);
  std::vector<Digest> out(zeros.size() / kBlockSize);
  Sha256Blocks(zeros, out.data());
  Sha256Blocks(zeros, out.data());
  EXPECT_EQ(out.back(),
            Sha256(std::span<const uint8_t>(zeros).first(kBlockSize)));
}

TEST(Sha256Blocks, MatchesOneBlockAtATime) {
  HashPastTheFirstMegabytes();
  for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{7},
                   size_t{8}, size_t{15}, size_t{16}, size_t{17}, size_t{64},
                   size_t{200}}) {
    SCOPED_TRACE(n);
    std::vector<uint8_t> data = RandomBytes(n * kBlockSize, n + 1);
    std::vector<Digest> got(n + 1);
    const Digest sentinel = got[n];
    Sha256Blocks(data, got.data());
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(got[i], Sha256(std::span<const uint8_t>(data).subspan(
                            i * kBlockSize, kBlockSize)))
          << "block " << i;
    }
    EXPECT_EQ(got[n], sentinel);  // nothing written past the n-th
  }
}

TEST(Sha256Blocks, OneAtATimeMatchesToo) {
  HashPastTheFirstMegabytes();  // where kFastest would go multi-buffer
  std::vector<uint8_t> data = RandomBytes(100 * kBlockSize, 7);
  std::vector<Digest> fastest(100), plain(100);
  Sha256Blocks(data, fastest.data());
  Sha256Blocks(data, plain.data(), BlockHashing::kOneAtATime);
  EXPECT_EQ(plain, fastest);
  EXPECT_EQ(plain[99], Sha256(std::span<const uint8_t>(data).subspan(
                           99 * kBlockSize, kBlockSize)));
}

TEST(Sha256Blocks, SameResultOnManyThreads) {
  HashPastTheFirstMegabytes();
  std::vector<uint8_t> data = RandomBytes(64 * kBlockSize, 9);
  std::vector<Digest> want(64);
  for (size_t i = 0; i < 64; ++i) {
    want[i] = Sha256(
        std::span<const uint8_t>(data).subspan(i * kBlockSize, kBlockSize));
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      std::vector<Digest> got(64);
      for (int i = 0; i < 50; ++i) {
        Sha256Blocks(data, got.data());
        if (got != want) ++mismatches;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(Sha256, SameResultOnManyThreads) {
  std::vector<uint8_t> data = RandomBytes(10000, 5);
  const Digest want = Sha256(data);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (Sha256(data) != want) ++mismatches;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// Digests of Pattern(size), computed by `fsverity digest` (fsverity-utils
// 1.5) and pinned, so a regression shows even where fsverity is missing.
struct KnownAnswer {
  uint64_t size;
  const char* digest;
};
constexpr KnownAnswer kKnownAnswers[] = {
    {0, "3d248ca542a24fc62d1c43b916eae5016878e2533c88238480b26128a1f1af95"},
    {1, "f30ad420d7e839002c5bfec7fe47367c7cd3759445359f0c9ac78bac40d9108f"},
    {4095, "377b08a7e377c0e5028a148d510f48b04a9a020d86627efd69b36b9521aef339"},
    {4096, "c08bc67f36b96127139d2f5746831996f90fb2cfb4e3a58d920cbd75ffeedaf6"},
    {4097, "a5250fbdd10ee3c2aeee355361e2c43971460e7cbe4cba426653c5597cdedbbf"},
    {8192, "3e5ad13107a86bdae363ee8b592127416c0d7cd76a6acb6d9c240a517a84167f"},
    {524288,  // 128 blocks: one full leaf tree block
     "8a38141db113c14d06e0dd99960cea7c173c9bda9b7d2e45cac520428580455c"},
    {524289,  // 129 blocks: two levels
     "41a2ee76be9e29bd8f583ad3561deb2bf86b6d65fe72e14e8efa544c064d815f"},
    {1000000,
     "b6105d8f151196381d3c0213a775de09481de7114745ac910c3845b41d2cb3ae"},
    {67108864,  // 128*128 blocks: two full levels
     "b2847b933cf5a1044285da45474275e89ed83f11241b676d48846171141cfa29"},
    {67108865,  // 128*128 + 1 blocks: three levels
     "13fa1a14fadb10c31cedfe8edc319230759d05924f4bd8ee00bbcef928bf6133"},
};

TEST(FsverityDigest, MatchesPinnedDigests) {
  for (const KnownAnswer& k : kKnownAnswers) {
    MerkleTree t = ComputeMerkleTree(Pattern(k.size));
    EXPECT_EQ(t.digest.Hex(), k.digest) << "size " << k.size;
    EXPECT_EQ(t.data_size, k.size);
    EXPECT_EQ(t.tree.size(), TreeGeometry::For(k.size).tree_bytes());
  }
}

TEST(FsverityDigest, EmptyFileHasZeroRootHash) {
  EXPECT_EQ(DigestFromRoot(0, Digest{}).Hex(), kKnownAnswers[0].digest);
  EXPECT_TRUE(ComputeMerkleTree(std::span<const uint8_t>()).tree.empty());
}

TEST(FsverityDigest, SingleBlockRootIsHashOfPaddedBlock) {
  std::vector<uint8_t> data = Pattern(100);
  std::vector<uint8_t> padded = data;
  padded.resize(kBlockSize, 0);
  MerkleTree t = ComputeMerkleTree(data);
  EXPECT_EQ(t.digest, DigestFromRoot(100, Sha256(padded)));
  EXPECT_TRUE(t.tree.empty());
}

TEST(FsverityDigest, DigestDependsOnSizeNotJustPaddedContent) {
  // 4095 bytes and the same bytes plus one zero pad to the same block; the
  // descriptor's data_size must still tell them apart.
  std::vector<uint8_t> a = Pattern(4095);
  std::vector<uint8_t> b = a;
  b.push_back(0);
  EXPECT_NE(ComputeMerkleTree(a).digest, ComputeMerkleTree(b).digest);
}

TEST(FsverityDigest, MatchesFsverityToolOnEdgeAndRandomSizes) {
  if (!HaveProgram("fsverity")) GTEST_SKIP() << "fsverity not installed";
  TempDir dir;
  std::vector<uint64_t> sizes = {0,
                                 1,
                                 4095,
                                 4096,
                                 4097,
                                 128 * 4096 - 1,
                                 128 * 4096,
                                 128 * 4096 + 1,
                                 129 * 4096,
                                 128 * 128 * 4096,
                                 128 * 128 * 4096 + 1};
  std::vector<uint8_t> sizes_seed = RandomBytes(8 * 6, 99);
  for (size_t i = 0; i < 6; ++i) {
    uint64_t v = 0;
    for (size_t k = 0; k < 8; ++k)
      v |= uint64_t{sizes_seed[8 * i + k]} << (8 * k);
    sizes.push_back(v % (3 << 20));  // up to 3 MiB
  }
  for (size_t i = 0; i < sizes.size(); ++i) {
    const uint64_t size = sizes[i];
    std::string path = dir / ("size" + std::to_string(size));
    std::vector<uint8_t> data = RandomBytes(size, 1000 + i);
    WriteFile(path, data);
    std::string want = FsverityDigest(path);

    Result<MerkleTree> from_fd = TreeOfFile(path);
    ASSERT_TRUE(from_fd.ok()) << from_fd.status().ToString();
    EXPECT_EQ(from_fd->digest.ToString() + " " + path, want) << "size " << size;

    MerkleTree from_memory = ComputeMerkleTree(data);
    EXPECT_EQ(from_memory.digest, from_fd->digest) << "size " << size;
    EXPECT_EQ(from_memory.tree, from_fd->tree) << "size " << size;
  }
}

TEST(FsverityDigest, FdVersionLeavesOffsetAlone) {
  TempDir dir;
  std::string path = dir / "f";
  WriteFile(path, Pattern(3 << 20));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::lseek(fd, 12345, SEEK_SET), 12345);
  Result<MerkleTree> t = ComputeMerkleTree(fd);
  EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), 12345);
  ::close(fd);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->digest, ComputeMerkleTree(Pattern(3 << 20)).digest);
}

TEST(FsverityDigest, FdVersionWithReadAheadMatchesMemory) {
  // Files of 8 MiB and more are read by a second thread; cover the sizes
  // where its 1 MiB chunks and 3-slot ring wrap or end exactly.
  TempDir dir;
  for (size_t size :
       {size_t{8} << 20, (size_t{8} << 20) + 1, (size_t{11} << 20) - 1,
        size_t{12} << 20, (size_t{13} << 20) + 4097}) {
    std::string path = dir / std::to_string(size);
    std::vector<uint8_t> data = RandomBytes(size, size);
    WriteFile(path, data);
    Result<MerkleTree> t = TreeOfFile(path);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    MerkleTree want = ComputeMerkleTree(data);
    EXPECT_EQ(t->digest, want.digest) << size;
    EXPECT_EQ(t->tree, want.tree) << size;
    EXPECT_EQ(t->data_size, size);
  }
}

TEST(FsverityDigest, FdVersionReportsReadErrors) {
  // A directory cannot be read: EISDIR, not a digest of nothing.
  TempDir dir;
  int fd = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  Result<MerkleTree> t = ComputeMerkleTree(fd);
  ::close(fd);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().err(), EISDIR);

  // A large regular file takes the read-ahead path; a write-only fd makes
  // its reader thread fail, and the error must come back, not a digest.
  std::string big = dir / "big";
  WriteFile(big, std::vector<uint8_t>(size_t{9} << 20, 1));
  int wfd = ::open(big.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(wfd, 0);
  Result<MerkleTree> w = ComputeMerkleTree(wfd);
  ::close(wfd);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().err(), EBADF);

  Result<MerkleTree> bad_fd = ComputeMerkleTree(-1);
  ASSERT_FALSE(bad_fd.ok());
  EXPECT_EQ(bad_fd.status().err(), EBADF);
}

}  // namespace
}  // namespace sealfs
