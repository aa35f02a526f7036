// SPDX-License-Identifier: Apache-2.0
// Tests of LayerApplier on an ImageTree, without tar: OCI whiteouts, opaque
// directories, replacement rules, hard links, and every refusal.
#include "fs/mkfs/layer_apply.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "sealfs/format.h"

namespace sealfs::mkfs {
namespace {

InodeSpec Dir(uint32_t perm = 0755, int64_t mtime = 1) {
  InodeSpec spec;
  spec.mode = S_IFDIR | perm;
  spec.mtime_sec = mtime;
  return spec;
}

InodeSpec File(const std::string& content, int64_t mtime = 1) {
  InodeSpec spec;
  spec.mode = S_IFREG | 0644;
  spec.mtime_sec = mtime;
  spec.size = content.size();
  spec.inline_data = content;
  return spec;
}

InodeSpec Symlink(const std::string& target) {
  InodeSpec spec;
  spec.mode = S_IFLNK | 0777;
  spec.symlink_target = target;
  return spec;
}

// Every path below the root -> "type perm uid mtime content".
void RenderDir(const ImageTree& tree, NodeId dir, const std::string& prefix,
               std::map<std::string, std::string>& out) {
  for (const auto& [name, child] : tree.children(dir)) {
    const InodeSpec& s = tree.inode(child);
    std::string path = prefix.empty() ? name : prefix + "/" + name;
    char perm[16];
    std::snprintf(perm, sizeof(perm), "%04o", s.mode & 07777);
    std::string type = S_ISDIR(s.mode)   ? "d"
                       : S_ISREG(s.mode) ? "f"
                       : S_ISLNK(s.mode) ? "l"
                                         : "o";
    out[path] = type + " " + perm + " " + std::to_string(s.uid) + " " +
                std::to_string(s.mtime_sec) + " " +
                s.inline_data.value_or("") + s.symlink_target;
    if (S_ISDIR(s.mode)) RenderDir(tree, child, path, out);
  }
}

std::map<std::string, std::string> Render(const ImageTree& tree) {
  std::map<std::string, std::string> out;
  RenderDir(tree, ImageTree::kRoot, "", out);
  return out;
}

// The node at `path`, or -1.
int64_t NodeAt(const ImageTree& tree, const std::string& path) {
  NodeId node = ImageTree::kRoot;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    Result<NodeId> child = tree.Lookup(node, path.substr(pos, slash - pos));
    if (!child.ok()) return -1;
    node = *child;
    pos = slash + 1;
  }
  return node;
}

class LayerApplyTest : public ::testing::Test {
 protected:
  // Applies `entries` ("path" -> spec, in order) as one new layer.
  void Layer(std::vector<std::pair<std::string, InodeSpec>> entries) {
    applier_.BeginLayer();
    for (auto& [path, spec] : entries) {
      ASSERT_TRUE(applier_.Apply(path, spec).ok()) << path;
    }
  }
  // A two-layer base: a/ with a/old and a/sub/deep, f, g.
  void Base() {
    Layer({{"a", Dir()},
           {"a/old", File("old")},
           {"a/sub/deep", File("deep")},
           {"f", File("f1")},
           {"g", File("g1")}});
  }

