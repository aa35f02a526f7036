// SPDX-License-Identifier: Apache-2.0
#include "fs/core/identity_hasher.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "sealfs/digest.h"
#include "sealfs/format.h"
#include "tests/test_util.h"

namespace sealfs {
namespace {

// An image as far as IdentityHasher looks at one: a header whose
// manifest_size says where the identity ends, then `trailer` more bytes.
std::vector<uint8_t> FakeImage(size_t manifest_size, size_t trailer) {
  std::vector<uint8_t> bytes = testing::RandomBytes(manifest_size + trailer, 3);
  ManifestHeader header{};
  header.manifest_size.set(manifest_size);
  std::memcpy(bytes.data(), &header, sizeof(header));
  return bytes;
}

// Offers `image` as ReadPrivate reads it, `chunk` bytes at a time.
void Feed(IdentityHasher& hasher, std::span<const uint8_t> image,
          size_t chunk) {
  hasher.Started(image.size());
  for (size_t done = 0; done < image.size();) {
    done = std::min(image.size(), done + chunk);
    hasher.Ready(image.first(done));
  }
}

Digest Expected(std::span<const uint8_t> image, size_t manifest_size) {
  return ComputeMerkleTree(image.first(manifest_size)).digest;
}

TEST(IdentityHasher, HashesTheManifestBytesOfALargeImage) {
  // Sizes on both sides of the switch to multi-buffer hashing (8 MiB).
  for (size_t size : {size_t{1} << 20, (size_t{3} << 20) + 77,
                      (size_t{5} << 20) + 4096, (size_t{9} << 20) + 5}) {
    const std::vector<uint8_t> image = FakeImage(size, 123);
    for (size_t chunk :
         {size_t{7 * 4096 + 3}, size_t{256} << 10, image.size()}) {
      SCOPED_TRACE(::testing::Message() << size << " in " << chunk);
      IdentityHasher hasher;
      Feed(hasher, image, chunk);
      std::optional<Digest> identity = hasher.Finish(size);
      ASSERT_TRUE(identity.has_value());
      EXPECT_EQ(*identity, Expected(image, size));
    }
  }
}

// Finish() hashes alongside the thread whatever it has not reached: here
// every byte arrives at once, so both take chunks from the start.
TEST(IdentityHasher, FinishHashesAlongsideTheThread) {
  const size_t size = (size_t{12} << 20) + 4095;
  const std::vector<uint8_t> image = FakeImage(size, 64);
  const Digest expected = Expected(image, size);
  for (int round = 0; round < 20; ++round) {
    IdentityHasher hasher;
    hasher.Started(image.size());
    hasher.Ready(image);
    std::optional<Digest> identity = hasher.Finish(size);
    ASSERT_TRUE(identity.has_value()) << "round " << round;
    ASSERT_EQ(*identity, expected) << "round " << round;
  }
}

TEST(IdentityHasher, LeavesSmallImagesToTheCaller) {
  const std::vector<uint8_t> image = FakeImage(512 << 10, 0);
  IdentityHasher hasher;
  Feed(hasher, image, 4096);
  EXPECT_FALSE(hasher.Finish(image.size()).has_value());
}

TEST(IdentityHasher, GivesNothingUnlessTheValidatedSizeAgrees) {
  const size_t size = size_t{2} << 20;
  const std::vector<uint8_t> image = FakeImage(size, 4096);
  IdentityHasher hasher;
  Feed(hasher, image, 256 << 10);
  EXPECT_FALSE(hasher.Finish(size + 4096).has_value());
}

TEST(IdentityHasher, GivesNothingWhenTheBytesStopShort) {
  // The header claims more than the file holds (validation refuses such an
  // image; the hasher must neither wait forever nor make up a digest).
  std::vector<uint8_t> image = FakeImage(size_t{2} << 20, 0);
  ManifestHeader header{};
  header.manifest_size.set(size_t{3} << 20);
  std::memcpy(image.data(), &header, sizeof(header));
  IdentityHasher hasher;
  Feed(hasher, image, 256 << 10);
  EXPECT_FALSE(hasher.Finish(size_t{3} << 20).has_value());
}

TEST(IdentityHasher, StopsWhenTheReadFailsOrNobodyFinishes) {
  const std::vector<uint8_t> image = FakeImage(size_t{2} << 20, 0);
  {
    IdentityHasher hasher;
    hasher.Started(image.size());
    hasher.Ready(std::span(image).first(300 << 10));
    hasher.Failed();  // returns only once the buffer is no longer read
    EXPECT_FALSE(hasher.Finish(image.size()).has_value());
  }
  {
    IdentityHasher hasher;  // destroyed waiting for bytes: must not hang
    hasher.Started(image.size());
    hasher.Ready(std::span(image).first(100));
  }
  {
    IdentityHasher hasher;  // a header not even complete yet
    hasher.Started(image.size());
    hasher.Ready(std::span(image).first(10));
    EXPECT_FALSE(hasher.Finish(image.size()).has_value());
  }
}

// Work handed in to run beside the read (a mount reads its keys) runs once,
// to its end before Finish() or Failed() returns, whether or not the file
// is large enough for a hashing thread; and the identity is unchanged.
TEST(IdentityHasher, RunsAlongsideWorkOnceWhateverTheOutcome) {
  for (size_t size : {size_t{100} << 10, size_t{2} << 20}) {
    SCOPED_TRACE(size);
    const std::vector<uint8_t> image = FakeImage(size, 64);
    int runs = 0;
    {
      IdentityHasher hasher([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ++runs;
      });
      Feed(hasher, image, size_t{256} << 10);
      std::optional<Digest> identity = hasher.Finish(size);
      EXPECT_EQ(runs, 1);
      EXPECT_EQ(identity.has_value(), size >= (size_t{1} << 20));
      if (identity.has_value()) {
        EXPECT_EQ(*identity, Expected(image, size));
      }
    }
    EXPECT_EQ(runs, 1);
    int failed_runs = 0;
    IdentityHasher failing([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      ++failed_runs;
    });
    failing.Started(image.size());
    failing.Ready(std::span(image).first(50));
    failing.Failed();
    EXPECT_EQ(failed_runs, 1);
  }
}

}  // namespace
}  // namespace sealfs
