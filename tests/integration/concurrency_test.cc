// SPDX-License-Identifier: Apache-2.0
// Many threads reading random ranges of random files for a while, every
// byte compared with the source.
#include <chrono>
#include <string>
#include <vector>

#include "tests/integration/mount_fixture.h"
#include "tests/integration/random_readers.h"

namespace sealfs::testing {
namespace {

class ConcurrencyTest : public MountTest {};

TEST_F(ConcurrencyTest, SixteenThreadsReadRandomRangesCorrectly) {
  std::string src = tmp_ / "src";
  const size_t sizes[] = {0,       1,
                          100,     4095,
                          4096,    4097,
                          65536,   700 * 1024 + 5,
                          3 << 20, (1 << 20) + 12345};
  std::vector<std::string> names;
  std::vector<std::vector<uint8_t>> contents;
  for (size_t i = 0; i < std::size(sizes); ++i) {
    std::string name(1, 'f');
    name.append(std::to_string(i));
    names.push_back(name);
    contents.push_back(RandomBytes(sizes[i], 100 + i));
    WriteFile(src + "/" + names.back(), contents.back());
  }
  // Two names for one content: both share one open object in the daemon.
  names.push_back("same-as-f8");
  contents.push_back(contents[8]);
  WriteFile(src + "/same-as-f8", contents.back());
  MakeKey(tmp_ / "key");
  Mkfs(src, tmp_ / "image", tmp_ / "key");
  std::string mnt = tmp_ / "mnt";
  MountOk(tmp_ / "image", mnt,
          "store=" + store_ + ",pubkey=" + (tmp_ / "key.pub") + ",threads=8");

  std::vector<ReaderFile> files;
  for (size_t i = 0; i < names.size(); ++i) {
    files.push_back({mnt + "/" + names[i], contents[i]});
  }
  ReaderStats stats = ReadRandomly(files, 16, std::chrono::seconds(20));
  EXPECT_GT(stats.reads, 1000u);
  EXPECT_EQ(stats.mismatches, 0u);
  EXPECT_EQ(stats.errors, 0u);
}

}  // namespace
}  // namespace sealfs::testing
