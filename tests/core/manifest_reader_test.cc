// SPDX-License-Identifier: Apache-2.0
// Tests for Manifest: a round trip of every file type through the writer,
// lookups of present and absent names, accessor errnos, Open() from a file.
#include "sealfs/manifest_reader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fs/core/manifest_validate.h"
#include "sealfs/digest.h"
#include "sealfs/manifest_writer.h"
#include "tests/core/manifest_test_util.h"
#include "tests/test_util.h"

namespace sealfs {
namespace {

using testing::AddAt;
using testing::DirSpec;
using testing::FakeDigest;
using testing::InlineFile;
using testing::MustWrite;
using testing::SpecialSpec;
using testing::StoredFile;
using testing::SymlinkSpec;

// "n<i>"; appended rather than operator+ to dodge a g++ 12 -Wrestrict false
// positive.
std::string LevelName(int i) {
  std::string s = "n";
  s += std::to_string(i);
  return s;
}

std::shared_ptr<const Manifest> MustOpen(std::vector<uint8_t> bytes) {
  auto m = Manifest::FromBytes(std::move(bytes));
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? *m : nullptr;
}

// Everything the round trip covers, with the expected values beside it.
struct RoundTrip : public ::testing::Test {
  void SetUp() override {
    tree = std::make_unique<ImageTree>(DirSpec(0751));
    ImageTree& t = *tree;
    t.inode(ImageTree::kRoot).uid = 7;
    t.inode(ImageTree::kRoot).gid = 8;
    t.inode(ImageTree::kRoot).mtime_sec = -5;  // before the epoch
    const NodeId root = ImageTree::kRoot;
    InodeSpec inl = InlineFile("inline content\n", 0640);
    inl.uid = 1000;
    inl.gid = 100;
    inl.mtime_sec = 1234567890;
    inl.mtime_nsec = 999999999;
    inl.xattrs = {{"user.shared", "s"}, {"security.selinux", "ctx"}};
    NodeId inl_id = AddAt(t, root, "inline", inl);
    InodeSpec full = InlineFile(std::string(4096, 'F'));
    AddAt(t, root, "full", full);
    InodeSpec stored = StoredFile(123456789, 0x5a);
    stored.xattrs = {{"security.selinux", "ctx"}, {"user.shared", "s"}};
    AddAt(t, root, "stored", stored);
    AddAt(t, root, "empty", InlineFile(""));
    NodeId dir = AddAt(t, root, "dir", DirSpec(0700));
    t.inode(dir).xattrs = {{"trusted.x", std::string("\0\xff", 2)},
                           {"user.empty", ""}};
    ASSERT_TRUE(t.Link(dir, "hardlink", inl_id).ok());
    AddAt(t, root, "symlink", SymlinkSpec(std::string(4095, 's')));
    AddAt(t, root, "chr", SpecialSpec(S_IFCHR, 4095, 1048575));
    AddAt(t, root, "blk", SpecialSpec(S_IFBLK, 8, 16));
    AddAt(t, root, "fifo", SpecialSpec(S_IFIFO));
    AddAt(t, root, "sock", SpecialSpec(S_IFSOCK));
    AddAt(t, root, std::string("\xff\x01\x80"), InlineFile("bin"));
    AddAt(t, root, std::string(255, 'L'), InlineFile("long"));
    NodeId cur = dir;
    for (int i = 0; i < 64; ++i) cur = AddAt(t, cur, LevelName(i), DirSpec());
    AddAt(t, cur, "bottom", InlineFile("deep"));
    bytes = MustWrite(t);
    m = MustOpen(bytes);
    ASSERT_NE(m, nullptr);
  }

  Inode Get(uint64_t dir, std::string_view name) {
    auto ino = m->Lookup(dir, name);
    EXPECT_TRUE(ino.ok()) << name << ": " << ino.status().ToString();
    if (!ino.ok()) return Inode{};
    auto inode = m->GetInode(*ino);
    EXPECT_TRUE(inode.ok());
    return inode.ok() ? *inode : Inode{};
  }

