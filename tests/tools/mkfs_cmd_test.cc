// SPDX-License-Identifier: Apache-2.0
// `sealfs mkfs` run as a user runs it: output, exit codes, messages,
// reproducibility, and concurrent builders sharing one store.
#include <sys/stat.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sealfs/digest.h"
#include "sealfs/manifest_reader.h"
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

// A small tree: a few files of various sizes, a subdirectory, a symlink.
void MakeTree(const std::string& root, uint64_t seed) {
  WriteFile(root + "/etc/hostname", "box\n");
  WriteFile(root + "/usr/lib/libc.so", RandomBytes(200000, 1));
  WriteFile(root + "/usr/bin/tool", RandomBytes(9000, seed));
  WriteFile(root + "/empty", "");
  Shell("ln -s usr/bin/tool '" + root + "/tool'");
}

bool IsIdentityLine(const std::string& out) {
  if (out.size() != 7 + 64 + 1 || out.rfind("sha256:", 0) != 0) return false;
  return out.back() == '\n' &&
         out.find_first_not_of("0123456789abcdef", 7) == 7 + 64;
}

class MkfsCmdTest : public ::testing::Test {
 protected:
  void SetUp() override { MakeTree(src_, 2); }

  CommandResult Mkfs(std::vector<std::string> extra, const std::string& image) {
    std::vector<std::string> argv = {SealfsBin(), "mkfs", "--store", store_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(src_);
    argv.push_back(image);
    return st::Run(argv);
  }

  TempDir work_;
  std::string src_ = work_ / "src";
  std::string store_ = work_ / "store";
};

TEST_F(MkfsCmdTest, HelpExitsZero) {
  CommandResult r = st::Run({SealfsBin(), "mkfs", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Usage: sealfs mkfs"), std::string::npos);
  EXPECT_NE(r.out.find("SEALFS_STORE"), std::string::npos);
}

TEST_F(MkfsCmdTest, UsageErrorsExitTwo) {
  EXPECT_EQ(st::Run({SealfsBin(), "mkfs"}).exit_code, 2);
  EXPECT_EQ(st::Run({SealfsBin(), "mkfs", src_}).exit_code, 2);
  EXPECT_EQ(Mkfs({"--threads", "0"}, work_ / "i").exit_code, 2);
  EXPECT_EQ(Mkfs({"--threads", "x"}, work_ / "i").exit_code, 2);
  EXPECT_EQ(Mkfs({"--inline-max", "4097"}, work_ / "i").exit_code, 2);
  EXPECT_EQ(Mkfs({"--epoch", "soon"}, work_ / "i").exit_code, 2);
  CommandResult r = Mkfs({"--bogus"}, work_ / "i");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("sealfs mkfs: ", 0), 0u) << r.err;
}

TEST_F(MkfsCmdTest, PrintsIdentityAndSummary) {
  CommandResult r = Mkfs({}, work_ / "image");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(IsIdentityLine(r.out)) << r.out;
  EXPECT_NE(r.err.find("files"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("new objects"), std::string::npos) << r.err;
  // The identity is the fs-verity digest of the (unsigned) image file.
  if (::sealfs::testing::HaveProgram("fsverity")) {
    CommandResult d = st::Run({"fsverity", "digest", work_ / "image"});
    ASSERT_EQ(d.exit_code, 0) << d.err;
    EXPECT_EQ(d.out.substr(0, 71), r.out.substr(0, 71));
  }
}

TEST_F(MkfsCmdTest, ReproducibleAcrossRunsAndThreadCounts) {
  CommandResult a = Mkfs({"--threads", "1"}, work_ / "a");
  CommandResult b = Mkfs({"--threads", "2"}, work_ / "b");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(ReadFile(work_ / "a"), ReadFile(work_ / "b"));
  ASSERT_EQ(Shell("cp -a '" + src_ + "' '" + work_ / "copy" + "'").exit_code, 0);
  CommandResult c = st::Run({SealfsBin(), "mkfs", "--store", store_,
                         work_ / "copy", work_ / "c"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(ReadFile(work_ / "a"), ReadFile(work_ / "c"));
}

TEST_F(MkfsCmdTest, RefusesExistingImageWithoutForce) {
  WriteFile(work_ / "image", "precious");
  CommandResult r = Mkfs({}, work_ / "image");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "sealfs mkfs: " + work_ / "image" +
                       ": exists (use --force): File exists\n");
  EXPECT_TRUE(r.out.empty());
  std::vector<uint8_t> kept = ReadFile(work_ / "image");
  EXPECT_EQ(std::string(kept.begin(), kept.end()), "precious");
  struct stat st;
  EXPECT_NE(stat(store_.c_str(), &st), 0) << "work started before the check";
  CommandResult forced = Mkfs({"--force"}, work_ / "image");
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_TRUE(Manifest::Open(work_ / "image").ok());
}

TEST_F(MkfsCmdTest, SourceNotADirectory) {
  CommandResult r = st::Run({SealfsBin(), "mkfs", "--store", store_,
                         src_ + "/etc/hostname", work_ / "image"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "sealfs mkfs: " + src_ + "/etc/hostname: Not a directory\n");
  struct stat st;
  EXPECT_NE(stat((work_ / "image").c_str(), &st), 0);
}

TEST_F(MkfsCmdTest, SourceMissing) {
  CommandResult r = st::Run({SealfsBin(), "mkfs", "--store", store_,
                         work_ / "missing", work_ / "image"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "sealfs mkfs: " + work_ / "missing" +
                       ": No such file or directory\n");
}

// Root reads everything, so the build runs as nobody through setpriv(1);
// both the walker (inline-size file) and the hasher (stored file) must name
// the path.
TEST_F(MkfsCmdTest, UnreadableFileNamesItsPath) {
  if (!::sealfs::testing::HaveProgram("setpriv")) {
    GTEST_SKIP() << "setpriv (util-linux) not installed";
  }
  ASSERT_EQ(chmod(work_.path().c_str(), 0777), 0);
  ASSERT_EQ(Shell("chmod -R a+rX '" + src_ + "'").exit_code, 0);
  for (const char* file : {"/etc/hostname", "/usr/bin/tool"}) {
    SCOPED_TRACE(file);
    const std::string path = src_ + file;
    ASSERT_EQ(chmod(path.c_str(), 0), 0);
    CommandResult r = st::Run({"setpriv", "--reuid=65534", "--regid=65534",
                               "--clear-groups", SealfsBin(), "mkfs",
                               "--store", store_, src_, work_ / "image"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err, "sealfs mkfs: " + path + ": Permission denied\n");
    struct stat st;
    EXPECT_NE(stat((work_ / "image").c_str(), &st), 0);
    ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  }
}

TEST_F(MkfsCmdTest, StoreAndEpochFromEnvironment) {
  CommandResult r = Shell("SEALFS_STORE='" + work_ / "envstore" +
                          "' SOURCE_DATE_EPOCH=1000 '" + SealfsBin() +
                          "' mkfs '" + src_ + "' '" + work_ / "image" + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat st;
  EXPECT_EQ(stat((work_ / "envstore/objects").c_str(), &st), 0);
  Result<std::shared_ptr<const Manifest>> m = Manifest::Open(work_ / "image");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  for (uint64_t ino = 1; ino <= (*m)->inode_count(); ++ino) {
    EXPECT_EQ((*m)->GetInode(ino)->mtime_sec, 1000);
  }
  // --epoch wins over the environment.
  r = Shell("SOURCE_DATE_EPOCH=1000 '" + SealfsBin() + "' mkfs --store '" +
            store_ + "' --epoch 2000 '" + src_ + "' '" + work_ / "image2" + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  m = Manifest::Open(work_ / "image2");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->GetInode(kRootIno)->mtime_sec, 2000);
}

TEST_F(MkfsCmdTest, SignsWithKey) {
  ASSERT_TRUE(GenerateKeyPair(work_ / "key").ok());
  CommandResult r = Mkfs({"--key", work_ / "key"}, work_ / "image");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Result<std::shared_ptr<const Manifest>> m = Manifest::Open(work_ / "image");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ((*m)->identity().ToString() + "\n", r.out);
  Result<PublicKey> pub = LoadPublicKey(work_ / "key.pub");
  ASSERT_TRUE(pub.ok());
  EXPECT_TRUE(VerifyImage(**m, {&*pub, 1}).ok());
}

TEST_F(MkfsCmdTest, MissingKeyFailsBeforeWriting) {
  CommandResult r = Mkfs({"--key", work_ / "nokey"}, work_ / "image");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(work_ / "nokey"), std::string::npos) << r.err;
  struct stat st;
  EXPECT_NE(stat((work_ / "image").c_str(), &st), 0);
}

// Two builders of overlapping trees into one store at the same time: both
// images complete, and every object either image names is in the store and
// matches its digest.
TEST(MkfsConcurrency, TwoBuildersShareOneStore) {
  TempDir work;
  for (int t = 0; t < 2; ++t) {
    const std::string root = work / ("src" + std::to_string(t));
    for (int i = 0; i < 200; ++i) {
      // Shared files (same content in both trees) and one private per tree.
      WriteFile(root + "/shared/f" + std::to_string(i),
                RandomBytes(100 + i * 97, 1000 + i));
      WriteFile(root + "/own/f" + std::to_string(i),
                RandomBytes(5000 + i, t * 10000 + i));
    }
    WriteFile(root + "/shared/big", RandomBytes(6 << 20, 7));
  }
  const std::string bin = SealfsBin();
  const std::string store = work / "store";
  CommandResult r = Shell(
      "'" + bin + "' mkfs --store '" + store + "' '" + work / "src0" + "' '" +
      work / "img0" + "' & p0=$!; '" + bin + "' mkfs --store '" + store +
      "' '" + work / "src1" + "' '" + work / "img1" +
      "' & p1=$!; wait $p0 || exit 10; wait $p1 || exit 11");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* image : {"img0", "img1"}) {
    Result<std::shared_ptr<const Manifest>> m = Manifest::Open(work / image);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ((*m)->digest_count(), 401u);
    for (uint64_t i = 0; i < (*m)->digest_count(); ++i) {
      Result<Digest> d = (*m)->DigestAt(i);
      ASSERT_TRUE(d.ok());
      std::vector<uint8_t> object =
          ReadFile(store + "/" + Store::ObjectPath(*d));
      EXPECT_EQ(ComputeMerkleTree(object).digest, *d) << image << " " << i;
    }
  }
  // No temp files left behind in the fan-out directories.
  CommandResult left = Shell("find '" + store + "' -name '.tmp-*' | wc -l");
  EXPECT_EQ(left.out, "0\n");
}

}  // namespace
}  // namespace sealfs
