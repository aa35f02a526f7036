// SPDX-License-Identifier: Apache-2.0
// `sealfs tag`, `images`, `fsck` and `gc` run as an operator runs them: exit
// codes, the lines they print, what ends up in the store and in quarantine.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fs/core/store_lock.h"
#include "sealfs/digest.h"
#include "sealfs/signature.h"
#include "sealfs/store.h"
#include "tests/test_util.h"

namespace sealfs {
namespace {

namespace st = ::sealfs::testing;

using ::sealfs::testing::CommandResult;
using ::sealfs::testing::RandomBytes;
using ::sealfs::testing::ReadFile;
using ::sealfs::testing::SealfsBin;
using ::sealfs::testing::Shell;
using ::sealfs::testing::TempDir;
using ::sealfs::testing::WriteFile;

constexpr size_t kSharedSize = 200000;  // libc, in every image

bool Exists(const std::string& path) {
  struct stat s;
  return ::lstat(path.c_str(), &s) == 0;
}

std::string Q(const std::string& s) { return "'" + s + "'"; }

// True iff `text` is one valid JSON document (python3's parser decides).
bool IsJson(const std::string& text, const std::string& dir) {
  WriteFile(dir + "/out.json", text);
  return Shell("python3 -c 'import json,sys; json.load(open(sys.argv[1]))' " +
               Q(dir + "/out.json"))
             .exit_code == 0;
}

// A python3 expression evaluated on the JSON document `text` (bound to d).
std::string JsonEval(const std::string& text, const std::string& dir,
                     const std::string& expr) {
  WriteFile(dir + "/eval.json", text);
  WriteFile(dir + "/eval.py", "import json, sys\nd = json.load(open(sys.argv[1]))\nprint(" +
                                  expr + ")\n");
  CommandResult r =
      Shell("python3 " + Q(dir + "/eval.py") + " " + Q(dir + "/eval.json"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r.out;
}

class StoreCmdsTest : public ::testing::Test {
 protected:
  // One tree per `seed`: a shared 200000-byte file, a unique file of
  // `unique_size` bytes, and an inline file.
  void MakeTree(const std::string& root, uint64_t seed, size_t unique_size) {
    WriteFile(root + "/lib/libc.so", RandomBytes(kSharedSize, 1));
    WriteFile(root + "/bin/tool", RandomBytes(unique_size, seed));
    WriteFile(root + "/etc/hostname", "box\n");
  }

  CommandResult Sealfs(std::vector<std::string> args) {
    args.insert(args.begin(), SealfsBin());
    return st::Run(args);
  }

  // mkfs of `src` into the store; returns the identity line.
  std::string Mkfs(const std::string& src, const std::string& image,
                   std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"mkfs", "--store", store_};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(src);
    args.push_back(image);
    CommandResult r = Sealfs(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  std::string ObjectFile(const std::vector<uint8_t>& data) {
    return store_ + "/" + Store::ObjectPath(ComputeMerkleTree(data).digest);
  }
  std::string TreeFile(const std::vector<uint8_t>& data) {
    return store_ + "/" + Store::TreePath(ComputeMerkleTree(data).digest);
  }
  // Sets every object's mtime to 2001, as if built long ago.
  void AgeObjects() {
    ASSERT_EQ(Shell("find " + Q(store_ + "/objects") +
                    " -type f -exec touch -h -d @1000000000 {} +")
                  .exit_code,
              0);
  }

  void FlipByte(const std::string& path, off_t offset) {
    int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0) << path;
    uint8_t b = 0;
    ASSERT_EQ(::pread(fd, &b, 1, offset), 1);
    b ^= 0x40;
    ASSERT_EQ(::pwrite(fd, &b, 1, offset), 1);
    ::close(fd);
  }

  TempDir work_;
  std::string store_ = work_ / "store";
  std::string src_a_ = work_ / "a";
  std::string src_b_ = work_ / "b";
  std::vector<uint8_t> shared_ = RandomBytes(kSharedSize, 1);
  std::vector<uint8_t> tool_a_ = RandomBytes(9000, 2);
  std::vector<uint8_t> tool_b_ = RandomBytes(12000, 3);

  void SetUp() override {
    MakeTree(src_a_, 2, 9000);
    MakeTree(src_b_, 3, 12000);
  }
};

// ---------------------------------------------------------------------------
// tag

TEST_F(StoreCmdsTest, TagHelpAndUsage) {
  CommandResult r = Sealfs({"tag", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Usage: sealfs tag"), std::string::npos);
  EXPECT_EQ(Sealfs({"tag", "--store", store_}).exit_code, 2);
  EXPECT_EQ(Sealfs({"tag", "--store", store_, "--delete"}).exit_code, 2);
  EXPECT_EQ(Sealfs({"tag", "--bogus"}).exit_code, 2);
}

TEST_F(StoreCmdsTest, TagRefusesEveryBadName) {
  Mkfs(src_a_, work_ / "a.img");
  const std::vector<std::string> bad = {
      "",       ".",     "..",          ".hidden",           "../escape",
      "a/b",    "/abs",  "a b",         "x\ny",              "\xc3\xa4",
      "x.tmp-1", std::string(129, 'n'), "../../" + work_.path() + "/owned"};
  for (const std::string& name : bad) {
    CommandResult r = Sealfs({"tag", "--store", store_, work_ / "a.img", name});
    EXPECT_EQ(r.exit_code, 2) << name << ": " << r.err;
    EXPECT_EQ(r.err.rfind("sealfs tag: tag name", 0), 0u) << r.err;
    r = Sealfs({"tag", "--store", store_, "--delete", name});
    EXPECT_EQ(r.exit_code, 2) << name;
    r = Sealfs({"mkfs", "--store", store_, "--tag", name, src_a_,
                work_ / "never.img"});
    EXPECT_EQ(r.exit_code, 2) << name;
  }
  EXPECT_FALSE(Exists(work_ / "owned"));
  EXPECT_FALSE(Exists(work_ / "escape"));
  EXPECT_FALSE(Exists(work_ / "never.img"));
  EXPECT_FALSE(Exists(store_ + "/images"));
  // The longest allowed name works.
  EXPECT_EQ(Sealfs({"tag", "--store", store_, work_ / "a.img",
                    std::string(128, 'n')})
                .exit_code,
            0);
}

TEST_F(StoreCmdsTest, TagRecordsExactImageBytesAndDeletes) {
  ASSERT_EQ(Sealfs({"keygen", work_ / "k.pem"}).exit_code, 0);
  const std::string id = Mkfs(src_a_, work_ / "a.img", {"--key", work_ / "k.pem"});
  CommandResult r = Sealfs({"tag", "--store", store_, work_ / "a.img", "app"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "app " + id);
  EXPECT_EQ(ReadFile(store_ + "/images/app"), ReadFile(work_ / "a.img"));
  struct stat s;
  ASSERT_EQ(::stat((store_ + "/images/app").c_str(), &s), 0);
  EXPECT_EQ(s.st_mode & 07777, 0644u);

  r = Sealfs({"tag", "--store", store_, "--delete", "app"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(Exists(store_ + "/images/app"));
  r = Sealfs({"tag", "--store", store_, "--delete", "app"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no such tag"), std::string::npos) << r.err;
}

TEST_F(StoreCmdsTest, MkfsTagWritesTagsAfterTheImage) {
  Mkfs(src_a_, work_ / "a.img", {"--tag", "one", "--tag", "two"});
  EXPECT_EQ(ReadFile(store_ + "/images/one"), ReadFile(work_ / "a.img"));
  EXPECT_EQ(ReadFile(store_ + "/images/two"), ReadFile(work_ / "a.img"));
  // A dump build takes no store lock, so it does not tag (sealfs tag does).
  WriteFile(work_ / "d.dump", "/ 4096 40755 2 0 0 0 0.0 - - -\n");
  CommandResult r = Sealfs({"mkfs", "--store", store_, "--tag", "d",
                            "--from-dump", work_ / "d.dump", work_ / "d.img"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_FALSE(Exists(store_ + "/images/d"));
}

TEST_F(StoreCmdsTest, TagRefusesInvalidImagesAndMissingStore) {
  Mkfs(src_a_, work_ / "a.img");
  WriteFile(work_ / "junk.img", "SEAL but not really a manifest");
  CommandResult r = Sealfs({"tag", "--store", store_, work_ / "junk.img", "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not a valid image"), std::string::npos) << r.err;
  // A valid manifest with a garbage signature block is not valid either.
  std::vector<uint8_t> bad_trailer = ReadFile(work_ / "a.img");
  bad_trailer.insert(bad_trailer.end(), 20, 0xee);
  WriteFile(work_ / "trailer.img", bad_trailer);
  r = Sealfs({"tag", "--store", store_, work_ / "trailer.img", "x"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  r = Sealfs({"tag", "--store", store_, work_ / "missing.img", "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_FALSE(Exists(store_ + "/images/x"));
  r = Sealfs({"tag", "--store", work_ / "nostore", work_ / "a.img", "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_FALSE(Exists(work_ / "nostore"));
}

TEST_F(StoreCmdsTest, TagWarnsAboutObjectsTheStoreLacks) {
  Mkfs(src_a_, work_ / "a.img");
  const std::string other = work_ / "other";
  ASSERT_TRUE(Store::Open(other, Store::Mode::kCreate).ok());
  CommandResult r = Sealfs({"tag", "--store", other, work_ / "a.img", "a"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("lacks 2 of the image's 2 objects"), std::string::npos)
      << r.err;
}

// Readers of images/NAME see the old or the new image, never a mix, while
// the tag is rewritten over and over.
TEST_F(StoreCmdsTest, TagReplacementIsAtomic) {
  ASSERT_EQ(Sealfs({"keygen", work_ / "k.pem"}).exit_code, 0);
  Mkfs(src_a_, work_ / "a.img", {"--tag", "t"});
  Mkfs(src_b_, work_ / "b.img", {"--key", work_ / "k.pem"});
  const std::vector<uint8_t> a = ReadFile(work_ / "a.img");
  const std::vector<uint8_t> b = ReadFile(work_ / "b.img");
  ASSERT_NE(a.size(), b.size());
  const std::string script =
      "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do " +
      Q(SealfsBin()) + " tag --store " + Q(store_) + " " + Q(work_ / "b.img") +
      " t >/dev/null && " + Q(SealfsBin()) + " tag --store " + Q(store_) +
      " " + Q(work_ / "a.img") + " t >/dev/null || touch " + Q(work_ / "failed") +
      "; done; touch " + Q(work_ / "done");
  ASSERT_EQ(Shell("(" + script + ") >/dev/null 2>&1 &").exit_code, 0);
  int reads = 0;
  while (!Exists(work_ / "done") || reads == 0) {
    std::vector<uint8_t> seen = ReadFile(store_ + "/images/t");
    ASSERT_TRUE(seen == a || seen == b) << "torn tag of " << seen.size();
    ++reads;
  }
  EXPECT_FALSE(Exists(work_ / "failed"));
  // No temp files of the rewrites stay behind.
  CommandResult ls = Shell("ls -A " + Q(store_ + "/images"));
  EXPECT_EQ(ls.out, "t\n");
}

// ---------------------------------------------------------------------------
// images

TEST_F(StoreCmdsTest, ImagesListsSizesAndUniqueBytes) {
  ASSERT_EQ(Sealfs({"keygen", work_ / "k.pem"}).exit_code, 0);
  Mkfs(src_a_, work_ / "a.img", {"--tag", "a", "--key", work_ / "k.pem"});
  Mkfs(src_b_, work_ / "b.img", {"--tag", "b"});
  CommandResult r = Sealfs({"images", "--store", store_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(IsJson(r.out, work_.path())) << r.out;
  const std::string dir = work_.path();
  EXPECT_EQ(JsonEval(r.out, dir, "[i['name'] for i in d['images']]"),
            "['a', 'b']");
  EXPECT_EQ(JsonEval(r.out, dir, "d['images'][0]['object_bytes']"),
            std::to_string(kSharedSize + 9000));
  EXPECT_EQ(JsonEval(r.out, dir, "d['images'][0]['unique_bytes']"), "9000");
  EXPECT_EQ(JsonEval(r.out, dir, "d['images'][1]['object_bytes']"),
            std::to_string(kSharedSize + 12000));
  EXPECT_EQ(JsonEval(r.out, dir, "d['images'][1]['unique_bytes']"), "12000");
  EXPECT_EQ(JsonEval(r.out, dir, "d['images'][0]['image_size']"),
            std::to_string(ReadFile(work_ / "a.img").size()));
  Result<PublicKey> key = LoadPublicKey(work_ / "k.pem.pub");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(JsonEval(r.out, dir, "d['images'][0]['keys']"),
            "['" + key->KeyId() + "']");
  EXPECT_EQ(JsonEval(r.out, dir, "d['images'][1]['keys']"), "[]");

  r = Sealfs({"images", "--store", store_});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("unsigned"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(key->KeyId().substr(0, 16)), std::string::npos);
  // A second tag of the same image makes nothing unique to either.
  ASSERT_EQ(Sealfs({"tag", "--store", store_, work_ / "a.img", "a2"}).exit_code,
            0);
  r = Sealfs({"images", "--store", store_, "--json"});
  EXPECT_EQ(JsonEval(r.out, dir, "d['images'][0]['unique_bytes']"), "0");
}

TEST_F(StoreCmdsTest, ImagesReportsBrokenTagsWithoutCrashing) {
  Mkfs(src_a_, work_ / "a.img", {"--tag", "good"});
  WriteFile(store_ + "/images/garbage", RandomBytes(5000, 9));
  ASSERT_EQ(::symlink("/etc/passwd", (store_ + "/images/link").c_str()), 0);
  ASSERT_EQ(::mkfifo((store_ + "/images/fifo").c_str(), 0644), 0);
  CommandResult r = Sealfs({"images", "--store", store_, "--json"});
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_TRUE(IsJson(r.out, work_.path())) << r.out;
  EXPECT_EQ(JsonEval(r.out, work_.path(),
                     "[(i['name'], i['broken']) for i in d['images']]"),
            "[('fifo', True), ('garbage', True), ('good', False), "
            "('link', True)]");
  r = Sealfs({"images", "--store", store_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("garbage  BROKEN"), std::string::npos) << r.out;
}

TEST_F(StoreCmdsTest, ImagesExitCodes) {
  EXPECT_EQ(Sealfs({"images", "--help"}).exit_code, 0);
  EXPECT_EQ(Sealfs({"images", "--store", store_, "extra"}).exit_code, 2);
  EXPECT_EQ(Sealfs({"images", "--store", work_ / "none"}).exit_code, 1);
  ASSERT_TRUE(Store::Open(store_, Store::Mode::kCreate).ok());
  CommandResult r = Sealfs({"images", "--store", store_, "--json"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(JsonEval(r.out, work_.path(), "d['images']"), "[]");
}

// ---------------------------------------------------------------------------
// fsck

TEST_F(StoreCmdsTest, FsckCleanStore) {
  Mkfs(src_a_, work_ / "a.img", {"--tag", "a"});
  Mkfs(src_b_, work_ / "b.img");
  CommandResult r = Sealfs({"fsck", "--store", store_});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("3 objects"), std::string::npos) << r.err;
  r = Sealfs({"fsck", "--store", store_, "--json", "--threads", "1",
              "--max-rate", "1000"});
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_TRUE(IsJson(r.out, work_.path())) << r.out;
  EXPECT_EQ(JsonEval(r.out, work_.path(), "(d['clean'], d['objects'], "
                                          "d['trees'], d['tags'])"),
            "(True, 3, 3, 1)");
}

TEST_F(StoreCmdsTest, FsckExitCodes) {
  EXPECT_EQ(Sealfs({"fsck", "--help"}).exit_code, 0);
  CommandResult r = Sealfs({"fsck", "--store", work_ / "none"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("sealfs fsck: ", 0), 0u) << r.err;
  EXPECT_FALSE(Exists(work_ / "none"));
  EXPECT_EQ(Sealfs({"fsck", "--threads", "0"}).exit_code, 2);
  EXPECT_EQ(Sealfs({"fsck", "--max-rate", "fast"}).exit_code, 2);
  EXPECT_EQ(Sealfs({"fsck", "--max-rate", "0"}).exit_code, 2);
  EXPECT_EQ(Sealfs({"fsck", "--store", store_, "x"}).exit_code, 2);
}

TEST_F(StoreCmdsTest, FsckQuarantinesCorruptObject) {
  const std::string id = Mkfs(src_a_, work_ / "a.img", {"--tag", "a"});
  const std::string object = ObjectFile(shared_);
  const Digest digest = ComputeMerkleTree(shared_).digest;
  FlipByte(object, 70000);
  CommandResult r = Sealfs({"fsck", "--store", store_});
  EXPECT_EQ(r.exit_code, 1);
  const std::string prefix = "corrupt object " + Store::ObjectPath(digest) +
                             " (digest mismatch: content hashes to sha256:";
  EXPECT_EQ(r.out.rfind(prefix, 0), 0u) << r.out;
  EXPECT_NE(r.out.find(") -> quarantined as quarantine/" + digest.Hex() + "."),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(Exists(object));
  // The object and its record are in quarantine, never deleted.
  CommandResult ls = Shell("ls " + Q(store_ + "/quarantine"));
  ASSERT_EQ(ls.exit_code, 0);
  const std::string qname = ls.out.substr(0, ls.out.find('\n'));
  ASSERT_EQ(qname.rfind(digest.Hex() + ".", 0), 0u) << ls.out;
  const std::string record = store_ + "/quarantine/" + qname + ".json";
  std::vector<uint8_t> bytes = ReadFile(record);
  const std::string text(bytes.begin(), bytes.end());
  ASSERT_TRUE(IsJson(text, work_.path())) << text;
  EXPECT_EQ(JsonEval(text, work_.path(),
                     "(d['original'], d['expected'], d['reason'][:15])"),
            "('" + Store::ObjectPath(digest) + "', '" + digest.ToString() +
                "', 'digest mismatch')");
  EXPECT_NE(JsonEval(text, work_.path(), "d['actual']"), digest.ToString());
  EXPECT_EQ(ReadFile(store_ + "/quarantine/" + qname).size(), kSharedSize);

  // Second run: no corrupt object any more, but tag "a" now lacks that
  // object, which is a problem an operator must act on (pull it again), so
  // fsck still exits 1, naming the tag and the digest.
  r = Sealfs({"fsck", "--store", store_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "missing object " + Store::ObjectPath(digest) +
                       " (needed by tag a (image " +
                       id.substr(0, id.size() - 1) + "))\n");
  EXPECT_NE(r.out.find("tag a"), std::string::npos);
  // Restoring the content (what a pull does) makes the store clean again.
  Mkfs(src_a_, work_ / "again.img");
  EXPECT_EQ(Sealfs({"fsck", "--store", store_}).exit_code, 0);
}

TEST_F(StoreCmdsTest, FsckOfUntaggedCorruptObjectIsCleanAfterQuarantine) {
  Mkfs(src_a_, work_ / "a.img");
  FlipByte(ObjectFile(tool_a_), 0);
  EXPECT_EQ(Sealfs({"fsck", "--store", store_}).exit_code, 1);
  // Nothing references the object: once it is aside, the store is clean.
  CommandResult r = Sealfs({"fsck", "--store", store_});
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

TEST_F(StoreCmdsTest, FsckRepairsMissingTree) {
  Mkfs(src_a_, work_ / "a.img", {"--tag", "a"});
  const std::string tree = TreeFile(shared_);
  const std::vector<uint8_t> original = ReadFile(tree);
  ASSERT_EQ(::unlink(tree.c_str()), 0);
  CommandResult r = Sealfs({"fsck", "--store", store_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out.rfind("missing tree " +
                            Store::TreePath(ComputeMerkleTree(shared_).digest),
                        0),
            0u)
      << r.out;
  EXPECT_FALSE(Exists(tree));  // without --repair, nothing is rebuilt
  r = Sealfs({"fsck", "--store", store_, "--repair"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("-> rebuilt"), std::string::npos) << r.out;
  EXPECT_EQ(ReadFile(tree), original);
  EXPECT_EQ(Sealfs({"fsck", "--store", store_}).exit_code, 0);
}

TEST_F(StoreCmdsTest, FsckRepairsBadTree) {
  Mkfs(src_a_, work_ / "a.img", {"--tag", "a"});
  const std::string tree = TreeFile(shared_);
  const std::vector<uint8_t> original = ReadFile(tree);
  FlipByte(tree, 100);
  CommandResult r = Sealfs({"fsck", "--store", store_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out.rfind("bad tree trees/", 0), 0u) << r.out;
  r = Sealfs({"fsck", "--store", store_, "--repair", "--json"});
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_TRUE(IsJson(r.out, work_.path()));
  EXPECT_NE(JsonEval(r.out, work_.path(), "d['problems'][0]['action']")
                .find("quarantined as quarantine/tree-"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(JsonEval(r.out, work_.path(), "d['repaired']"), "1");
  EXPECT_EQ(ReadFile(tree), original);
  EXPECT_EQ(Sealfs({"fsck", "--store", store_}).exit_code, 0);
}

// A symlink, a directory and a FIFO under object names, and junk names:
// each reported and moved aside; nothing followed, nothing waited on.
TEST_F(StoreCmdsTest, FsckQuarantinesNonRegularEntriesWithoutHanging) {
  Mkfs(src_a_, work_ / "a.img", {"--tag", "a"});
  Mkfs(src_b_, work_ / "b.img", {"--tag", "b"});
  const std::string sym = ObjectFile(tool_a_);
  const std::string dir = ObjectFile(tool_b_);
  ASSERT_EQ(::unlink(sym.c_str()), 0);
  ASSERT_EQ(::symlink("/etc/passwd", sym.c_str()), 0);
  ASSERT_EQ(::unlink(dir.c_str()), 0);
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  const std::string fifo = store_ + "/objects/00/" + std::string(62, '0');
  ASSERT_EQ(::mkdir((store_ + "/objects/00").c_str(), 0755) == 0 ||
                errno == EEXIST,
            true);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  WriteFile(store_ + "/objects/00/UPPER", "x");
  WriteFile(store_ + "/objects/zz", "x");
  ASSERT_EQ(::mkdir((store_ + "/objects/ABC").c_str(), 0755), 0);
  ASSERT_EQ(::symlink("/etc", (store_ + "/trees/01").c_str()), 0);

  // `timeout` turns a hang on the FIFO into a failure instead of a stuck test.
  CommandResult r = Shell("timeout 60 " + Q(SealfsBin()) + " fsck --store " +
                          Q(store_));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  auto has = [&](const std::string& line) {
    return r.out.find(line) != std::string::npos;
  };
  EXPECT_TRUE(has("not a regular file " +
                  Store::ObjectPath(ComputeMerkleTree(tool_a_).digest) +
                  " (is a symlink"))
      << r.out;
  EXPECT_TRUE(has("not a regular file " +
                  Store::ObjectPath(ComputeMerkleTree(tool_b_).digest) +
                  " (is a directory"))
      << r.out;
  EXPECT_TRUE(has("not a regular file objects/00/" + std::string(62, '0') +
                  " (is a FIFO"))
      << r.out;
  EXPECT_TRUE(has("junk objects/00/UPPER (not a digest name")) << r.out;
  EXPECT_TRUE(has("junk objects/zz (not a fan-out directory")) << r.out;
  EXPECT_TRUE(has("junk objects/ABC (not a fan-out directory")) << r.out;
  EXPECT_TRUE(has("junk trees/01 (not a fan-out directory")) << r.out;
  // Tags a and b each lack the object that was replaced.
  EXPECT_TRUE(has("missing object " +
                  Store::ObjectPath(ComputeMerkleTree(tool_a_).digest) +
                  " (needed by tag a"))
      << r.out;
  EXPECT_FALSE(Exists(sym));
  EXPECT_FALSE(Exists(dir));
  EXPECT_FALSE(Exists(fifo));
  EXPECT_FALSE(Exists(store_ + "/objects/zz"));
  // The symlink was moved, not followed: its target is untouched.
  EXPECT_TRUE(Exists("/etc/passwd"));
  CommandResult q = Shell("find " + Q(store_ + "/quarantine") +
                          " -maxdepth 1 -type p | wc -l");
  EXPECT_EQ(q.out, "1\n");
  // Everything that is left is consistent except the two missing objects.
  r = Sealfs({"fsck", "--store", store_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
}

TEST_F(StoreCmdsTest, FsckNamesTheImageMissingAnObject) {
  const std::string id = Mkfs(src_a_, work_ / "a.img", {"--tag", "web"});
  const Digest digest = ComputeMerkleTree(tool_a_).digest;
  ASSERT_EQ(::unlink(ObjectFile(tool_a_).c_str()), 0);
  ASSERT_EQ(::unlink(TreeFile(tool_a_).c_str()), 0);
  CommandResult r = Sealfs({"fsck", "--store", store_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "missing object " + Store::ObjectPath(digest) +
                       " (needed by tag web (image " +
                       id.substr(0, id.size() - 1) + "))\n");
  r = Sealfs({"fsck", "--store", store_, "--json"});
  ASSERT_TRUE(IsJson(r.out, work_.path()));
  EXPECT_EQ(JsonEval(r.out, work_.path(),
                     "(d['problems'][0]['tag'], d['problems'][0]['digest'])"),
            "('web', '" + digest.ToString() + "')");
}

TEST_F(StoreCmdsTest, FsckReportsBrokenTag) {
  Mkfs(src_a_, work_ / "a.img", {"--tag", "a"});
  WriteFile(store_ + "/images/bad", "nope");
  CommandResult r = Sealfs({"fsck", "--store", store_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out.rfind("broken tag images/bad (", 0), 0u) << r.out;
}

// ---------------------------------------------------------------------------
// gc

TEST_F(StoreCmdsTest, GcRemovesOldUnreferencedKeepsReferenced) {
  Mkfs(src_a_, work_ / "a.img", {"--tag", "a"});
  Mkfs(src_b_, work_ / "b.img");  // untagged
  AgeObjects();
  CommandResult r = Sealfs({"gc", "--store", store_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(IsJson(r.out, work_.path())) << r.out;
  EXPECT_EQ(JsonEval(r.out, work_.path(),
                     "(d['removed_objects'], d['removed_object_bytes'], "
                     "d['removed_trees'], d['live_objects'])"),
            "(1, 12000, 1, 2)");
  EXPECT_FALSE(Exists(ObjectFile(tool_b_)));
  EXPECT_FALSE(Exists(TreeFile(tool_b_)));
  EXPECT_TRUE(Exists(ObjectFile(tool_a_)));
  EXPECT_TRUE(Exists(ObjectFile(shared_)));
  EXPECT_TRUE(Exists(TreeFile(shared_)));
  EXPECT_EQ(Sealfs({"fsck", "--store", store_}).exit_code, 0);
  // Nothing left to do.
  r = Sealfs({"gc", "--store", store_, "--grace", "0"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("removed 0 objects", 0), 0u) << r.out;
}

TEST_F(StoreCmdsTest, GcKeepsRecentUnreferencedObjects) {
  Mkfs(src_b_, work_ / "b.img");  // untagged, just built
  CommandResult r = Sealfs({"gc", "--store", store_});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("2 unreferenced objects"), std::string::npos) << r.out;
  EXPECT_TRUE(Exists(ObjectFile(tool_b_)));
  // A rebuild that reuses old objects makes them recent again.
  AgeObjects();
  Mkfs(src_b_, work_ / "b2.img");
  r = Sealfs({"gc", "--store", store_, "--grace", "10m"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_TRUE(Exists(ObjectFile(tool_b_)));
  EXPECT_TRUE(Exists(ObjectFile(shared_)));
  r = Sealfs({"gc", "--store", store_, "--grace", "0"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_FALSE(Exists(ObjectFile(tool_b_)));
}

TEST_F(StoreCmdsTest, GcDryRunRemovesNothing) {
  Mkfs(src_b_, work_ / "b.img");
  AgeObjects();
  WriteFile(store_ + "/objects/ab/.tmp-stale", "partial");
  ASSERT_EQ(Shell("touch -d @1000000000 " + Q(store_ + "/objects/ab/.tmp-stale"))
                .exit_code,
            0);
  CommandResult r = Sealfs({"gc", "--store", store_, "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("would remove " +
                       Store::ObjectPath(ComputeMerkleTree(tool_b_).digest)),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("would remove objects/ab/.tmp-stale"), std::string::npos);
  EXPECT_NE(r.out.find("would remove 2 objects"), std::string::npos) << r.out;
  EXPECT_TRUE(Exists(ObjectFile(tool_b_)));
  EXPECT_TRUE(Exists(ObjectFile(shared_)));
  EXPECT_TRUE(Exists(store_ + "/objects/ab/.tmp-stale"));
  r = Sealfs({"gc", "--store", store_});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_FALSE(Exists(ObjectFile(tool_b_)));
  EXPECT_FALSE(Exists(store_ + "/objects/ab/.tmp-stale"));
}

TEST_F(StoreCmdsTest, GcRefusesWithBrokenTag) {
  Mkfs(src_b_, work_ / "b.img");
  AgeObjects();
  WriteFile(store_ + "/images/bad", "nope");
  CommandResult r = Sealfs({"gc", "--store", store_, "--grace", "0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("tag bad is broken"), std::string::npos) << r.err;
  EXPECT_TRUE(Exists(ObjectFile(tool_b_)));
}

TEST_F(StoreCmdsTest, GcLeavesQuarantineAndJunkAlone) {
  Mkfs(src_a_, work_ / "a.img");
  FlipByte(ObjectFile(tool_a_), 0);
  WriteFile(store_ + "/objects/zz", "junk");
  EXPECT_EQ(Sealfs({"fsck", "--store", store_}).exit_code, 1);
  WriteFile(store_ + "/objects/00/JUNK", "junk");
  AgeObjects();
  ASSERT_EQ(Sealfs({"gc", "--store", store_, "--grace", "0"}).exit_code, 0);
  EXPECT_TRUE(Exists(store_ + "/objects/00/JUNK"));
  CommandResult q = Shell("ls " + Q(store_ + "/quarantine") + " | wc -l");
  EXPECT_EQ(q.out, "4\n");  // two entries, two records
}

TEST_F(StoreCmdsTest, GcNoWaitFailsWhileABuildHoldsTheLock) {
  Mkfs(src_b_, work_ / "b.img");
  Result<std::shared_ptr<Store>> store =
      Store::Open(store_, Store::Mode::kReadWrite);
  ASSERT_TRUE(store.ok());
  {
    StoreWriter writer(*store);  // what a running build holds
    CommandResult r = Sealfs({"gc", "--store", store_, "--no-wait"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("in use by 1 writer"), std::string::npos) << r.err;
  }
  EXPECT_EQ(Sealfs({"gc", "--store", store_, "--no-wait"}).exit_code, 0);
}

// A gc that finds a build running waits for it (saying so once on a
// terminal, here a pty from script(1)), then sweeps.
TEST_F(StoreCmdsTest, GcWaitsForRunningBuild) {
  if (!st::HaveProgram("script")) GTEST_SKIP() << "script(1) not installed";
  Mkfs(src_b_, work_ / "b.img");
  AgeObjects();
  Result<std::shared_ptr<Store>> store =
      Store::Open(store_, Store::Mode::kReadWrite);
  ASSERT_TRUE(store.ok());
  const std::string log = work_ / "gc.typescript";
  auto log_text = [&] {
    if (!Exists(log)) return std::string();
    std::vector<uint8_t> b = ReadFile(log);
    return std::string(b.begin(), b.end());
  };
  {
    StoreWriter writer(*store);
    ASSERT_EQ(Shell("script -qfc " +
                    Q(Q(SealfsBin()) + " gc --grace 0 --store " + Q(store_)) +
                    " " + Q(log) + " >/dev/null 2>&1 </dev/null &")
                  .exit_code,
              0);
    // Bounded poll (60 s) for the message; not a timing assertion.
    for (int i = 0; i < 600 && log_text().find("waiting") == std::string::npos;
         ++i) {
      ::usleep(100000);
    }
    EXPECT_NE(log_text().find("sealfs gc: waiting for 1 writer to finish"),
              std::string::npos)
        << log_text();
    EXPECT_TRUE(Exists(ObjectFile(tool_b_)));  // nothing swept yet
  }
  for (int i = 0; i < 600 && log_text().find("freed") == std::string::npos;
       ++i) {
    ::usleep(100000);
  }
  EXPECT_NE(log_text().find("removed 2 objects"), std::string::npos)
      << log_text();
  EXPECT_FALSE(Exists(ObjectFile(tool_b_)));
}

TEST_F(StoreCmdsTest, GcExitCodes) {
  EXPECT_EQ(Sealfs({"gc", "--help"}).exit_code, 0);
  EXPECT_EQ(Sealfs({"gc", "--grace", "5x"}).exit_code, 2);
  EXPECT_EQ(Sealfs({"gc", "--grace", "-1"}).exit_code, 2);
  EXPECT_EQ(Sealfs({"gc", "--bogus"}).exit_code, 2);
  EXPECT_EQ(Sealfs({"gc", "--store", store_, "extra"}).exit_code, 2);
  CommandResult r = Sealfs({"gc", "--store", work_ / "none"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("sealfs gc: ", 0), 0u);
}

}  // namespace
}  // namespace sealfs
