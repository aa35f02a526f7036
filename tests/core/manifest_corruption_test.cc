// SPDX-License-Identifier: Apache-2.0
// Hostile manifests: truncation at every length, every byte flipped, and
// hand-crafted structural attacks, each refused with its specific reason.
// Run under -DSEALFS_SANITIZE=ON as well: "no crash" includes no UB.
#include <sys/stat.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sealfs/manifest_reader.h"
#include "sealfs/manifest_writer.h"
#include "tests/core/manifest_test_util.h"

namespace sealfs {
namespace {

using testing::AddAt;
using testing::DirSpec;
using testing::GetAt;
using testing::InlineFile;
using testing::LayoutOf;
using testing::MustWrite;
using testing::PutAt;
using testing::RecordOffset;

// Calls every accessor on every inode and entry of an opened manifest. Each
// call returns a value or a Status; what it returns does not matter here,
// only that it returns.
void WalkEverything(const Manifest& m) {
  const uint64_t n = m.inode_count();
  for (uint64_t ino = 0; ino <= n + 1; ++ino) {
    auto inode = m.GetInode(ino);
    (void)m.ReadLink(ino);
    (void)m.InlineData(ino);
    (void)m.FileDigest(ino);
    (void)m.GetXattr(ino, "user.a");
    auto xattrs = m.ListXattrs(ino);
    if (xattrs.ok()) {
      for (const XattrView& x : *xattrs) {
        auto v = m.GetXattr(ino, x.key);
        EXPECT_TRUE(v.ok());
      }
    }
    if (!inode.ok() || !S_ISDIR(inode->mode)) {
      (void)m.Lookup(ino, "x");
      continue;
    }
    for (uint64_t k = 0; k <= inode->size; ++k) {
      auto e = m.GetDirEntry(ino, k);
      if (!e.ok()) continue;
      auto found = m.Lookup(ino, e->name);
      EXPECT_TRUE(found.ok());
      (void)m.Lookup(ino, std::string(e->name) + "~");
    }
    (void)m.Lookup(ino, "");
    (void)m.Lookup(ino, std::string(300, 'x'));
  }
  for (uint64_t i = 0; i <= m.digest_count(); ++i) (void)m.DigestAt(i);
  (void)m.trailer_bytes();
  (void)m.oci_config();
}

class Corruption : public ::testing::Test {
 protected:
  void SetUp() override {
    good_ = MustWrite(testing::FeatureTree());
    ASSERT_FALSE(good_.empty());
    layout_ = LayoutOf(good_);
    auto m = Manifest::FromBytes(good_);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    pristine_ = *m;
  }

  // Opens `bytes` expecting kErrCorrupt with exactly `message`.
  void ExpectCorrupt(const std::vector<uint8_t>& bytes,
                     const std::string& message) {
    auto r = Manifest::FromBytes(bytes);
    ASSERT_FALSE(r.ok()) << "accepted; wanted: " << message;
    EXPECT_EQ(r.status().err(), kErrCorrupt);
    EXPECT_EQ(r.status().context(), message);
  }

  // Inode number of `path` in the unmodified manifest.
  uint64_t Ino(const std::string& path) {
    uint64_t ino = kRootIno;
    size_t pos = 1;
    while (pos < path.size()) {
      size_t end = path.find('/', pos);
      if (end == std::string::npos) end = path.size();
      auto r = pristine_->Lookup(ino, path.substr(pos, end - pos));
      EXPECT_TRUE(r.ok()) << path;
      ino = r.ok() ? *r : 0;
      pos = end + 1;
    }
    return ino;
  }
  uint64_t InodeOff(uint64_t ino) {
    return RecordOffset<InodeRecord>(layout_, kSectionInodes, ino - 1);
  }
  InodeRecord GetInode(uint64_t ino) {
    return GetAt<InodeRecord>(good_, InodeOff(ino));
  }
  // Offset of entry `index` of directory `dir`.
  uint64_t DirentOff(uint64_t dir, uint64_t index) {
    return RecordOffset<DirentRecord>(layout_, kSectionDirents,
                                      GetInode(dir).payload.value() + index);
  }
  uint64_t TableOff(SectionKind kind) {
    return 64 + (kind - 1) * sizeof(SectionEntry);
  }

