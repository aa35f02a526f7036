// SPDX-License-Identifier: Apache-2.0
// Tests of DiffImages on manifests built in memory: each kind of change is
// found, named by its field, and reported once per path in path order.
#include "fs/mkfs/image_diff.h"

#include <sys/stat.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sealfs/digest.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/manifest_writer.h"

namespace sealfs::mkfs {
namespace {

Digest D(uint8_t b) {
  Digest d;
  d.bytes.fill(b);
  return d;
}

InodeSpec Spec(uint32_t mode) {
  InodeSpec s;
  s.mode = mode;
  s.mtime_sec = 100;
  return s;
}

// A base tree: /etc/passwd (inline), /bin/sh (stored, hard-linked as
// /bin/bash), /lnk -> target, /dev/null, /dir/.
ImageTree Base() {
  ImageTree t(Spec(S_IFDIR | 0755));
  NodeId etc = t.AddInode(Spec(S_IFDIR | 0755));
  EXPECT_TRUE(t.Link(ImageTree::kRoot, "etc", etc).ok());
  InodeSpec passwd = Spec(S_IFREG | 0644);
  passwd.inline_data = "root\n";
  passwd.size = 5;
  EXPECT_TRUE(t.Link(etc, "passwd", t.AddInode(passwd)).ok());
  NodeId bin = t.AddInode(Spec(S_IFDIR | 0755));
  EXPECT_TRUE(t.Link(ImageTree::kRoot, "bin", bin).ok());
  InodeSpec sh = Spec(S_IFREG | 0755);
  sh.digest = D(1);
  sh.size = 10000;
  NodeId shid = t.AddInode(sh);
  EXPECT_TRUE(t.Link(bin, "sh", shid).ok());
  EXPECT_TRUE(t.Link(bin, "bash", shid).ok());
  InodeSpec lnk = Spec(S_IFLNK | 0777);
  lnk.symlink_target = "target";
  EXPECT_TRUE(t.Link(ImageTree::kRoot, "lnk", t.AddInode(lnk)).ok());
  InodeSpec null = Spec(S_IFCHR | 0666);
  null.rdev_major = 1;
  null.rdev_minor = 3;
  EXPECT_TRUE(t.Link(ImageTree::kRoot, "null", t.AddInode(null)).ok());
  EXPECT_TRUE(
      t.Link(ImageTree::kRoot, "dir", t.AddInode(Spec(S_IFDIR | 0755))).ok());
  return t;
}

std::shared_ptr<const Manifest> Build(const ImageTree& t) {
  Result<std::vector<uint8_t>> bytes = WriteManifest(t);
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  Result<std::shared_ptr<const Manifest>> m =
      Manifest::FromBytes(std::move(*bytes));
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return *m;
}

NodeId At(const ImageTree& t, const std::string& a, const std::string& b = "") {
  NodeId n = *t.Lookup(ImageTree::kRoot, a);
  return b.empty() ? n : *t.Lookup(n, b);
}

// Diffs Base() against Base() changed by `edit`.
std::vector<PathChange> DiffAfter(const std::function<void(ImageTree&)>& edit) {
  ImageTree b = Base();
  edit(b);
  Result<std::vector<PathChange>> r =
      DiffImages(*Build(Base()), *Build(b));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::vector<PathChange>{};
}

void ExpectModified(const std::vector<PathChange>& c, const std::string& path,
                    std::vector<std::string> fields) {
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].path, path);
  EXPECT_EQ(c[0].kind, ChangeKind::kModified);
  EXPECT_EQ(c[0].fields, fields);
}

TEST(ImageDiff, IdenticalImagesHaveNoChanges) {
  EXPECT_TRUE(DiffAfter([](ImageTree&) {}).empty());
}

TEST(ImageDiff, FindsAddedAndRemovedPathsInOrder) {
  std::vector<PathChange> c = DiffAfter([](ImageTree& t) {
    ASSERT_TRUE(t.Unlink(ImageTree::kRoot, "lnk").ok());
    ASSERT_TRUE(t.Link(At(t, "dir"), "new", t.AddInode(Spec(S_IFIFO | 0644)))
                    .ok());
    ASSERT_TRUE(t.Link(ImageTree::kRoot, "a", t.AddInode(Spec(S_IFIFO | 0644)))
                    .ok());
  });
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].path, "/a");
  EXPECT_EQ(c[0].kind, ChangeKind::kAdded);
  EXPECT_EQ(c[1].path, "/dir/new");
  EXPECT_EQ(c[1].kind, ChangeKind::kAdded);
  EXPECT_EQ(c[2].path, "/lnk");
  EXPECT_EQ(c[2].kind, ChangeKind::kRemoved);
}