  std::unique_ptr<ImageTree> tree;
  std::vector<uint8_t> bytes;
  std::shared_ptr<const Manifest> m;
};

TEST_F(RoundTrip, Root) {
  auto root = m->GetInode(kRootIno);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->mode, S_IFDIR | 0751u);
  EXPECT_EQ(root->uid, 7u);
  EXPECT_EQ(root->gid, 8u);
  EXPECT_EQ(root->mtime_sec, -5);
  EXPECT_EQ(root->parent, kRootIno);
  EXPECT_EQ(root->size, 12u);  // entries
  EXPECT_EQ(m->version(), 1);
}

TEST_F(RoundTrip, InlineFileAndHardLink) {
  Inode i = Get(kRootIno, "inline");
  EXPECT_EQ(i.mode, S_IFREG | 0640u);
  EXPECT_EQ(i.uid, 1000u);
  EXPECT_EQ(i.gid, 100u);
  EXPECT_EQ(i.mtime_sec, 1234567890);
  EXPECT_EQ(i.mtime_nsec, 999999999u);
  EXPECT_EQ(i.nlink, 2u);
  EXPECT_TRUE(i.is_inline());
  EXPECT_EQ(i.parent, 0u);
  auto data = m->InlineData(i.ino);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(std::string(data->begin(), data->end()), "inline content\n");
  Inode dir = Get(kRootIno, "dir");
  EXPECT_EQ(Get(dir.ino, "hardlink").ino, i.ino);

  Inode full = Get(kRootIno, "full");
  auto full_data = m->InlineData(full.ino);
  ASSERT_TRUE(full_data.ok());
  EXPECT_EQ(full_data->size(), 4096u);
  EXPECT_EQ((*full_data)[4095], 'F');
}

TEST_F(RoundTrip, StoredAndEmptyFiles) {
  Inode s = Get(kRootIno, "stored");
  EXPECT_FALSE(s.is_inline());
  EXPECT_EQ(s.size, 123456789u);
  auto d = m->FileDigest(s.ino);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, FakeDigest(0x5a));
  EXPECT_EQ(m->digest_count(), 1u);
  auto d0 = m->DigestAt(0);
  ASSERT_TRUE(d0.ok());
  EXPECT_EQ(*d0, FakeDigest(0x5a));
  EXPECT_EQ(m->DigestAt(1).status().err(), ENOENT);
  EXPECT_EQ(m->InlineData(s.ino).status().err(), EINVAL);

  Inode e = Get(kRootIno, "empty");
  EXPECT_TRUE(e.is_inline());
  EXPECT_EQ(e.size, 0u);
  auto data = m->InlineData(e.ino);
  ASSERT_TRUE(data.ok());
  EXPECT_TRUE(data->empty());
  EXPECT_EQ(m->FileDigest(e.ino).status().err(), EINVAL);
}

TEST_F(RoundTrip, SymlinkAndSpecialFiles) {
  Inode l = Get(kRootIno, "symlink");
  EXPECT_EQ(l.mode, S_IFLNK | 0777u);
  EXPECT_EQ(l.size, 4095u);
  auto target = m->ReadLink(l.ino);
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(*target, std::string(4095, 's'));

  Inode c = Get(kRootIno, "chr");
  EXPECT_EQ(c.mode, S_IFCHR | 0600u);
  EXPECT_EQ(c.rdev_major, 4095u);
  EXPECT_EQ(c.rdev_minor, 1048575u);
  Inode b = Get(kRootIno, "blk");
  EXPECT_EQ(b.mode, S_IFBLK | 0600u);
  EXPECT_EQ(b.rdev_major, 8u);
  EXPECT_EQ(b.rdev_minor, 16u);
  EXPECT_EQ(Get(kRootIno, "fifo").mode, S_IFIFO | 0600u);
  EXPECT_EQ(Get(kRootIno, "sock").mode, S_IFSOCK | 0600u);
  for (const char* name : {"chr", "blk", "fifo", "sock"}) {
    Inode i = Get(kRootIno, name);
    EXPECT_EQ(i.size, 0u);
    EXPECT_EQ(m->ReadLink(i.ino).status().err(), EINVAL) << name;
    EXPECT_EQ(m->InlineData(i.ino).status().err(), EINVAL) << name;
    EXPECT_EQ(m->FileDigest(i.ino).status().err(), EINVAL) << name;
    EXPECT_EQ(m->Lookup(i.ino, "x").status().err(), ENOTDIR) << name;
    EXPECT_EQ(m->GetDirEntry(i.ino, 0).status().err(), ENOTDIR) << name;
  }
}