  ImageTree tree_{ImplicitDirSpec()};
  LayerApplier applier_{tree_};
};

TEST(SplitEntryPath, NormalisesLeadingSlashDotAndEmptyComponents) {
  using V = std::vector<std::string>;
  EXPECT_EQ(*SplitEntryPath("./a//b/./c/"), (V{"a", "b", "c"}));
  EXPECT_EQ(*SplitEntryPath("/abs/x"), (V{"abs", "x"}));
  EXPECT_EQ(*SplitEntryPath("."), V{});
  EXPECT_EQ(*SplitEntryPath("/"), V{});
  EXPECT_EQ(*SplitEntryPath(""), V{});
  EXPECT_EQ(*SplitEntryPath("..."), V{"..."});
}

TEST(SplitEntryPath, RefusesDotDotLongNamesAndLongPaths) {
  EXPECT_EQ(SplitEntryPath("a/../../b").status().err(), EINVAL);
  EXPECT_EQ(SplitEntryPath("../x").status().err(), EINVAL);
  EXPECT_EQ(SplitEntryPath("a/..").status().err(), EINVAL);
  EXPECT_EQ(SplitEntryPath(std::string(256, 'n')).status().err(),
            ENAMETOOLONG);
  EXPECT_TRUE(SplitEntryPath(std::string(255, 'n')).ok());
  std::string long_path;
  while (long_path.size() <= kMaxEntryPathLen) long_path += "abcdefg/";
  EXPECT_EQ(SplitEntryPath(long_path).status().err(), EINVAL);
  EXPECT_EQ(SplitEntryPath(std::string("a\0b", 3)).status().err(), EINVAL);
}

TEST_F(LayerApplyTest, CreatesMissingParentsAsRoot0755Mtime0) {
  Layer({{"x/y/z", File("z", 7)}});
  auto r = Render(tree_);
  EXPECT_EQ(r["x"], "d 0755 0 0 ");
  EXPECT_EQ(r["x/y"], "d 0755 0 0 ");
  EXPECT_EQ(r["x/y/z"], "f 0644 0 7 z");
}

TEST_F(LayerApplyTest, RootEntrySetsRootMetadata) {
  Layer({{"./", Dir(0700, 99)}});
  EXPECT_EQ(tree_.inode(ImageTree::kRoot).mode, S_IFDIR | 0700u);
  EXPECT_EQ(tree_.inode(ImageTree::kRoot).mtime_sec, 99);
}

TEST_F(LayerApplyTest, LaterEntryReplacesFile) {
  Base();
  Layer({{"f", File("f2", 5)}});
  EXPECT_EQ(Render(tree_)["f"], "f 0644 0 5 f2");
}

TEST_F(LayerApplyTest, FileReplacesDirectoryAndItsSubtree) {
  Base();
  Layer({{"a", File("now a file")}});
  auto r = Render(tree_);
  EXPECT_EQ(r["a"], "f 0644 0 1 now a file");
  EXPECT_EQ(r.count("a/old"), 0u);
  EXPECT_EQ(r.count("a/sub/deep"), 0u);
}

TEST_F(LayerApplyTest, DirectoryReplacesFile) {
  Base();
  Layer({{"f", Dir(0700)}, {"f/inner", File("i")}});
  auto r = Render(tree_);
  EXPECT_EQ(r["f"], "d 0700 0 1 ");
  EXPECT_EQ(r["f/inner"], "f 0644 0 1 i");
}

TEST_F(LayerApplyTest, DirectoryOverDirectoryMergesWithNewMetadata) {
  Base();
  Layer({{"a", Dir(0711, 42)}, {"a/new", File("n")}});
  auto r = Render(tree_);
  EXPECT_EQ(r["a"], "d 0711 0 42 ");
  EXPECT_EQ(r["a/old"], "f 0644 0 1 old");
  EXPECT_EQ(r["a/new"], "f 0644 0 1 n");
}

TEST_F(LayerApplyTest, WhiteoutRemovesLowerFile) {
  Base();
  Layer({{".wh.f", File("")}});
  auto r = Render(tree_);
  EXPECT_EQ(r.count("f"), 0u);
  EXPECT_EQ(r.count(".wh.f"), 0u);  // the marker itself is never added
  EXPECT_EQ(r.count("g"), 1u);
}

TEST_F(LayerApplyTest, WhiteoutRemovesLowerDirectorySubtree) {
  Base();
  Layer({{"a/sub/.wh.deep", File("")}, {".wh.a", File("")}});
  auto r = Render(tree_);
  EXPECT_EQ(r.count("a"), 0u);
  EXPECT_EQ(r.count("a/old"), 0u);
}

TEST_F(LayerApplyTest, WhiteoutOfMissingPathIsIgnored) {
  Base();
  auto before = Render(tree_);
  applier_.BeginLayer();
  EXPECT_TRUE(applier_.Apply(".wh.nothing", File("")).ok());
  EXPECT_TRUE(applier_.Apply("missing/dir/.wh.x", File("")).ok());
  EXPECT_TRUE(applier_.Apply("f/.wh.x", File("")).ok());  // f is a file
  EXPECT_EQ(Render(tree_), before);  // and no parent was created
}

TEST_F(LayerApplyTest, WhiteoutNeverHidesSameLayerEntryInEitherOrder) {
  Base();
  Layer({{".wh.f", File("")}, {"f", File("new f")}});
  EXPECT_EQ(Render(tree_)["f"], "f 0644 0 1 new f");
  Layer({{"g", File("new g")}, {".wh.g", File("")}});
  EXPECT_EQ(Render(tree_)["g"], "f 0644 0 1 new g");
}

TEST_F(LayerApplyTest, WhiteoutOfDirectoryKeepsThisLayersChildrenInEitherOrder) {
  std::map<std::string, std::string> results[2];
  for (int order = 0; order < 2; ++order) {
    ImageTree tree(ImplicitDirSpec());
    LayerApplier applier(tree);
    applier.BeginLayer();
    ASSERT_TRUE(applier.Apply("a", Dir()).ok());
    ASSERT_TRUE(applier.Apply("a/old", File("old")).ok());
    applier.BeginLayer();
    std::vector<std::pair<std::string, InodeSpec>> entries = {
        {".wh.a", File("")}, {"a", Dir(0700, 3)}, {"a/new", File("n")}};
    if (order == 1) std::swap(entries.front(), entries.back());
    for (auto& [path, spec] : entries) {
      ASSERT_TRUE(applier.Apply(path, spec).ok()) << path;
    }
    results[order] = Render(tree);
  }
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0].count("a/old"), 0u);
  EXPECT_EQ(results[0]["a/new"], "f 0644 0 1 n");
  EXPECT_EQ(results[0]["a"], "d 0700 0 3 ");
}