TEST(ImageDiff, FindsTypeChange) {
  std::vector<PathChange> c = DiffAfter([](ImageTree& t) {
    ASSERT_TRUE(t.Unlink(ImageTree::kRoot, "lnk").ok());
    ASSERT_TRUE(
        t.Link(ImageTree::kRoot, "lnk", t.AddInode(Spec(S_IFDIR | 0755))).ok());
  });
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].kind, ChangeKind::kTypeChanged);
  EXPECT_STREQ(FileTypeName(c[0].old_mode), "symlink");
  EXPECT_STREQ(FileTypeName(c[0].new_mode), "directory");
}

TEST(ImageDiff, FindsContentChangeInlineAndStored) {
  ExpectModified(DiffAfter([](ImageTree& t) {
                   t.inode(At(t, "etc", "passwd")).inline_data = "ROOT\n";
                 }),
                 "/etc/passwd", {"content"});
  std::vector<PathChange> c = DiffAfter(
      [](ImageTree& t) { t.inode(At(t, "bin", "sh")).digest = D(2); });
  ASSERT_EQ(c.size(), 2u);  // both names of the hard-linked inode
  EXPECT_EQ(c[0].path, "/bin/bash");
  EXPECT_EQ(c[0].fields, std::vector<std::string>{"content"});
  EXPECT_EQ(c[1].path, "/bin/sh");
}

TEST(ImageDiff, InlineAndStoredCopiesOfTheSameBytesAreEqual) {
  ImageTree a = Base();
  ImageTree b = Base();
  InodeSpec& spec = b.inode(At(b, "etc", "passwd"));
  spec.inline_data.reset();
  spec.digest = ComputeMerkleTree(std::span<const uint8_t>(
                                      reinterpret_cast<const uint8_t*>(
                                          "root\n"),
                                      5))
                    .digest;
  Result<std::vector<PathChange>> r = DiffImages(*Build(a), *Build(b));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(ImageDiff, FindsEachMetadataField) {
  ExpectModified(DiffAfter([](ImageTree& t) {
                   t.inode(At(t, "etc", "passwd")).mode = S_IFREG | 0600;
                 }),
                 "/etc/passwd", {"mode"});
  ExpectModified(
      DiffAfter([](ImageTree& t) { t.inode(At(t, "dir")).uid = 7; }), "/dir",
      {"uid"});
  ExpectModified(
      DiffAfter([](ImageTree& t) { t.inode(At(t, "dir")).gid = 7; }), "/dir",
      {"gid"});
  ExpectModified(
      DiffAfter([](ImageTree& t) { t.inode(At(t, "dir")).mtime_nsec = 1; }),
      "/dir", {"mtime"});
  ExpectModified(DiffAfter([](ImageTree& t) {
                   t.inode(At(t, "dir")).xattrs = {{"user.a", "1"}};
                 }),
                 "/dir", {"xattrs"});
  ExpectModified(
      DiffAfter([](ImageTree& t) { t.inode(At(t, "null")).rdev_minor = 5; }),
      "/null", {"rdev"});
  ExpectModified(DiffAfter([](ImageTree& t) {
                   t.inode(At(t, "lnk")).symlink_target = "other";
                 }),
                 "/lnk", {"target"});
  ExpectModified(DiffAfter([](ImageTree& t) {
                   InodeSpec& s = t.inode(At(t, "etc", "passwd"));
                   s.uid = 1;
                   s.mtime_sec = 1;
                   s.inline_data = "x";
                   s.size = 1;
                 }),
                 "/etc/passwd", {"content", "uid", "mtime"});
}

TEST(ImageDiff, FindsHardLinkRegrouping) {
  // /bin/bash becomes a separate copy of the same content: both names
  // change their link grouping, nothing else.
  std::vector<PathChange> c = DiffAfter([](ImageTree& t) {
    NodeId bin = At(t, "bin");
    InodeSpec copy = t.inode(At(t, "bin", "sh"));
    ASSERT_TRUE(t.Unlink(bin, "bash").ok());
    ASSERT_TRUE(t.Link(bin, "bash", t.AddInode(copy)).ok());
  });
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].path, "/bin/bash");
  EXPECT_EQ(c[0].fields, std::vector<std::string>{"links"});
  EXPECT_EQ(c[1].path, "/bin/sh");
  EXPECT_EQ(c[1].fields, std::vector<std::string>{"links"});
}

TEST(ImageDiff, RemovedDirectoryListsItsContents) {
  std::vector<PathChange> c = DiffAfter(
      [](ImageTree& t) { ASSERT_TRUE(t.Unlink(ImageTree::kRoot, "etc").ok()); });
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].path, "/etc");
  EXPECT_EQ(c[1].path, "/etc/passwd");
  EXPECT_EQ(c[1].kind, ChangeKind::kRemoved);
}

}  // namespace
}  // namespace sealfs::mkfs