TEST_F(RoundTrip, Xattrs) {
  Inode i = Get(kRootIno, "inline");
  Inode s = Get(kRootIno, "stored");
  EXPECT_NE(i.xattr_set, kNoXattrs);
  EXPECT_EQ(i.xattr_set, s.xattr_set);  // shared set
  auto list = m->ListXattrs(i.ino);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].key, "security.selinux");  // sorted by key
  EXPECT_EQ((*list)[0].value, "ctx");
  EXPECT_EQ((*list)[1].key, "user.shared");
  auto v = m->GetXattr(s.ino, "user.shared");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "s");
  EXPECT_EQ(m->GetXattr(s.ino, "user.absent").status().err(), ENODATA);

  Inode dir = Get(kRootIno, "dir");
  auto bin = m->GetXattr(dir.ino, "trusted.x");
  ASSERT_TRUE(bin.ok());
  EXPECT_EQ(*bin, std::string("\0\xff", 2));
  auto empty = m->GetXattr(dir.ino, "user.empty");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");

  Inode none = Get(kRootIno, "fifo");
  EXPECT_EQ(none.xattr_set, kNoXattrs);
  auto nolist = m->ListXattrs(none.ino);
  ASSERT_TRUE(nolist.ok());
  EXPECT_TRUE(nolist->empty());
  EXPECT_EQ(m->GetXattr(none.ino, "user.shared").status().err(), ENODATA);
  EXPECT_EQ(m->xattr_set_count(), 2u);
}

TEST_F(RoundTrip, OddNamesAndDeepNesting) {
  EXPECT_EQ(
      m->InlineData(Get(kRootIno, std::string("\xff\x01\x80")).ino)->size(),
      3u);
  EXPECT_EQ(Get(kRootIno, std::string(255, 'L')).size, 4u);
  uint64_t cur = Get(kRootIno, "dir").ino;
  for (int i = 0; i < 64; ++i) {
    Inode next = Get(cur, LevelName(i));
    ASSERT_TRUE(S_ISDIR(next.mode));
    EXPECT_EQ(next.parent, cur);
    cur = next.ino;
  }
  auto data = m->InlineData(Get(cur, "bottom").ino);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(std::string(data->begin(), data->end()), "deep");
}

TEST_F(RoundTrip, LookupEveryNameAndAbsentOnes) {
  // Every entry of every directory, found by name at the index it is listed.
  uint64_t seen = 0;
  for (uint64_t ino = 1; ino <= m->inode_count(); ++ino) {
    Inode d = *m->GetInode(ino);
    if (!S_ISDIR(d.mode)) continue;
    std::string prev;
    for (uint64_t k = 0; k < d.size; ++k) {
      auto e = m->GetDirEntry(ino, k);
      ASSERT_TRUE(e.ok());
      auto found = m->Lookup(ino, e->name);
      ASSERT_TRUE(found.ok()) << e->name;
      EXPECT_EQ(*found, e->ino);
      EXPECT_EQ(e->type, m->GetInode(e->ino)->mode >> 12);
      const std::string name(e->name);
      if (k > 0) {
        EXPECT_LT(prev, name);
      }
      // Absent names just after this one and between it and the next.
      EXPECT_EQ(m->Lookup(ino, name + '\0').status().err(), ENOENT);
      EXPECT_EQ(m->Lookup(ino, name + "~").status().err(), ENOENT);
      prev = name;
      ++seen;
    }
    EXPECT_EQ(m->GetDirEntry(ino, d.size).status().err(), ENOENT);
    EXPECT_EQ(m->GetDirEntry(ino, UINT64_MAX).status().err(), ENOENT);
  }
  EXPECT_EQ(seen, m->dirent_count());
  for (const std::string& absent :
       {std::string(), std::string("\x01"), std::string("a"),
        std::string("zzz"), std::string("\xff\xff"), std::string(256, 'L'),
        std::string(254, 'L'), std::string("dir/n0"), std::string("."),
        std::string("..")}) {
    EXPECT_EQ(m->Lookup(kRootIno, absent).status().err(), ENOENT) << absent;
  }
}