TEST_F(LayerApplyTest, OpaqueDirectoryHidesLowerKeepsThisLayerInEitherOrder) {
  std::map<std::string, std::string> results[2];
  for (int order = 0; order < 2; ++order) {
    ImageTree tree(ImplicitDirSpec());
    LayerApplier applier(tree);
    applier.BeginLayer();
    ASSERT_TRUE(applier.Apply("a/old", File("old")).ok());
    ASSERT_TRUE(applier.Apply("a/sub/deep", File("deep")).ok());
    ASSERT_TRUE(applier.Apply("a/keep/k", File("k")).ok());
    applier.BeginLayer();
    std::vector<std::pair<std::string, InodeSpec>> entries = {
        {"a/.wh..wh..opq", File("")},
        {"a", Dir(0750, 8)},
        {"a/new", File("n")},
        {"a/keep/mine", File("m")}};  // a/keep: an implicit parent
    if (order == 1) std::reverse(entries.begin(), entries.end());
    for (auto& [path, spec] : entries) {
      ASSERT_TRUE(applier.Apply(path, spec).ok()) << path;
    }
    results[order] = Render(tree);
  }
  EXPECT_EQ(results[0], results[1]);
  std::map<std::string, std::string> expected = {
      {"a", "d 0750 0 8 "},
      {"a/new", "f 0644 0 1 n"},
      {"a/keep", "d 0755 0 0 "},
      {"a/keep/mine", "f 0644 0 1 m"}};
  EXPECT_EQ(results[0], expected);
}

TEST_F(LayerApplyTest, OpaqueMarkerCreatesMissingDirectory) {
  Layer({{"new/.wh..wh..opq", File("")}});
  EXPECT_EQ(Render(tree_)["new"], "d 0755 0 0 ");
}

TEST_F(LayerApplyTest, OpaqueRootHidesEveryLowerEntry) {
  Base();
  Layer({{".wh..wh..opq", File("")}, {"only", File("o")}});
  std::map<std::string, std::string> expected = {{"only", "f 0644 0 1 o"}};
  EXPECT_EQ(Render(tree_), expected);
}

TEST_F(LayerApplyTest, HardLinkWithinLayerSharesTheInode) {
  applier_.BeginLayer();
  ASSERT_TRUE(applier_.Apply("d/orig", File("x")).ok());
  ASSERT_TRUE(applier_.ApplyHardLink("e/link", "./d/orig").ok());
  EXPECT_EQ(NodeAt(tree_, "e/link"), NodeAt(tree_, "d/orig"));
  EXPECT_GE(NodeAt(tree_, "d/orig"), 0);
}

TEST_F(LayerApplyTest, HardLinkIntoEarlierLayer) {
  Base();
  applier_.BeginLayer();
  ASSERT_TRUE(applier_.ApplyHardLink("f-again", "f").ok());
  EXPECT_EQ(NodeAt(tree_, "f-again"), NodeAt(tree_, "f"));
}

