// SPDX-License-Identifier: Apache-2.0
// Tests for ImageTree and WriteManifest: name and link rules, spec
// validation, numbering, dedupe, layout, determinism and a golden identity.
#include "sealfs/manifest_writer.h"

#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sealfs/digest.h"
#include "sealfs/manifest_reader.h"
#include "tests/core/manifest_test_util.h"

namespace sealfs {
namespace {

using testing::AddAt;
using testing::DirSpec;
using testing::FakeDigest;
using testing::InlineFile;
using testing::MustWrite;
using testing::StoredFile;
using testing::SymlinkSpec;

std::shared_ptr<const Manifest> MustOpen(std::vector<uint8_t> bytes) {
  auto m = Manifest::FromBytes(std::move(bytes));
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? *m : nullptr;
}

TEST(ImageTree, LinkRejectsInvalidNames) {
  ImageTree t(DirSpec());
  NodeId f = t.AddInode(InlineFile("x"));
  for (const std::string& bad :
       {std::string(), std::string("."), std::string(".."), std::string("a/b"),
        std::string("/"), std::string("a\0b", 3), std::string(256, 'n')}) {
    Status s = t.Link(ImageTree::kRoot, bad, f);
    EXPECT_EQ(s.err(), EINVAL) << "name of " << bad.size() << " bytes";
  }
  EXPECT_TRUE(t.Link(ImageTree::kRoot, std::string(255, 'n'), f).ok());
  EXPECT_TRUE(t.Link(ImageTree::kRoot, "...", f).ok());
}

TEST(ImageTree, LinkErrors) {
  ImageTree t(DirSpec());
  NodeId f = AddAt(t, ImageTree::kRoot, "f", InlineFile("x"));
  NodeId d = AddAt(t, ImageTree::kRoot, "d", DirSpec());
  EXPECT_EQ(t.Link(ImageTree::kRoot, "f", f).err(), EEXIST);
  EXPECT_EQ(t.Link(f, "x", d).err(), ENOTDIR);
  EXPECT_EQ(t.Link(ImageTree::kRoot, "d2", d).err(), EMLINK);
  EXPECT_EQ(t.Link(d, "root", ImageTree::kRoot).err(), EMLINK);
  EXPECT_EQ(t.Link(d, "self", d).err(), EMLINK);
  // Hard links to non-directories are fine.
  EXPECT_TRUE(t.Link(d, "f2", f).ok());
}

TEST(ImageTree, LookupAndUnlink) {
  ImageTree t(DirSpec());
  NodeId f = AddAt(t, ImageTree::kRoot, "f", InlineFile("x"));
  NodeId d = AddAt(t, ImageTree::kRoot, "d", DirSpec());
  AddAt(t, d, "inner", InlineFile("y"));
  auto r = t.Lookup(ImageTree::kRoot, "f");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, f);
  EXPECT_EQ(t.Lookup(ImageTree::kRoot, "g").status().err(), ENOENT);
  EXPECT_EQ(t.Lookup(f, "g").status().err(), ENOTDIR);
  EXPECT_EQ(t.Unlink(ImageTree::kRoot, "g").err(), ENOENT);
  EXPECT_EQ(t.Unlink(f, "g").err(), ENOTDIR);

  // An unlinked directory's subtree is not written, and it may be re-linked.
  ASSERT_TRUE(t.Unlink(ImageTree::kRoot, "d").ok());
  auto m = MustOpen(MustWrite(t));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->inode_count(), 2u);
  EXPECT_TRUE(t.Link(ImageTree::kRoot, "moved", d).ok());
  m = MustOpen(MustWrite(t));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->inode_count(), 4u);
}

