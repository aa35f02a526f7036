// SPDX-License-Identifier: Apache-2.0
// Helpers for the manifest tests: InodeSpec shorthands, a small tree with
// every feature of the format, and raw record editing for hostile cases.
#ifndef SEALFS_TESTS_CORE_MANIFEST_TEST_UTIL_H_
#define SEALFS_TESTS_CORE_MANIFEST_TEST_UTIL_H_

#include <sys/stat.h>

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fs/core/manifest_validate.h"
#include "sealfs/manifest_writer.h"

namespace sealfs::testing {

inline InodeSpec DirSpec(uint32_t perm = 0755) {
  InodeSpec s;
  s.mode = S_IFDIR | perm;
  s.mtime_sec = 1700000000;
  return s;
}

inline InodeSpec InlineFile(std::string data, uint32_t perm = 0644) {
  InodeSpec s;
  s.mode = S_IFREG | perm;
  s.mtime_sec = 1700000001;
  s.mtime_nsec = 500;
  s.size = data.size();
  s.inline_data = std::move(data);
  return s;
}

inline Digest FakeDigest(uint8_t fill) {
  Digest d;
  d.bytes.fill(fill);
  return d;
}

inline InodeSpec StoredFile(uint64_t size, uint8_t fill) {
  InodeSpec s;
  s.mode = S_IFREG | 0755;
  s.size = size;
  s.digest = FakeDigest(fill);
  return s;
}

inline InodeSpec SymlinkSpec(std::string target) {
  InodeSpec s;
  s.mode = S_IFLNK | 0777;
  s.symlink_target = std::move(target);
  return s;
}

inline InodeSpec SpecialSpec(uint32_t type, uint32_t major = 0,
                             uint32_t minor = 0) {
  InodeSpec s;
  s.mode = type | 0600;
  s.rdev_major = major;
  s.rdev_minor = minor;
  return s;
}

// Adds `spec` as `name` in `dir`; fails the test if the link is refused.
inline NodeId AddAt(ImageTree& tree, NodeId dir, const std::string& name,
                    InodeSpec spec) {
  NodeId id = tree.AddInode(std::move(spec));
  Status s = tree.Link(dir, name, id);
  EXPECT_TRUE(s.ok()) << name << ": " << s.ToString();
  return id;
}

// A small tree using every feature: all file types, inline and stored
// files (two sharing a digest), an empty file, a hard link, xattr sets shared
// between inodes, a non-UTF-8 name and nested directories.
inline ImageTree FeatureTree() {
  ImageTree t(DirSpec());
  const std::vector<Xattr> shared = {{"user.b", "2"}, {"user.a", "1"}};
  NodeId bin = AddAt(t, ImageTree::kRoot, "bin", DirSpec());
  t.inode(bin).xattrs = shared;
  NodeId sh = AddAt(t, bin, "sh", StoredFile(10000, 0x11));
  t.inode(sh).xattrs = {{"security.capability", std::string("\x01\0\x02", 3)}};
  AddAt(t, bin, "ls", StoredFile(10000, 0x11));
  AddAt(t, bin, "big", StoredFile(1 << 20, 0x22));
  NodeId etc = AddAt(t, ImageTree::kRoot, "etc", DirSpec());
  NodeId hosts = AddAt(t, etc, "hosts", InlineFile("127.0.0.1 localhost\n"));
  t.inode(hosts).xattrs = shared;
  EXPECT_TRUE(t.Link(etc, "hosts.link", hosts).ok());
  AddAt(t, etc, "empty", InlineFile(""));
  NodeId dev = AddAt(t, ImageTree::kRoot, "dev", DirSpec());
  AddAt(t, dev, "null", SpecialSpec(S_IFCHR, 1, 3));
  AddAt(t, dev, "sda", SpecialSpec(S_IFBLK, 8, 0));
  AddAt(t, dev, "fifo", SpecialSpec(S_IFIFO));
  AddAt(t, dev, "sock", SpecialSpec(S_IFSOCK));
  AddAt(t, ImageTree::kRoot, "link", SymlinkSpec("etc/hosts"));
  AddAt(t, ImageTree::kRoot, std::string("\xff\xfe\x80"), InlineFile("x"));
  NodeId a = AddAt(t, ImageTree::kRoot, "a", DirSpec());
  NodeId b = AddAt(t, a, "b", DirSpec());
  AddAt(t, b, "c", DirSpec(0700));
  return t;
}

inline std::vector<uint8_t> MustWrite(const ImageTree& tree,
                                      const WriteOptions& options = {}) {
  auto r = WriteManifest(tree, options);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::vector<uint8_t>{};
}

// Where each section is, read from a manifest known to be valid.
inline ManifestLayout LayoutOf(const std::vector<uint8_t>& m) {
  auto l = ValidateManifest(m);
  EXPECT_TRUE(l.ok()) << l.status().ToString();
  return l.ok() ? *l : ManifestLayout{};
}

template <typename T>
T GetAt(const std::vector<uint8_t>& m, uint64_t off) {
  T v;
  EXPECT_LE(off + sizeof(T), m.size());
  std::memcpy(&v, m.data() + off, sizeof(T));
  return v;
}

template <typename T>
void PutAt(std::vector<uint8_t>& m, uint64_t off, const T& v) {
  ASSERT_LE(off + sizeof(T), m.size());
  std::memcpy(m.data() + off, &v, sizeof(T));
}

// Byte offset of record `index` of a record section.
template <typename T>
uint64_t RecordOffset(const ManifestLayout& l, SectionKind kind,
                      uint64_t index) {
  return l.section(kind).offset + index * sizeof(T);
}

}  // namespace sealfs::testing

#endif  // SEALFS_TESTS_CORE_MANIFEST_TEST_UTIL_H_
