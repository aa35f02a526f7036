// SPDX-License-Identifier: Apache-2.0
// Tests of the mkfs directory walker: every entry of a generated tree is
// compared with lstat of the source.
#include "fs/mkfs/walker.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "sealfs/format.h"
#include "tests/mkfs/test_tree.h"
#include "tests/test_util.h"

namespace sealfs::mkfs {
namespace {

using ::sealfs::testing::MakeFullTree;
using ::sealfs::testing::TempDir;

// NodeId of `rel` ("a/b/c") in the walked tree.
NodeId Find(const ImageTree& tree, const std::string& rel) {
  NodeId id = ImageTree::kRoot;
  size_t pos = 0;
  while (pos <= rel.size()) {
    size_t slash = rel.find('/', pos);
    if (slash == std::string::npos) slash = rel.size();
    Result<NodeId> next = tree.Lookup(id, rel.substr(pos, slash - pos));
    EXPECT_TRUE(next.ok()) << rel;
    if (!next.ok()) return ImageTree::kRoot;
    id = *next;
    pos = slash + 1;
  }
  return id;
}

std::vector<Xattr> SourceXattrs(const std::string& path) {
  std::vector<Xattr> out;
  char names[4096];
  ssize_t n = llistxattr(path.c_str(), names, sizeof(names));
  for (ssize_t pos = 0; n > 0 && pos < n;) {
    std::string key(names + pos);
    pos += static_cast<ssize_t>(key.size()) + 1;
    char value[4096];
    ssize_t len = lgetxattr(path.c_str(), key.c_str(), value, sizeof(value));
    if (len >= 0) out.push_back({key, std::string(value, static_cast<size_t>(len))});
  }
  std::sort(out.begin(), out.end());
  return out;
}

void ExpectMatchesSource(const InodeSpec& spec, const std::string& path,
                         const struct stat& st) {
  SCOPED_TRACE(path);
  EXPECT_EQ(spec.mode, st.st_mode);
  EXPECT_EQ(spec.uid, st.st_uid);
  EXPECT_EQ(spec.gid, st.st_gid);
  EXPECT_EQ(spec.mtime_sec, st.st_mtim.tv_sec);
  EXPECT_EQ(spec.mtime_nsec, static_cast<uint32_t>(st.st_mtim.tv_nsec));
  std::vector<Xattr> xattrs = spec.xattrs;
  std::sort(xattrs.begin(), xattrs.end());
  EXPECT_EQ(xattrs, SourceXattrs(path));
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    EXPECT_EQ(spec.rdev_major, major(st.st_rdev));
    EXPECT_EQ(spec.rdev_minor, minor(st.st_rdev));
  } else {
    EXPECT_EQ(spec.rdev_major, 0u);
    EXPECT_EQ(spec.rdev_minor, 0u);
  }
  if (S_ISREG(st.st_mode)) {
    EXPECT_EQ(spec.size, static_cast<uint64_t>(st.st_size));
  }
  if (S_ISLNK(st.st_mode)) {
    std::string target(8192, '\0');
    ssize_t n = readlink(path.c_str(), target.data(), target.size());
    ASSERT_GT(n, 0);
    target.resize(static_cast<size_t>(n));
    EXPECT_EQ(spec.symlink_target, target);
  }
}

class WalkerTest : public ::testing::Test {
 protected:
  void SetUp() override { MakeFullTree(src_.path()); }
  TempDir src_;
};

TEST_F(WalkerTest, RecordsEveryEntryAsLstatSeesIt) {
  Result<WalkResult> r = WalkTree(src_.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ImageTree& tree = r->tree;

  struct stat root_st;
  ASSERT_EQ(lstat(src_.path().c_str(), &root_st), 0);
  ExpectMatchesSource(tree.inode(ImageTree::kRoot), src_.path(), root_st);

  std::map<std::pair<dev_t, ino_t>, NodeId> seen;
  std::set<NodeId> jobs;
  for (const FileJob& job : r->files) jobs.insert(job.node);
  size_t entries = 0;
  std::set<NodeId> distinct;
  for (auto it = std::filesystem::recursive_directory_iterator(src_.path());
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    const std::string path = it->path().string();
    const std::string rel = path.substr(src_.path().size() + 1);
    struct stat st;
    ASSERT_EQ(lstat(path.c_str(), &st), 0) << path;
    NodeId id = Find(tree, rel);
    ASSERT_NE(id, ImageTree::kRoot) << rel;
    ++entries;
    distinct.insert(id);
    ExpectMatchesSource(tree.inode(id), path, st);
    // One node per inode: hard links share it, nothing else does.
    auto [pos, inserted] = seen.emplace(std::make_pair(st.st_dev, st.st_ino), id);
    EXPECT_EQ(pos->second, id) << rel;
    const InodeSpec& spec = tree.inode(id);
    if (S_ISREG(st.st_mode)) {
      if (st.st_size <= 64) {
        ASSERT_TRUE(spec.inline_data.has_value()) << rel;
        std::vector<uint8_t> content = ::sealfs::testing::ReadFile(path);
        EXPECT_EQ(*spec.inline_data, std::string(content.begin(), content.end()));
        EXPECT_EQ(jobs.count(id), 0u) << rel;
      } else {
        EXPECT_FALSE(spec.inline_data.has_value()) << rel;
        EXPECT_EQ(jobs.count(id), 1u) << rel;
      }
    }
  }
  EXPECT_EQ(distinct.size(), seen.size());
  EXPECT_EQ(r->inode_count, seen.size() + 1);
  EXPECT_GT(entries, 60u);  // the deep chain alone has 41 entries
  // Each inode is hashed once, however many links it has.
  EXPECT_EQ(jobs.size(), r->files.size());
}

TEST_F(WalkerTest, HardLinksShareOneNode) {
  Result<WalkResult> r = WalkTree(src_.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Find(r->tree, "links/hard1"), Find(r->tree, "links/hard2"));
  EXPECT_EQ(Find(r->tree, "links/hard1"), Find(r->tree, "etc/hard3"));
  EXPECT_EQ(Find(r->tree, "links/small1"), Find(r->tree, "links/small2"));
  EXPECT_EQ(Find(r->tree, "links/fifo1"), Find(r->tree, "links/fifo2"));
  // Equal content in two different inodes is two nodes (the store dedups).
  EXPECT_NE(Find(r->tree, "data/dup-a"), Find(r->tree, "data/dup-b"));
}

TEST_F(WalkerTest, RecordsSpecialFilesAndNames) {
  Result<WalkResult> r = WalkTree(src_.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ImageTree& t = r->tree;
  const InodeSpec& dev = t.inode(Find(t, "dev/big"));
  EXPECT_TRUE(S_ISCHR(dev.mode));
  EXPECT_EQ(dev.rdev_major, 300u);
  EXPECT_EQ(dev.rdev_minor, 70000u);
  EXPECT_TRUE(S_ISFIFO(t.inode(Find(t, "dev/fifo")).mode));
  EXPECT_TRUE(S_ISSOCK(t.inode(Find(t, "dev/sock")).mode));
  EXPECT_EQ(t.inode(Find(t, "tmp")).mode, S_IFDIR | 01777u);
  EXPECT_EQ(t.inode(Find(t, "bin/ping")).mode, S_IFREG | 04755u);
  const InodeSpec& empty = t.inode(Find(t, "data/empty"));
  ASSERT_TRUE(empty.inline_data.has_value());
  EXPECT_TRUE(empty.inline_data->empty());
  EXPECT_EQ(t.inode(Find(t, "links/long")).symlink_target, std::string(4000, 'a'));
  EXPECT_TRUE(S_ISREG(t.inode(Find(t, ::sealfs::testing::kNonUtf8Name)).mode));
  EXPECT_TRUE(S_ISREG(t.inode(Find(t, std::string(255, 'n'))).mode));
  const InodeSpec& ping = t.inode(Find(t, "bin/ping"));
  bool has_cap = false;
  for (const Xattr& x : ping.xattrs) has_cap |= x.key == "security.capability";
  EXPECT_TRUE(has_cap);
}

TEST_F(WalkerTest, InlineMaxZeroSendsEveryNonEmptyFileToTheHasher) {
  Result<WalkResult> r = WalkTree(src_.path(), WalkOptions{0});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->tree.inode(Find(r->tree, "links/small1")).inline_data);
  EXPECT_TRUE(r->tree.inode(Find(r->tree, "data/empty")).inline_data);
}

TEST(Walker, RefusesSourceThatIsNotADirectory) {
  TempDir dir;
  ::sealfs::testing::WriteFile(dir / "file", "x");
  Result<WalkResult> r = WalkTree(dir / "file");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().err(), ENOTDIR);
  EXPECT_NE(r.status().context().find(dir / "file"), std::string::npos);
}

TEST(Walker, RefusesMissingSource) {
  TempDir dir;
  Result<WalkResult> r = WalkTree(dir / "missing");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().err(), ENOENT);
  EXPECT_NE(r.status().context().find(dir / "missing"), std::string::npos);
}