TEST(WriteManifest, RejectsSpecsNamingThePath) {
  struct Case {
    InodeSpec spec;
    std::string message;
  };
  InodeSpec both = StoredFile(3, 1);
  both.inline_data = "abc";
  InodeSpec neither;
  neither.mode = S_IFREG | 0644;
  neither.size = 3;
  InodeSpec mismatch = InlineFile("abc");
  mismatch.size = 4;
  InodeSpec dup_xattr = InlineFile("a");
  dup_xattr.xattrs = {{"user.k", "1"}, {"user.k", "2"}};
  InodeSpec empty_key = InlineFile("a");
  empty_key.xattrs = {{"", "1"}};
  InodeSpec long_key = InlineFile("a");
  long_key.xattrs = {{"user." + std::string(251, 'k'), "1"}};
  InodeSpec big_value = InlineFile("a");
  big_value.xattrs = {{"user.k", std::string(65537, 'v')}};
  InodeSpec unknown_type;
  unknown_type.mode = 0160000 | 0644;
  InodeSpec bad_nsec = InlineFile("a");
  bad_nsec.mtime_nsec = 1000000000;
  InodeSpec content_on_dev = testing::SpecialSpec(S_IFCHR, 1, 3);
  content_on_dev.inline_data = "x";
  const std::vector<Case> cases = {
      {InlineFile(std::string(4097, 'x')),
       "/usr/bin/x: inline data larger than 4096 bytes"},
      {both, "/usr/bin/x: both a digest and inline data"},
      {neither, "/usr/bin/x: neither a digest nor inline data"},
      {mismatch, "/usr/bin/x: inline data length differs from size"},
      {SymlinkSpec(""), "/usr/bin/x: empty symlink target"},
      {SymlinkSpec(std::string(4096, 't')),
       "/usr/bin/x: symlink target longer than 4095 bytes"},
      {SymlinkSpec(std::string("a\0b", 3)),
       "/usr/bin/x: symlink target contains NUL"},
      {dup_xattr, "/usr/bin/x: xattr user.k given twice"},
      {empty_key, "/usr/bin/x: empty xattr name"},
      {long_key, "/usr/bin/x: xattr name longer than 255 bytes"},
      {big_value, "/usr/bin/x: xattr user.k: value larger than 65536 bytes"},
      {unknown_type, "/usr/bin/x: unknown file type"},
      {bad_nsec, "/usr/bin/x: mtime nanoseconds out of range"},
      {content_on_dev, "/usr/bin/x: content on a non-regular file"},
  };
  for (const Case& c : cases) {
    ImageTree t(DirSpec());
    NodeId usr = AddAt(t, ImageTree::kRoot, "usr", DirSpec());
    NodeId bin = AddAt(t, usr, "bin", DirSpec());
    AddAt(t, bin, "x", c.spec);
    auto r = WriteManifest(t);
    ASSERT_FALSE(r.ok()) << c.message;
    EXPECT_EQ(r.status().err(), EINVAL);
    EXPECT_EQ(r.status().context(), c.message);
  }
}

TEST(WriteManifest, ErrorPathsStayOnOneLine) {
  ImageTree t(DirSpec());
  NodeId d = AddAt(t, ImageTree::kRoot, "bad\nname\\", DirSpec());
  InodeSpec bad = InlineFile("x");
  bad.mtime_nsec = 1000000000;
  AddAt(t, d, "\x7f\xc3\xa9", bad);
  auto r = WriteManifest(t);
  EXPECT_EQ(r.status().err(), EINVAL);
  EXPECT_EQ(r.status().context(),
            "/bad\\x0aname\\x5c/\\x7f\xc3\xa9: mtime nanoseconds out of range");
}

TEST(WriteManifest, RejectsNonDirectoryRoot) {
  ImageTree t(InlineFile("x"));
  EXPECT_EQ(WriteManifest(t).status().err(), EINVAL);
}

TEST(WriteManifest, RejectsDirectoryMadeFromHardLinkedFile) {
  // Link() keeps directories single-parent; a spec edited afterwards must
  // not smuggle a second parent past the writer.
  ImageTree t(DirSpec());
  NodeId f = AddAt(t, ImageTree::kRoot, "a", InlineFile(""));
  ASSERT_TRUE(t.Link(ImageTree::kRoot, "b", f).ok());
  t.inode(f) = DirSpec();
  auto r = WriteManifest(t);
  EXPECT_EQ(r.status().err(), EINVAL);
  EXPECT_EQ(r.status().context(), "/b: directory linked more than once");
}

TEST(WriteManifest, NumbersBreadthFirstInByteOrder) {
  ImageTree t(DirSpec());
  NodeId z = AddAt(t, ImageTree::kRoot, "z", DirSpec());
  AddAt(t, z, "deep", InlineFile("1"));
  AddAt(t, ImageTree::kRoot, "\xc3\xa9", InlineFile("2"));  // sorts last
  AddAt(t, ImageTree::kRoot, "B", InlineFile("3"));
  AddAt(t, ImageTree::kRoot, "a", InlineFile("4"));
  auto m = MustOpen(MustWrite(t));
  ASSERT_NE(m, nullptr);
  // Root level: "B" < "a" < "z" < "\xc3\xa9", then z's entries.
  const std::vector<std::pair<std::string, uint64_t>> want = {
      {"B", 2}, {"a", 3}, {"z", 4}, {"\xc3\xa9", 5}};
  for (const auto& [name, ino] : want) {
    auto r = m->Lookup(kRootIno, name);
    ASSERT_TRUE(r.ok()) << name;
    EXPECT_EQ(*r, ino) << name;
  }
  auto deep = m->Lookup(4, "deep");
  ASSERT_TRUE(deep.ok());
  EXPECT_EQ(*deep, 6u);
}

