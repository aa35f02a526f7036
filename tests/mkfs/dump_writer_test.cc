// SPDX-License-Identifier: Apache-2.0
// Tests of DumpImage and BuildImageFromDump: the canonical dump of a full
// tree, and the round trips tree -> image -> dump -> image -> dump.
#include "fs/mkfs/dump_writer.h"

#include <sys/stat.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fs/mkfs/dump_parser.h"
#include "fs/mkfs/mkfs.h"
#include "fs/mkfs/mkfs_dump.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/manifest_writer.h"
#include "tests/mkfs/test_tree.h"
#include "tests/test_util.h"

namespace sealfs::mkfs {
namespace {

using ::sealfs::testing::MakeFullTree;
using ::sealfs::testing::TempDir;
using ::sealfs::testing::WriteFile;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class DumpRoundTripTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = work_ / "src";
    ASSERT_EQ(mkdir(src_.c_str(), 0755), 0);
    MakeFullTree(src_);
    MkfsOptions o;
    o.source = src_;
    o.image = work_ / "a.img";
    o.store = work_ / "store";
    o.threads = 2;
    Result<MkfsReport> r = BuildImage(o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    Result<std::shared_ptr<const Manifest>> m = Manifest::Open(o.image);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    image_ = *m;
  }

  TempDir work_;
  std::string src_;
  std::shared_ptr<const Manifest> image_;
};

TEST_F(DumpRoundTripTest, DumpParsesBackToTheSameManifestBytes) {
  Result<std::string> dump = DumpImage(*image_);
  ASSERT_TRUE(dump.ok()) << dump.status().ToString();
  Result<ParsedDump> parsed = ParseDump(*dump);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  Result<std::vector<uint8_t>> bytes = WriteManifest(parsed->tree);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  std::span<const uint8_t> original = image_->manifest_bytes();
  EXPECT_TRUE(std::equal(original.begin(), original.end(), bytes->begin(),
                         bytes->end()));
  Result<std::shared_ptr<const Manifest>> again =
      Manifest::FromBytes(std::move(*bytes));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->identity(), image_->identity());
  Result<std::string> dump2 = DumpImage(**again);
  ASSERT_TRUE(dump2.ok());
  EXPECT_EQ(*dump2, *dump);
}

TEST_F(DumpRoundTripTest, DumpIsCanonical) {
  Result<std::string> dump = DumpImage(*image_);
  ASSERT_TRUE(dump.ok());
  std::vector<std::string> lines = Lines(*dump);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0].rfind("/ 0 40", 0), 0u) << lines[0];
  int hard_links = 0;
  for (const std::string& line : lines) {
    std::vector<std::string> f;
    std::istringstream in(line);
    for (std::string w; std::getline(in, w, ' ');) f.push_back(w);
    ASSERT_GE(f.size(), 11u) << line;
    if (f[2][0] == '@') {
      ++hard_links;
      EXPECT_EQ(f[8][0], '/') << line;  // PAYLOAD names the first path
    }
    if (f[2].rfind("100", 0) == 0 && f[10] != "-") {
      EXPECT_EQ(f[8], f[10].substr(0, 2) + "/" + f[10].substr(2)) << line;
      EXPECT_EQ(f[9], "-");
    }
  }
  EXPECT_GT(hard_links, 0);
}

TEST_F(DumpRoundTripTest, MkfsFromDumpGivesTheSameIdentity) {
  Result<std::string> dump = DumpImage(*image_);
  ASSERT_TRUE(dump.ok());
  WriteFile(work_ / "dump", *dump);
  DumpMkfsOptions o;
  o.output.image = work_ / "b.img";
  o.output.store = work_ / "store";
  o.dump_path = work_ / "dump";
  Result<DumpMkfsReport> r = BuildImageFromDump(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->identity, image_->identity());
  EXPECT_EQ(r->objects_missing, 0u);
  EXPECT_GT(r->files, 0u);
}

TEST_F(DumpRoundTripTest, MkfsFromDumpNamesAMissingObject) {
  Result<std::string> dump = DumpImage(*image_);
  ASSERT_TRUE(dump.ok());
  WriteFile(work_ / "dump", *dump);
  DumpMkfsOptions o;
  o.output.image = work_ / "b.img";
  o.output.store = work_ / "empty-store";
  o.dump_path = work_ / "dump";
  ASSERT_EQ(mkdir(o.output.store.c_str(), 0755), 0);
  ASSERT_EQ(mkdir((o.output.store + "/objects").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((o.output.store + "/trees").c_str(), 0755), 0);
  Result<DumpMkfsReport> r = BuildImageFromDump(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().err(), ENOENT);
  EXPECT_NE(r.status().context().find("is not in store"), std::string::npos);
  EXPECT_NE(r.status().context().find("sha256:"), std::string::npos);
  struct stat st;
  EXPECT_NE(lstat(o.output.image.c_str(), &st), 0);

  o.allow_missing = true;
  r = BuildImageFromDump(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->identity, image_->identity());
  EXPECT_GT(r->objects_missing, 0u);
}

TEST(DumpWriter, EscapesAndInlineContent) {
  InodeSpec root;
  root.mode = S_IFDIR | 0755;
  ImageTree tree(root);
  InodeSpec f;
  f.mode = S_IFREG | 0600;
  f.size = 1;
  f.inline_data = "-";
  f.mtime_sec = -2;
  f.mtime_nsec = 7;
  f.xattrs = {{"user.a=b", "x y"}};
  ASSERT_TRUE(tree.Link(ImageTree::kRoot, "a b", tree.AddInode(f)).ok());
  Result<std::vector<uint8_t>> bytes = WriteManifest(tree);
  ASSERT_TRUE(bytes.ok());
  Result<std::shared_ptr<const Manifest>> m =
      Manifest::FromBytes(std::move(*bytes));
  ASSERT_TRUE(m.ok());
  Result<std::string> dump = DumpImage(**m);
  ASSERT_TRUE(dump.ok());
  EXPECT_EQ(*dump,
            "/ 0 40755 2 0 0 0 0.0 - - -\n"
            "/a\\x20b 1 100600 1 0 0 0 -2.7 - \\x2d - "
            "user.a\\x3db=x\\x20y\n");
}

}  // namespace
}  // namespace sealfs::mkfs