TEST(Walker, UnreadableDirectoryErrorNamesThePath) {
  // Root reads everything, so the walk runs in a child that drops to an
  // unprivileged uid; the child reports through its exit code.
  TempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
  ::sealfs::testing::WriteFile(dir / "src/sub/x", "y");
  ASSERT_EQ(chmod((dir / "src").c_str(), 0755), 0);
  ASSERT_EQ(chmod((dir / "src/sub").c_str(), 0), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (setresgid(65534, 65534, 65534) != 0 ||
        setresuid(65534, 65534, 65534) != 0) {
      _exit(3);
    }
    Result<WalkResult> r = WalkTree(dir / "src");
    if (r.ok()) _exit(4);
    if (r.status().err() != EACCES) _exit(5);
    if (r.status().ToString().find(dir / "src/sub") == std::string::npos) {
      _exit(6);
    }
    _exit(0);
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFEXITED(wstatus));
  EXPECT_EQ(WEXITSTATUS(wstatus), 0);
  chmod((dir / "src/sub").c_str(), 0755);
}

TEST(OpenBeneath, OpensRegularFileButNoSymlinkOrEscape) {
  TempDir dir;
  ::sealfs::testing::WriteFile(dir / "a/b/file", "content");
  ASSERT_EQ(symlink("b", (dir / "a/link").c_str()), 0);
  ASSERT_EQ(symlink("file", (dir / "a/b/flink").c_str()), 0);
  UniqueFd root(open(dir.path().c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(root.valid());

  Result<UniqueFd> ok = OpenBeneath(root.get(), "a/b/file");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  char buf[16] = {};
  EXPECT_EQ(read(ok->get(), buf, sizeof(buf)), 7);

  Result<UniqueFd> via_link = OpenBeneath(root.get(), "a/link/file");
  ASSERT_FALSE(via_link.ok());
  EXPECT_EQ(via_link.status().err(), ELOOP);
  Result<UniqueFd> final_link = OpenBeneath(root.get(), "a/b/flink");
  ASSERT_FALSE(final_link.ok());
  EXPECT_EQ(final_link.status().err(), ELOOP);
  Result<UniqueFd> escape = OpenBeneath(root.get(), "../x");
  EXPECT_FALSE(escape.ok());
}

TEST(OpenBeneath, OpensPathLongerThanPathMax) {
  // 30 levels of 200-byte names: 6000 bytes, over PATH_MAX, so openat2
  // refuses it and the one-component-at-a-time fallback must work.
  TempDir dir;
  UniqueFd root(open(dir.path().c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(root.valid());
  const std::string name(200, 'p');
  std::string rel;
  UniqueFd at(dup(root.get()));
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(mkdirat(at.get(), name.c_str(), 0755), 0);
    at.reset(openat(at.get(), name.c_str(), O_RDONLY | O_DIRECTORY));
    ASSERT_TRUE(at.valid());
    rel += name + "/";
  }
  UniqueFd file(openat(at.get(), "f", O_CREAT | O_WRONLY, 0644));
  ASSERT_TRUE(file.valid());
  ASSERT_EQ(write(file.get(), "abc", 3), 3);
  rel += "f";
  ASSERT_GT(rel.size(), static_cast<size_t>(PATH_MAX));
  Result<UniqueFd> r = OpenBeneath(root.get(), rel);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  char buf[8] = {};
  EXPECT_EQ(read(r->get(), buf, sizeof(buf)), 3);
  // TempDir's remove_all works on whole paths; rm(1) copes with this depth.
  ::sealfs::testing::Run({"rm", "-rf", dir.path() + "/" + name});
}

TEST(OpenBeneath, FifoOpensWithoutBlocking) {
  TempDir dir;
  ASSERT_EQ(mkfifo((dir / "fifo").c_str(), 0644), 0);
  UniqueFd root(open(dir.path().c_str(), O_RDONLY | O_DIRECTORY));
  // O_NONBLOCK: returns at once; the hasher then sees it is not regular.
  Result<UniqueFd> r = OpenBeneath(root.get(), "fifo");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  struct stat st;
  ASSERT_EQ(fstat(r->get(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

}  // namespace
}  // namespace sealfs::mkfs