TEST(WriteManifest, CountsLinksWithinTheImage) {
  auto m = MustOpen(MustWrite(testing::FeatureTree()));
  ASSERT_NE(m, nullptr);
  auto root = m->GetInode(kRootIno);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->nlink, 2u + 4u);  // a, bin, dev, etc
  auto etc = m->Lookup(kRootIno, "etc");
  ASSERT_TRUE(etc.ok());
  auto hosts = m->Lookup(*etc, "hosts");
  auto link = m->Lookup(*etc, "hosts.link");
  ASSERT_TRUE(hosts.ok() && link.ok());
  EXPECT_EQ(*hosts, *link);
  EXPECT_EQ(m->GetInode(*hosts)->nlink, 2u);
  EXPECT_EQ(m->GetInode(*etc)->nlink, 2u);
  auto a = m->Lookup(kRootIno, "a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(m->GetInode(*a)->nlink, 3u);
  EXPECT_EQ(m->GetInode(*a)->parent, kRootIno);
}

TEST(WriteManifest, Deduplicates) {
  ImageTree t(DirSpec());
  const std::vector<Xattr> xs = {{"user.x", "value"}};
  for (const char* dir : {"d1", "d2", "d3"}) {
    NodeId d = AddAt(t, ImageTree::kRoot, dir, DirSpec());
    NodeId f = AddAt(t, d, "same-name", StoredFile(9999, 0x42));
    t.inode(f).xattrs = xs;
    AddAt(t, d, "same-inline", InlineFile("same content"));
    AddAt(t, d, "link", SymlinkSpec("same-name"));
  }
  auto m = MustOpen(MustWrite(t));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->digest_count(), 1u);
  EXPECT_EQ(m->xattr_set_count(), 1u);
  EXPECT_EQ(m->inline_size(), std::string("same content").size());
  // d1 d2 d3 same-name same-inline link user.x value: each stored once.
  // "same-name" is both an entry name and a symlink target.
  EXPECT_EQ(m->strings_size(),
            std::string("d1d2d3linksame-inlinesame-nameuser.xvalue").size());
}

TEST(WriteManifest, SharesXattrSetsRegardlessOfOrder) {
  ImageTree t(DirSpec());
  NodeId a = AddAt(t, ImageTree::kRoot, "a", InlineFile("a"));
  NodeId b = AddAt(t, ImageTree::kRoot, "b", InlineFile("b"));
  t.inode(a).xattrs = {{"user.1", "x"}, {"user.2", "y"}};
  t.inode(b).xattrs = {{"user.2", "y"}, {"user.1", "x"}};
  auto m = MustOpen(MustWrite(t));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->xattr_set_count(), 1u);
  EXPECT_EQ(m->GetInode(2)->xattr_set, m->GetInode(3)->xattr_set);
}

TEST(WriteManifest, ClampsMtime) {
  ImageTree t(DirSpec());
  InodeSpec old_file = InlineFile("o");
  old_file.mtime_sec = 100;
  old_file.mtime_nsec = 7;
  InodeSpec new_file = InlineFile("n");
  new_file.mtime_sec = 5000;
  new_file.mtime_nsec = 9;
  InodeSpec edge = InlineFile("e");
  edge.mtime_sec = 1000;
  edge.mtime_nsec = 1;
  AddAt(t, ImageTree::kRoot, "new", new_file);
  AddAt(t, ImageTree::kRoot, "old", old_file);
  AddAt(t, ImageTree::kRoot, "edge", edge);
  WriteOptions opts;
  opts.clamp_mtime_sec = 1000;
  auto m = MustOpen(MustWrite(t, opts));
  ASSERT_NE(m, nullptr);
  auto get = [&](const char* name) {
    return *m->GetInode(*m->Lookup(1, name));
  };
  EXPECT_EQ(get("new").mtime_sec, 1000);
  EXPECT_EQ(get("new").mtime_nsec, 0u);
  EXPECT_EQ(get("edge").mtime_sec, 1000);
  EXPECT_EQ(get("edge").mtime_nsec, 0u);
  EXPECT_EQ(get("old").mtime_sec, 100);
  EXPECT_EQ(get("old").mtime_nsec, 7u);
  // The root (1700000000) is clamped too.
  EXPECT_EQ(m->GetInode(1)->mtime_sec, 1000);
}