  std::vector<uint8_t> good_;  // edited by each test
  ManifestLayout layout_;
  std::shared_ptr<const Manifest> pristine_;
};

TEST_F(Corruption, TruncatedAtEveryLength) {
  for (size_t len = 0; len < good_.size(); ++len) {
    std::vector<uint8_t> cut(good_.begin(), good_.begin() + len);
    auto r = Manifest::FromBytes(cut);
    ASSERT_FALSE(r.ok()) << "length " << len;
    ASSERT_EQ(r.status().err(), kErrCorrupt) << "length " << len;
  }
}

TEST_F(Corruption, EveryByteFlipped) {
  size_t accepted = 0;
  for (uint8_t mask : {uint8_t{0xff}, uint8_t{0x01}}) {
    for (size_t i = 0; i < good_.size(); ++i) {
      std::vector<uint8_t> bad = good_;
      bad[i] ^= mask;
      auto r = Manifest::FromBytes(bad);
      if (!r.ok()) {
        ASSERT_EQ(r.status().err(), kErrCorrupt)
            << "byte " << i << ": " << r.status().ToString();
        continue;
      }
      ++accepted;
      // Still valid (e.g. a permission bit or a name byte that keeps the
      // order): the identity changes, and every accessor behaves.
      EXPECT_NE((*r)->identity(), ComputeMerkleTree(good_).digest);
      WalkEverything(**r);
    }
  }
  // Most flips of data fields are valid manifests of a different tree; the
  // structural ones are caught. Both kinds must occur in this sweep.
  EXPECT_GT(accepted, 0u);
  EXPECT_LT(accepted, 2 * good_.size());
}

TEST_F(Corruption, DirectoryCycle) {
  // /a/b/c becomes /a: a directory reached again from below.
  const uint64_t a = Ino("/a");
  const uint64_t b = Ino("/a/b");
  DirentRecord e = GetAt<DirentRecord>(good_, DirentOff(b, 0));
  e.ino.set(static_cast<uint32_t>(a));
  PutAt(good_, DirentOff(b, 0), e);
  ExpectCorrupt(good_, "manifest: inode " + std::to_string(b) +
                           ": dirent 0: directory " + std::to_string(a) +
                           " linked more than once (hard link or cycle)");
}

TEST_F(Corruption, DirectoryLinkedTwice) {
  // /link (a symlink) is turned into a second name for /etc.
  const uint64_t etc = Ino("/etc");
  const uint64_t root_index = 4;  // "a" "bin" "dev" "etc" "link"
  DirentRecord e = GetAt<DirentRecord>(good_, DirentOff(1, root_index));
  e.ino.set(static_cast<uint32_t>(etc));
  e.type = S_IFDIR >> 12;
  PutAt(good_, DirentOff(1, root_index), e);
  ExpectCorrupt(good_, "manifest: inode 1: dirent 4: directory " +
                           std::to_string(etc) +
                           " linked more than once (hard link or cycle)");
}

TEST_F(Corruption, DirectoryWithWrongParent) {
  const uint64_t c = Ino("/a/b/c");
  InodeRecord r = GetInode(c);
  r.parent.set(1);
  PutAt(good_, InodeOff(c), r);
  ExpectCorrupt(good_, "manifest: inode " + std::to_string(Ino("/a/b")) +
                           ": dirent 0: directory " + std::to_string(c) +
                           " has parent 1");
}

TEST_F(Corruption, OrphanInode) {
  // /bin/ls points at /bin/big's inode; ls's own inode is then unreachable.
  const uint64_t bin = Ino("/bin");
  const uint64_t big = Ino("/bin/big");
  const uint64_t ls = Ino("/bin/ls");
  DirentRecord e = GetAt<DirentRecord>(good_, DirentOff(bin, 1));
  ASSERT_EQ(e.ino.value(), ls);
  e.ino.set(static_cast<uint32_t>(big));
  PutAt(good_, DirentOff(bin, 1), e);
  ExpectCorrupt(good_, "manifest: inode " + std::to_string(ls) +
                           " not reachable from the root");
}

TEST_F(Corruption, UnsortedEntries) {
  DirentRecord first = GetAt<DirentRecord>(good_, DirentOff(1, 0));
  DirentRecord second = GetAt<DirentRecord>(good_, DirentOff(1, 1));
  PutAt(good_, DirentOff(1, 0), second);
  PutAt(good_, DirentOff(1, 1), first);
  ExpectCorrupt(good_,
                "manifest: inode 1: dirent 1: names not in ascending byte "
                "order");
}

TEST_F(Corruption, DuplicateNames) {
  // /etc/hosts and /etc/hosts.link are the same inode; give both one name.
  const uint64_t etc = Ino("/etc");
  DirentRecord hosts = GetAt<DirentRecord>(good_, DirentOff(etc, 1));
  DirentRecord link = GetAt<DirentRecord>(good_, DirentOff(etc, 2));
  ASSERT_EQ(hosts.ino.value(), link.ino.value());
  link.name_offset = hosts.name_offset;
  link.name_len = hosts.name_len;
  PutAt(good_, DirentOff(etc, 2), link);
  ExpectCorrupt(good_, "manifest: inode " + std::to_string(etc) +
                           ": dirent 2: duplicate name");
}

TEST_F(Corruption, EntryTypeMismatch) {
  DirentRecord e = GetAt<DirentRecord>(good_, DirentOff(1, 0));  // "a", a dir
  e.type = S_IFREG >> 12;
  PutAt(good_, DirentOff(1, 0), e);
  ExpectCorrupt(good_,
                "manifest: inode 1: dirent 0: type 8 does not match "
                "inode " +
                    std::to_string(Ino("/a")));
}

TEST_F(Corruption, NameOutsideStrings) {
  DirentRecord e = GetAt<DirentRecord>(good_, DirentOff(1, 0));
  e.name_offset.set(
      static_cast<uint32_t>(layout_.section(kSectionStrings).size));
  PutAt(good_, DirentOff(1, 0), e);
  ExpectCorrupt(good_,
                "manifest: inode 1: dirent 0: name extends past string table");
}

TEST_F(Corruption, SectionOffsetNearUint64Max) {
  SectionEntry s = GetAt<SectionEntry>(good_, TableOff(kSectionInodes));
  s.offset.set(UINT64_MAX - 7);
  PutAt(good_, TableOff(kSectionInodes), s);
  ExpectCorrupt(good_, "manifest: section INODES (offset " +
                           std::to_string(UINT64_MAX - 7) + ", size " +
                           std::to_string(s.size.value()) +
                           ") extends past manifest_size");
}

TEST_F(Corruption, SectionSizeNearUint64Max) {
  SectionEntry s = GetAt<SectionEntry>(good_, TableOff(kSectionStrings));
  s.size.set(UINT64_MAX);
  PutAt(good_, TableOff(kSectionStrings), s);
  ExpectCorrupt(good_, "manifest: section STRINGS (offset " +
                           std::to_string(s.offset.value()) +
                           ", size 18446744073709551615) extends past "
                           "manifest_size");
}

TEST_F(Corruption, SectionCountHuge) {
  ManifestHeader h = GetAt<ManifestHeader>(good_, 0);
  h.section_count.set(0xFFFFFFFF);
  PutAt(good_, 0, h);
  ExpectCorrupt(good_,
                "manifest: section table (4294967295 entries at offset "
                "64) extends past manifest_size");
}

TEST_F(Corruption, SectionTableOffsetNearUint64Max) {
  ManifestHeader h = GetAt<ManifestHeader>(good_, 0);
  h.section_table_offset.set(UINT64_MAX - 7);
  PutAt(good_, 0, h);
  ExpectCorrupt(good_, "manifest: section table (7 entries at offset " +
                           std::to_string(UINT64_MAX - 7) +
                           ") extends past manifest_size");
}

TEST_F(Corruption, OverlappingSections) {
  SectionEntry d = GetAt<SectionEntry>(good_, TableOff(kSectionDirents));
  d.offset.set(layout_.section(kSectionInodes).offset + 64);
  PutAt(good_, TableOff(kSectionDirents), d);
  ExpectCorrupt(good_, "manifest: section INODES and section DIRENTS overlap");
}

TEST_F(Corruption, SectionOverlapsTable) {
  SectionEntry d = GetAt<SectionEntry>(good_, TableOff(kSectionInline));
  d.offset.set(64);
  PutAt(good_, TableOff(kSectionInline), d);
  ExpectCorrupt(good_,
                "manifest: the section table and section INLINE overlap");
}

TEST_F(Corruption, DuplicateAndUnknownSectionKinds) {
  std::vector<uint8_t> dup = good_;
  SectionEntry s = GetAt<SectionEntry>(dup, TableOff(kSectionInline));
  s.kind.set(kSectionDigests);
  PutAt(dup, TableOff(kSectionInline), s);
  ExpectCorrupt(dup,
                "manifest: section table entry 6: duplicate section DIGESTS");
  s.kind.set(8);
  PutAt(good_, TableOff(kSectionInline), s);
  ExpectCorrupt(good_,
                "manifest: section table entry 6: unknown section kind 8");
}

TEST_F(Corruption, MissingSection) {
  ManifestHeader h = GetAt<ManifestHeader>(good_, 0);
  h.section_count.set(6);
  PutAt(good_, 0, h);
  ExpectCorrupt(good_, "manifest: section INLINE missing");
}

TEST_F(Corruption, MisalignedAndRaggedSections) {
  std::vector<uint8_t> bad = good_;
  SectionEntry s = GetAt<SectionEntry>(bad, TableOff(kSectionInline));
  s.offset.set(s.offset.value() + 4);
  PutAt(bad, TableOff(kSectionInline), s);
  ExpectCorrupt(bad, "manifest: section INLINE: offset not 8-aligned");
  s = GetAt<SectionEntry>(good_, TableOff(kSectionDirents));
  s.size.set(s.size.value() - 8);
  PutAt(good_, TableOff(kSectionDirents), s);
  ExpectCorrupt(good_, "manifest: section DIRENTS: size " +
                           std::to_string(s.size.value()) +
                           " not a multiple of the 16-byte record");
}

TEST_F(Corruption, HeaderChecks) {
  auto with = [&](auto edit) {
    std::vector<uint8_t> b = good_;
    ManifestHeader h = GetAt<ManifestHeader>(b, 0);
    edit(h);
    PutAt(b, 0, h);
    return b;
  };
  ExpectCorrupt(with([](ManifestHeader& h) { h.magic.set(0x12345678); }),
                "manifest: bad magic 0x12345678 (not a sealfs image)");
  ExpectCorrupt(with([](ManifestHeader& h) { h.version.set(2); }),
                "manifest: unsupported version 2");
  ExpectCorrupt(with([](ManifestHeader& h) { h.header_size.set(72); }),
                "manifest: header_size 72, expected 64");
  ExpectCorrupt(with([](ManifestHeader& h) { h.reserved[19] = 1; }),
                "manifest: header reserved bytes not zero");
  ExpectCorrupt(
      with([](ManifestHeader& h) { h.manifest_size.set(UINT64_MAX); }),
      "manifest: manifest_size 18446744073709551615 larger than the file (" +
          std::to_string(good_.size()) + " bytes)");
  ExpectCorrupt(with([](ManifestHeader& h) { h.manifest_size.set(63); }),
                "manifest: manifest_size 63 smaller than the header");
  ExpectCorrupt(with([](ManifestHeader& h) { h.section_table_offset.set(68); }),
                "manifest: section table offset not 8-aligned");
  ExpectCorrupt(with([](ManifestHeader& h) { h.section_table_offset.set(0); }),
                "manifest: section table overlaps the header");
}

TEST_F(Corruption, InodeChecks) {
  const uint64_t hosts = Ino("/etc/hosts");
  const uint64_t sh = Ino("/bin/sh");
  const uint64_t link = Ino("/link");
  const uint64_t null = Ino("/dev/null");
  const uint64_t a = Ino("/a");
  auto with = [&](uint64_t ino, auto edit) {
    std::vector<uint8_t> b = good_;
    InodeRecord r = GetAt<InodeRecord>(b, InodeOff(ino));
    edit(r);
    PutAt(b, InodeOff(ino), r);
    return b;
  };
  const std::string h = "manifest: inode " + std::to_string(hosts) + ": ";
  ExpectCorrupt(with(hosts, [](InodeRecord& r) { r.mode.set(0160644); }),
                h + "unknown file type 0160000");
  ExpectCorrupt(
      with(hosts, [](InodeRecord& r) { r.mode.set(0x10000 | 0100644); }),
      h + "unknown mode bits 0300644");
  ExpectCorrupt(with(hosts, [](InodeRecord& r) { r.flags.set(3); }),
                h + "unknown flags 0x3");
  ExpectCorrupt(
      with(hosts, [](InodeRecord& r) { r.mtime_nsec.set(1000000000); }),
      h + "mtime_nsec >= 1e9");
  ExpectCorrupt(with(hosts, [](InodeRecord& r) { r.nlink.set(0); }),
                h + "nlink is 0");
  ExpectCorrupt(with(hosts, [](InodeRecord& r) { r.xattr_set.set(2); }),
                h + "xattr set 2 out of range");
  ExpectCorrupt(with(hosts, [](InodeRecord& r) { r.size.set(4097); }),
                h + "inline size over 4096 bytes");
  ExpectCorrupt(with(hosts, [](InodeRecord& r) { r.payload.set(UINT64_MAX); }),
                h + "inline data extends past INLINE");
  ExpectCorrupt(with(hosts, [](InodeRecord& r) { r.parent.set(1); }),
                h + "parent set on a non-directory");
  ExpectCorrupt(with(hosts, [](InodeRecord& r) { r.rdev_minor.set(1); }),
                h + "rdev set on a non-device");
  ExpectCorrupt(with(sh, [](InodeRecord& r) { r.payload.set(2); }),
                "manifest: inode " + std::to_string(sh) +
                    ": digest index 2 out of range");
  ExpectCorrupt(with(link, [](InodeRecord& r) { r.size.set(0); }),
                "manifest: inode " + std::to_string(link) +
                    ": symlink target length 0 not in 1..4095");
  ExpectCorrupt(with(link, [](InodeRecord& r) { r.payload.set(UINT32_MAX); }),
                "manifest: inode " + std::to_string(link) +
                    ": symlink target extends past STRINGS");
  ExpectCorrupt(with(null, [](InodeRecord& r) { r.size.set(1); }),
                "manifest: inode " + std::to_string(null) +
                    ": size set on a special file");
  ExpectCorrupt(with(null, [](InodeRecord& r) { r.flags.set(kInodeInline); }),
                "manifest: inode " + std::to_string(null) +
                    ": inline flag on a non-regular file");
  ExpectCorrupt(
      with(a, [](InodeRecord& r) { r.size.set(UINT64_MAX); }),
      "manifest: inode " + std::to_string(a) + ": entries extend past DIRENTS");
  ExpectCorrupt(with(1, [](InodeRecord& r) { r.parent.set(2); }),
                "manifest: root's parent is not 1");
  ExpectCorrupt(with(1, [](InodeRecord& r) { r.mode.set(S_IFREG | 0644); }),
                "manifest: inode 1: parent set on a non-directory");
  ExpectCorrupt(with(1,
                     [](InodeRecord& r) {
                       r.mode.set(S_IFREG | 0644);
                       r.parent.set(0);
                     }),
                "manifest: root is not a directory");
}

TEST_F(Corruption, SymlinkTargetWithNul) {
  ImageTree t(DirSpec());
  AddAt(t, ImageTree::kRoot, "l", testing::SymlinkSpec("abc"));
  std::vector<uint8_t> b = MustWrite(t);
  ManifestLayout l = LayoutOf(b);
  // STRINGS is "l" then "abc": turn the 'b' into NUL.
  b[l.section(kSectionStrings).offset + 2] = 0;
  ExpectCorrupt(b, "manifest: inode 2: symlink target contains NUL");
}

TEST_F(Corruption, SharedDirentRange) {
  // /a/b/c (empty) claims /dev's entries too: a second directory reusing a
  // range would let hostile input make validation quadratic.
  const uint64_t c = Ino("/a/b/c");
  const uint64_t dev = Ino("/dev");
  InodeRecord r = GetInode(c);
  r.payload = GetInode(dev).payload;
  r.size.set(1);
  PutAt(good_, InodeOff(c), r);
  // BFS reaches /dev (depth 1) before /a/b/c (depth 3).
  ExpectCorrupt(good_, "manifest: inode " + std::to_string(c) +
                           ": dirent 0: shared with another directory");
}

TEST_F(Corruption, XattrChecks) {
  const SectionRange& sets = layout_.section(kSectionXattrSets);
  ASSERT_EQ(sets.size / sizeof(XattrSetRecord), 2u);
  auto entry_off = [&](uint64_t i) {
    return RecordOffset<XattrEntryRecord>(layout_, kSectionXattrEntries, i);
  };
  // Set 0 is bin's {user.a, user.b} (first reached), entries 0 and 1.
  {
    std::vector<uint8_t> b = good_;
    XattrEntryRecord e0 = GetAt<XattrEntryRecord>(b, entry_off(0));
    XattrEntryRecord e1 = GetAt<XattrEntryRecord>(b, entry_off(1));
    PutAt(b, entry_off(0), e1);
    PutAt(b, entry_off(1), e0);
    ExpectCorrupt(b,
                  "manifest: xattr set 0: entry 1: keys not in ascending "
                  "byte order");
    PutAt(b, entry_off(0), e0);
    ExpectCorrupt(b, "manifest: xattr set 0: entry 1: duplicate key");
  }
  {
    std::vector<uint8_t> b = good_;
    XattrEntryRecord e = GetAt<XattrEntryRecord>(b, entry_off(0));
    e.value_len.set(65537);
    PutAt(b, entry_off(0), e);
    ExpectCorrupt(b,
                  "manifest: xattr set 0: entry 0: value larger than "
                  "65536 bytes");
    e.value_len.set(1);
    e.key_len.set(0);
    PutAt(b, entry_off(0), e);
    ExpectCorrupt(b,
                  "manifest: xattr set 0: entry 0: key length 0 not in "
                  "1..255");
  }
  {
    std::vector<uint8_t> b = good_;
    XattrSetRecord s1 = GetAt<XattrSetRecord>(b, sets.offset + 8);
    s1.first_entry.set(0);
    s1.count.set(1);
    PutAt(b, sets.offset + 8, s1);
    ExpectCorrupt(b, "manifest: xattr set 1: entry 0: shared with another set");
    s1.first_entry.set(UINT32_MAX);
    PutAt(b, sets.offset + 8, s1);
    ExpectCorrupt(b,
                  "manifest: xattr set 1: entries extend past "
                  "XATTR_ENTRIES");
  }
}

// The OCI_CONFIG section (feature kIncompatOciConfig): present iff the bit
// is set, 1..kMaxOciConfigSize bytes, and swept like the rest.
TEST_F(Corruption, OciConfigSection) {
  WriteOptions options;
  options.oci_config = "{\"os\":\"linux\"}";
  std::vector<uint8_t> with = MustWrite(testing::FeatureTree(), options);
  ASSERT_FALSE(with.empty());
  const uint64_t entry7 = TableOff(kSectionInline) + sizeof(SectionEntry);
  {
    std::vector<uint8_t> b = with;
    ManifestHeader h = GetAt<ManifestHeader>(b, 0);
    h.incompat_features.set(0);
    PutAt(b, 0, h);
    ExpectCorrupt(b, "manifest: section table entry 7: unknown section kind 8");
  }
  {
    std::vector<uint8_t> b = good_;  // no config section
    ManifestHeader h = GetAt<ManifestHeader>(b, 0);
    h.incompat_features.set(kIncompatOciConfig);
    PutAt(b, 0, h);
    ExpectCorrupt(b, "manifest: section OCI_CONFIG missing");
    h.incompat_features.set(kIncompatOciConfig << 1);
    PutAt(b, 0, h);
    ExpectCorrupt(b, "manifest: unknown incompat features 0x2");
  }
  {
    std::vector<uint8_t> b = with;
    SectionEntry e = GetAt<SectionEntry>(b, entry7);
    e.size.set(0);
    PutAt(b, entry7, e);
    ExpectCorrupt(b, "manifest: section OCI_CONFIG: size 0 not in 1..4194304");
  }
  for (size_t len = 0; len < with.size(); ++len) {
    std::vector<uint8_t> cut(with.begin(), with.begin() + len);
    auto r = Manifest::FromBytes(cut);
    ASSERT_FALSE(r.ok()) << "length " << len;
    ASSERT_EQ(r.status().err(), kErrCorrupt) << "length " << len;
  }
  for (size_t i = 0; i < with.size(); ++i) {
    std::vector<uint8_t> bad = with;
    bad[i] ^= 0xff;
    auto r = Manifest::FromBytes(bad);
    if (!r.ok()) {
      ASSERT_EQ(r.status().err(), kErrCorrupt) << "byte " << i;
      continue;
    }
    WalkEverything(**r);
    EXPECT_LE((*r)->oci_config().size(), kMaxOciConfigSize);
  }
}

}  // namespace
}  // namespace sealfs