TEST_F(RoundTrip, InodeNumbersOutOfRange) {
  for (uint64_t bad : {uint64_t{0}, m->inode_count() + 1, UINT64_MAX}) {
    EXPECT_EQ(m->GetInode(bad).status().err(), ENOENT);
    EXPECT_EQ(m->Lookup(bad, "x").status().err(), ENOENT);
    EXPECT_EQ(m->GetDirEntry(bad, 0).status().err(), ENOENT);
    EXPECT_EQ(m->ReadLink(bad).status().err(), ENOENT);
    EXPECT_EQ(m->InlineData(bad).status().err(), ENOENT);
    EXPECT_EQ(m->FileDigest(bad).status().err(), ENOENT);
    EXPECT_EQ(m->ListXattrs(bad).status().err(), ENOENT);
    EXPECT_EQ(m->GetXattr(bad, "user.x").status().err(), ENOENT);
  }
  EXPECT_EQ(m->ReadLink(kRootIno).status().err(), EINVAL);
  EXPECT_EQ(m->InlineData(kRootIno).status().err(), EINVAL);
  EXPECT_EQ(m->FileDigest(kRootIno).status().err(), EINVAL);
}

TEST_F(RoundTrip, IdentityIsTheFsverityDigestOfTheManifestBytes) {
  EXPECT_EQ(m->identity(), ComputeMerkleTree(bytes).digest);
  EXPECT_EQ(m->manifest_bytes().size(), bytes.size());
  EXPECT_TRUE(m->trailer_bytes().empty());
}

TEST_F(RoundTrip, OpenFromFileWithTrailer) {
  testing::TempDir dir;
  std::vector<uint8_t> image = bytes;
  const std::vector<uint8_t> trailer = {'S', 'S', 'I', 'G', 1, 2, 3};
  image.insert(image.end(), trailer.begin(), trailer.end());
  testing::WriteFile(dir / "image", image);
  auto opened = Manifest::Open(dir / "image");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ((*opened)->identity(), m->identity());
  auto t = (*opened)->trailer_bytes();
  EXPECT_EQ(std::vector<uint8_t>(t.begin(), t.end()), trailer);
  EXPECT_EQ((*opened)->manifest_bytes().size(), bytes.size());
  EXPECT_EQ((*opened)->inode_count(), m->inode_count());

  EXPECT_EQ(Manifest::Open(dir / "absent").status().err(), ENOENT);
  EXPECT_EQ(Manifest::Open(dir.path()).status().err(), EINVAL);
  testing::WriteFile(dir / "junk", std::string(100, 'j'));
  auto junk = Manifest::Open(dir / "junk");
  EXPECT_EQ(junk.status().err(), kErrCorrupt);
  EXPECT_NE(junk.status().context().find("bad magic"), std::string::npos)
      << junk.status().context();
  testing::WriteFile(dir / "empty", std::string());
  EXPECT_EQ(Manifest::Open(dir / "empty").status().err(), kErrCorrupt);
}

// A trailer can be at most one signature block of 65,535 records. Open
// refuses a longer one from the header and the file's size alone: a 64 GiB
// sparse tail is refused as such, where reading it would first have failed
// to map 64 GiB of memory.
TEST_F(RoundTrip, TrailerLongerThanASignatureBlockIsRefused) {
  testing::TempDir dir;
  const std::string path = dir / "image";
  testing::WriteFile(path, bytes);
  ASSERT_EQ(truncate(path.c_str(),
                     static_cast<off_t>(bytes.size() + kMaxSignatureBlockSize)),
            0);
  EXPECT_TRUE(Manifest::Open(path).ok());
  for (const uint64_t trailer :
       {kMaxSignatureBlockSize + 1, uint64_t{64} << 30}) {
    ASSERT_EQ(
        truncate(path.c_str(), static_cast<off_t>(bytes.size() + trailer)), 0);
    auto opened = Manifest::Open(path);
    EXPECT_EQ(opened.status().err(), kErrCorrupt);
    EXPECT_EQ(opened.status().context(),
              path + ": manifest: " + std::to_string(trailer) +
                  " bytes after the manifest, more than a signature block "
                  "can hold (8388496)");
  }
  std::vector<uint8_t> image = bytes;
  image.resize(bytes.size() + kMaxSignatureBlockSize + 1);
  EXPECT_EQ(Manifest::FromBytes(std::move(image)).status().err(), kErrCorrupt);
}