TEST(WriteManifest, LayoutIsAlignedAndPaddingZero) {
  std::vector<uint8_t> bytes = MustWrite(testing::FeatureTree());
  ManifestLayout l = testing::LayoutOf(bytes);
  EXPECT_EQ(l.manifest_size, bytes.size());
  EXPECT_EQ(bytes.size() % 8, 0u);
  auto h = testing::GetAt<ManifestHeader>(bytes, 0);
  EXPECT_EQ(h.magic.value(), kManifestMagic);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes.data()), 4),
            "SEAL");
  EXPECT_EQ(h.version.value(), 1);
  EXPECT_EQ(h.header_size.value(), 64);
  EXPECT_EQ(h.compat_features.value(), 0u);
  EXPECT_EQ(h.incompat_features.value(), 0u);
  EXPECT_EQ(h.section_table_offset.value(), 64u);
  EXPECT_EQ(h.section_count.value(), 7u);
  // Sections in kind order, each 8-aligned, gaps between them zero.
  std::vector<bool> covered(bytes.size(), false);
  for (size_t i = 0; i < 64 + 7 * sizeof(SectionEntry); ++i) covered[i] = true;
  uint64_t prev_end = 64 + 7 * sizeof(SectionEntry);
  for (uint32_t k = 1; k <= kSectionKindCount; ++k) {
    const SectionRange& s = l.sections[k];
    EXPECT_EQ(s.offset % 8, 0u) << k;
    EXPECT_GE(s.offset, prev_end) << k;
    prev_end = s.offset + s.size;
    for (uint64_t i = s.offset; i < s.offset + s.size; ++i) covered[i] = true;
  }
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (!covered[i]) {
      EXPECT_EQ(bytes[i], 0) << "padding byte " << i;
    }
  }
}

// Builds the same content as FeatureTree, inserting in reverse order and
// through a detour (link, unlink, relink).
ImageTree FeatureTreeReversed() {
  using testing::SpecialSpec;
  ImageTree t(DirSpec());
  const std::vector<Xattr> shared = {{"user.a", "1"}, {"user.b", "2"}};
  NodeId a = t.AddInode(DirSpec());
  NodeId b = t.AddInode(DirSpec());
  AddAt(t, b, "c", DirSpec(0700));
  EXPECT_TRUE(t.Link(a, "b", b).ok());
  EXPECT_TRUE(t.Link(ImageTree::kRoot, "tmp", a).ok());
  EXPECT_TRUE(t.Unlink(ImageTree::kRoot, "tmp").ok());
  EXPECT_TRUE(t.Link(ImageTree::kRoot, "a", a).ok());
  AddAt(t, ImageTree::kRoot, std::string("\xff\xfe\x80"), InlineFile("x"));
  AddAt(t, ImageTree::kRoot, "link", SymlinkSpec("etc/hosts"));
  NodeId dev = AddAt(t, ImageTree::kRoot, "dev", DirSpec());
  AddAt(t, dev, "sock", SpecialSpec(S_IFSOCK));
  AddAt(t, dev, "fifo", SpecialSpec(S_IFIFO));
  AddAt(t, dev, "sda", SpecialSpec(S_IFBLK, 8, 0));
  AddAt(t, dev, "null", SpecialSpec(S_IFCHR, 1, 3));
  NodeId etc = AddAt(t, ImageTree::kRoot, "etc", DirSpec());
  AddAt(t, etc, "empty", InlineFile(""));
  NodeId hosts =
      AddAt(t, etc, "hosts.link", InlineFile("127.0.0.1 localhost\n"));
  t.inode(hosts).xattrs = shared;
  EXPECT_TRUE(t.Link(etc, "hosts", hosts).ok());
  NodeId bin = AddAt(t, ImageTree::kRoot, "bin", DirSpec());
  AddAt(t, bin, "big", StoredFile(1 << 20, 0x22));
  AddAt(t, bin, "ls", StoredFile(10000, 0x11));
  NodeId sh = AddAt(t, bin, "sh", StoredFile(10000, 0x11));
  t.inode(sh).xattrs = {{"security.capability", std::string("\x01\0\x02", 3)}};
  t.inode(bin).xattrs = shared;
  return t;
}

TEST(WriteManifest, SameTreeSameBytesRegardlessOfInsertionOrder) {
  std::vector<uint8_t> first = MustWrite(testing::FeatureTree());
  std::vector<uint8_t> second = MustWrite(FeatureTreeReversed());
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first, second);
  // And a different tree gives different bytes.
  ImageTree other = FeatureTreeReversed();
  other.inode(ImageTree::kRoot).uid = 1;
  EXPECT_NE(first, MustWrite(other));
}