TEST_F(LayerApplyTest, HardLinkKeepsOldInodeWhenTargetPathIsReplaced) {
  Base();
  applier_.BeginLayer();
  ASSERT_TRUE(applier_.ApplyHardLink("link", "f").ok());
  int64_t old_node = NodeAt(tree_, "f");
  Layer({{"f", File("replaced")}});
  EXPECT_EQ(NodeAt(tree_, "link"), old_node);
  EXPECT_EQ(Render(tree_)["link"], "f 0644 0 1 f1");
  EXPECT_EQ(Render(tree_)["f"], "f 0644 0 1 replaced");
}

TEST_F(LayerApplyTest, HardLinkReplacesWhatIsAtItsPath) {
  Base();
  applier_.BeginLayer();
  ASSERT_TRUE(applier_.ApplyHardLink("a", "g").ok());
  EXPECT_EQ(NodeAt(tree_, "a"), NodeAt(tree_, "g"));
  EXPECT_EQ(NodeAt(tree_, "a/old"), -1);
  ASSERT_TRUE(applier_.ApplyHardLink("g", "g").ok());  // itself: a no-op
  EXPECT_EQ(NodeAt(tree_, "a"), NodeAt(tree_, "g"));
}

// Every refusal, each leaving the tree as it was.
TEST_F(LayerApplyTest, RefusesBadEntriesWithoutChangingTheTree) {
  Base();
  Layer({{"sym", Symlink("/etc")}});
  const auto before = Render(tree_);
  InodeSpec socket;
  socket.mode = S_IFSOCK | 0755;
  InodeSpec no_type;
  no_type.mode = 0644;
  struct Case {
    std::string path;
    InodeSpec spec;
    int err;
  };
  const std::vector<Case> cases = {
      {"a/../../b", File("x"), EINVAL},
      {"../escape", File("x"), EINVAL},
      {std::string(256, 'n'), File("x"), ENAMETOOLONG},
      {"sym/passwd", File("x"), ENOTDIR},  // never through a symlink
      {"f/child", File("x"), ENOTDIR},
      {"f/deeper/child", File("x"), ENOTDIR},
      {"./", File("x"), EINVAL},  // the root must stay a directory
      {"/", Symlink("y"), EINVAL},
      {".wh.", File(""), EINVAL},  // whiteout of nothing
      {"a/.wh..", File(""), EINVAL},
      {".wh...", File(""), EINVAL},
      {".wh..wh.plnk", File(""), EINVAL},  // aufs metadata
      {"a/.wh.dir/child", File("x"), EINVAL},  // a marker is no directory
      {".wh.dir/.wh..wh..opq", File(""), EINVAL},
      {"sock", socket, EINVAL},
      {"typeless", no_type, EINVAL},
      {"sym/.wh..wh..opq", File(""), ENOTDIR},
  };
  applier_.BeginLayer();
  for (const Case& c : cases) {
    Status s = applier_.Apply(c.path, c.spec);
    EXPECT_EQ(s.err(), c.err) << c.path << ": " << s.context();
    EXPECT_FALSE(s.context().empty()) << c.path;
  }
  struct LinkCase {
    std::string path;
    std::string target;
    int err;
  };
  const std::vector<LinkCase> links = {
      {"l", "missing", ENOENT},
      {"l", "a/missing", ENOENT},
      {"l", "f/below-a-file", ENOENT},
      {"l", "sym/passwd", ENOENT},  // not through a symlink either
      {"l", "a", EPERM},            // a directory
      {"l", "./", EPERM},           // the root
      {"l", "a/../f", EINVAL},
      {"./", "f", EINVAL},  // the root as a hard link
      {"../l", "f", EINVAL},
      {"sym/l", "f", ENOTDIR},
      {".wh.x/l", "f", EINVAL},
  };
  for (const LinkCase& c : links) {
    Status s = applier_.ApplyHardLink(c.path, c.target);
    EXPECT_EQ(s.err(), c.err) << c.path << " -> " << c.target << ": "
                              << s.context();
  }
  EXPECT_EQ(Render(tree_), before);
}

}  // namespace
}  // namespace sealfs::mkfs