TEST_F(RoundTrip, OpenTakesASnapshot) {
  // Rewriting the file in place after Open must not change what the
  // validated, identified manifest serves.
  testing::TempDir dir;
  testing::WriteFile(dir / "image", bytes);
  auto opened = Manifest::Open(dir / "image");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  {
    FILE* f = std::fopen((dir / "image").c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    const std::string junk(bytes.size(), '\xee');
    ASSERT_EQ(std::fwrite(junk.data(), 1, junk.size(), f), junk.size());
    ASSERT_EQ(std::fclose(f), 0);
  }
  auto m2 = *opened;
  EXPECT_EQ(ComputeMerkleTree(m2->manifest_bytes()).digest, m->identity());
  auto ino = m2->Lookup(kRootIno, "inline");
  ASSERT_TRUE(ino.ok());
  auto data = m2->InlineData(*ino);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(std::string(data->begin(), data->end()), "inline content\n");
}

TEST(ManifestReader, IgnoresUnknownCompatFeaturesRefusesIncompat) {
  std::vector<uint8_t> bytes = MustWrite(testing::FeatureTree());
  ManifestHeader h = testing::GetAt<ManifestHeader>(bytes, 0);
  h.compat_features.set(uint64_t{1} << 63);
  testing::PutAt(bytes, 0, h);
  EXPECT_TRUE(Manifest::FromBytes(bytes).ok());
  h.incompat_features.set(4);
  testing::PutAt(bytes, 0, h);
  auto r = Manifest::FromBytes(bytes);
  EXPECT_EQ(r.status().err(), kErrCorrupt);
  EXPECT_EQ(r.status().context(), "manifest: unknown incompat features 0x4");
}

TEST(ManifestReader, MinimalImageHasOnlyTheRoot) {
  ImageTree t(DirSpec());
  auto m = MustOpen(MustWrite(t));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->inode_count(), 1u);
  EXPECT_EQ(m->dirent_count(), 0u);
  EXPECT_EQ(m->Lookup(kRootIno, "x").status().err(), ENOENT);
  EXPECT_EQ(m->GetDirEntry(kRootIno, 0).status().err(), ENOENT);
}

// 100,001 inodes: 1000 directories of 99 stored files. Checks a large image
// round-trips; prints (does not assert) how long Open's validation and
// identity take, the figure quoted for the cost of validating at open.
TEST(ManifestReader, OpensHundredThousandInodes) {
  ImageTree t(DirSpec());
  for (int d = 0; d < 1000; ++d) {
    NodeId dir =
        AddAt(t, ImageTree::kRoot, "dir" + std::to_string(d), DirSpec());
    for (int f = 0; f < 99; ++f) {
      InodeSpec spec = StoredFile(8192, 0);
      spec.digest->bytes[0] = static_cast<uint8_t>(f);
      spec.digest->bytes[1] = static_cast<uint8_t>(d);
      spec.digest->bytes[2] = static_cast<uint8_t>(d >> 8);
      AddAt(t, dir, "file-" + std::to_string(f), spec);
    }
  }
  std::vector<uint8_t> bytes = MustWrite(t);
  testing::TempDir tmp;
  testing::WriteFile(tmp / "image", bytes);

  using Clock = std::chrono::steady_clock;
  const auto ms = [](Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
  };
  const auto t0 = Clock::now();
  auto layout = ValidateManifest(bytes);
  const auto t1 = Clock::now();
  auto m = Manifest::Open(tmp / "image");
  const auto t2 = Clock::now();
  ASSERT_TRUE(layout.ok()) << layout.status().ToString();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  std::printf(
      "manifest of %zu bytes, %llu inodes: validate %.1f ms, "
      "Open (read + validate + identity) %.1f ms\n",
      bytes.size(), static_cast<unsigned long long>((*m)->inode_count()),
      ms(t1 - t0), ms(t2 - t1));
  EXPECT_EQ((*m)->inode_count(), 100001u);
  EXPECT_EQ((*m)->digest_count(), 99000u);
  // Large enough that Open hashes the identity on a thread of its own.
  ASSERT_GT(bytes.size(), size_t{1} << 20);
  EXPECT_EQ((*m)->identity(), ComputeMerkleTree(bytes).digest);
  auto dir = (*m)->Lookup(kRootIno, "dir999");
  ASSERT_TRUE(dir.ok());
  auto file = (*m)->Lookup(*dir, "file-98");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(*file, 100001u);  // the last one numbered, breadth-first
}

}  // namespace
}  // namespace sealfs