// The tree of the pinned identities below (and of docs/FORMAT.md#example).
ImageTree GoldenTree() {
  ImageTree t(DirSpec());
  NodeId hello = AddAt(t, ImageTree::kRoot, "hello", InlineFile("hello\n"));
  t.inode(hello).xattrs = {{"user.k", "v"}};
  NodeId sub = AddAt(t, ImageTree::kRoot, "sub", DirSpec(0750));
  AddAt(t, sub, "link", SymlinkSpec("../hello"));
  AddAt(t, ImageTree::kRoot, "data", StoredFile(5000, 0xab));
  AddAt(t, sub, "null", testing::SpecialSpec(S_IFCHR, 1, 3));
  return t;
}

// A small fixed tree whose identity is pinned (bytes checked by hand against
// docs/FORMAT.md; the identity equals `fsverity digest` 1.5 of them). A
// change to the layout, the numbering or the dedupe order changes it: update
// only together with a format version bump and docs/FORMAT.md.
TEST(WriteManifest, GoldenIdentity) {
  std::vector<uint8_t> bytes = MustWrite(GoldenTree());
  EXPECT_EQ(bytes.size(), 800u);
  auto m = MustOpen(bytes);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->identity().Hex(),
            "902a710c038dec752b6bd0cbeeb27991a1fe468e151df548b59d4650ada3ac99");
}

TEST(WriteManifest, KeepsTheOciConfigVerbatimBehindItsFeatureBit) {
  const std::string config = "{\"architecture\":\"amd64\",\"os\":\"linux\"}";
  WriteOptions options;
  options.oci_config = config;
  std::vector<uint8_t> bytes = MustWrite(testing::FeatureTree(), options);
  ManifestLayout l = testing::LayoutOf(bytes);
  auto h = testing::GetAt<ManifestHeader>(bytes, 0);
  EXPECT_EQ(h.incompat_features.value(), kIncompatOciConfig);
  EXPECT_EQ(h.section_count.value(), 8u);
  EXPECT_EQ(l.sections[kSectionOciConfig].size, config.size());
  EXPECT_EQ(l.sections[kSectionOciConfig].offset % 8, 0u);
  EXPECT_EQ(l.manifest_size, bytes.size());
  auto m = MustOpen(bytes);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(AsView(m->oci_config()), config);
  // The tree's sections are those of the same tree without a config.
  std::vector<uint8_t> plain = MustWrite(testing::FeatureTree());
  auto p = MustOpen(plain);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->oci_config().empty());
  EXPECT_EQ(testing::GetAt<ManifestHeader>(plain, 0).section_count.value(),
            7u);
  ManifestLayout pl = testing::LayoutOf(plain);
  for (uint32_t k = 1; k <= kSectionKindCount; ++k) {
    EXPECT_EQ(pl.sections[k].size, l.sections[k].size) << k;
    EXPECT_TRUE(std::equal(
        plain.begin() + static_cast<ptrdiff_t>(pl.sections[k].offset),
        plain.begin() +
            static_cast<ptrdiff_t>(pl.sections[k].offset + pl.sections[k].size),
        bytes.begin() + static_cast<ptrdiff_t>(l.sections[k].offset)))
        << k;
  }
}

TEST(WriteManifest, RefusesAnEmptyOrOversizedOciConfig) {
  for (size_t size : {size_t{0}, size_t{kMaxOciConfigSize + 1}}) {
    WriteOptions options;
    options.oci_config = std::string(size, ' ');
    auto r = WriteManifest(testing::FeatureTree(), options);
    ASSERT_FALSE(r.ok()) << size;
    EXPECT_EQ(r.status().err(), EINVAL);
    EXPECT_EQ(r.status().context(),
              "OCI config of " + std::to_string(size) + " bytes, not 1..4194304");
  }
  WriteOptions largest;
  largest.oci_config = std::string(kMaxOciConfigSize, ' ');
  EXPECT_TRUE(WriteManifest(testing::FeatureTree(), largest).ok());
}

// The golden tree with a config: section 8 after INLINE, feature bit 0 set.
// The identity equals `fsverity digest` 1.5 of the bytes; pinned like
// GoldenIdentity's.
TEST(WriteManifest, OciConfigGoldenIdentity) {
  WriteOptions options;
  options.oci_config = "{}";
  std::vector<uint8_t> bytes = MustWrite(GoldenTree(), options);
  EXPECT_EQ(bytes.size(), 832u);
  auto m = MustOpen(bytes);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->identity().Hex(),
            "cbdb106ddb03558d161c99c7386ce6db2009ec9107e5b0235f226ad075a182fc");
}

}  // namespace
}  // namespace sealfs
