// SPDX-License-Identifier: Apache-2.0
// Tests for access lists (fs/remote/access_list.cc): lines round-trip odd
// names, and a list orders the prefetch, then the rest follows.
#include "fs/remote/access_list.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/core/manifest_test_util.h"

namespace sealfs::remote {
namespace {

using ::sealfs::testing::AddAt;
using ::sealfs::testing::DirSpec;
using ::sealfs::testing::InlineFile;
using ::sealfs::testing::StoredFile;

std::shared_ptr<const Manifest> Image() {
  ImageTree t(DirSpec());
  NodeId bin = AddAt(t, ImageTree::kRoot, "bin", DirSpec());
  AddAt(t, bin, "sh", StoredFile(10000, 0x11));
  AddAt(t, bin, "ls", StoredFile(20000, 0x22));
  AddAt(t, bin, "ls.copy", StoredFile(20000, 0x22));  // the same object
  AddAt(t, ImageTree::kRoot, "odd\nname\\", StoredFile(30000, 0x33));
  AddAt(t, ImageTree::kRoot, "inline", InlineFile("tiny"));
  AddAt(t, ImageTree::kRoot, "last", StoredFile(40000, 0x44));
  Result<std::shared_ptr<const Manifest>> m =
      Manifest::FromBytes(::sealfs::testing::MustWrite(t));
  EXPECT_TRUE(m.ok());
  return *m;
}

std::vector<uint8_t> Fills(const std::vector<PullItem>& items) {
  std::vector<uint8_t> fills;
  for (const PullItem& item : items) fills.push_back(item.digest.bytes[0]);
  return fills;
}

TEST(AccessList, LinesEscapeBackslashAndNewlineOnly) {
  EXPECT_EQ(FormatAccessLine("/usr/bin/env"), "/usr/bin/env\n");
  EXPECT_EQ(FormatAccessLine("/a\nb\\c\td"), "/a\\nb\\\\c\td\n");
}

TEST(AccessList, ListedFilesComeFirstThenTheRestOnce) {
  std::shared_ptr<const Manifest> image = Image();
  uint64_t unknown = 0;
  const std::string list =
      FormatAccessLine("/last") + FormatAccessLine("/odd\nname\\") +
      FormatAccessLine("/no/such") + FormatAccessLine("/inline") +
      FormatAccessLine("/bin/ls.copy") + FormatAccessLine("/bin/ls") + "\n";
  Result<std::vector<PullItem>> order = PrefetchOrder(*image, list, &unknown);
  ASSERT_TRUE(order.ok()) << order.status().ToString();
  EXPECT_EQ(Fills(*order), (std::vector<uint8_t>{0x44, 0x33, 0x22, 0x11}));
  EXPECT_EQ(unknown, 1u);
  EXPECT_EQ((*order)[0].size, 40000u);
}

TEST(AccessList, EmptyListIsTheImageOrder) {
  uint64_t unknown = 7;
  Result<std::vector<PullItem>> order = PrefetchOrder(*Image(), "", &unknown);
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(order->size(), 4u);
  EXPECT_EQ(unknown, 0u);
}

TEST(AccessList, MalformedLinesAreRefusedByNumber) {
  uint64_t unknown = 0;
  Result<std::vector<PullItem>> order =
      PrefetchOrder(*Image(), "/bin/sh\nbin/ls\n", &unknown);
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.status().err(), kErrCorrupt);
  EXPECT_NE(order.status().context().find("line 2"), std::string::npos);
  EXPECT_EQ(PrefetchOrder(*Image(), "/a\\x\n", &unknown).status().err(),
            kErrCorrupt);
  EXPECT_EQ(PrefetchOrder(*Image(), "/a\\", &unknown).status().err(),
            kErrCorrupt);
}

}  // namespace
}  // namespace sealfs::remote
