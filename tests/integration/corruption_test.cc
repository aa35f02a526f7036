// SPDX-License-Identifier: Apache-2.0
// What the driver refuses: a flipped byte in an object fails exactly the
// reads of its block; a changed manifest, a wrong key, no signature or a
// malformed signature block refuses the mount; a missing object fails only its
// file; writes are EROFS.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/integration/mount_fixture.h"
#include "tests/integration/store_files.h"

namespace sealfs::testing {
namespace {

constexpr size_t kBlock = kTestBlock;

class CorruptionTest : public MountTest {
 protected:
  void SetUp() override {
    MountTest::SetUp();
    if (IsSkipped()) return;
    src_ = tmp_ / "src";
    WriteFile(src_ + "/victim.bin", RandomBytes(8 * kBlock + 100, 7));
    WriteFile(src_ + "/other.bin", RandomBytes(3 * kBlock, 8));
    WriteFile(src_ + "/dir/note.txt", "untouched\n");
    WriteFile(src_ + "/dir/deep/nested.bin", RandomBytes(4 * kBlock, 9));
    MakeKey(tmp_ / "key");
    image_ = tmp_ / "image";
    identity_ = Mkfs(src_, image_, tmp_ / "key");
    trusted_ = "store=" + store_ + ",pubkey=" + (tmp_ / "key.pub");
  }

  std::string src_, image_, identity_, trusted_;
};

TEST_F(CorruptionTest, FlippedObjectByteFailsExactlyThatBlock) {
  std::string object = ObjectPathFor(store_, src_ + "/victim.bin");
  const size_t bad = 3;
  FlipByte(object, static_cast<off_t>(bad * kBlock + 17));
  std::string mnt = tmp_ / "mnt";
  MountOk(image_, mnt, trusted_);
  std::vector<uint8_t> want = ReadFile(src_ + "/victim.bin");
  for (size_t b = 0; b < 9; ++b) {
    std::vector<uint8_t> got;
    int err = ReadBlock(mnt + "/victim.bin", b, &got);
    if (b == bad) {
      EXPECT_EQ(err, EIO) << "block " << b;
    } else {
      ASSERT_EQ(err, 0) << "block " << b;
      size_t n = std::min(kBlock, want.size() - b * kBlock);
      EXPECT_EQ(got, std::vector<uint8_t>(want.begin() + b * kBlock,
                                          want.begin() + b * kBlock + n))
          << "block " << b;
    }
  }
  // A buffered read over the bad block fails as a whole; other files work.
  CommandResult cat = RunCmd({"cat", mnt + "/victim.bin"});
  EXPECT_NE(cat.exit_code, 0);
  EXPECT_NE(cat.err.find("Input/output error"), std::string::npos) << cat.err;
  EXPECT_EQ(ReadFile(mnt + "/other.bin"), ReadFile(src_ + "/other.bin"));
  CommandResult stats = RunCmd({SealfsBin(), "stats", mnt});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_EQ(stats.out.find("\"verify_failures\":0,"), std::string::npos)
      << stats.out;
  EXPECT_NE(stats.out.find("\"verify_failures\":"), std::string::npos);
}

// Small objects are verified whole from their data, so a good one reads
// correctly whatever its tree file holds; a bad one needs the tree to tell
// its good blocks from the bad, and without a usable tree every read fails.
TEST_F(CorruptionTest, SmallObjectsNeedTheirTreeOnlyWhenCorrupt) {
  for (const char* name : {"/victim.bin", "/other.bin"}) {
    FlipByte(TreePathFor(store_, src_ + name), 5);
  }
  FlipByte(ObjectPathFor(store_, src_ + "/other.bin"), 2 * kBlock + 1);
  std::string mnt = tmp_ / "mnt";
  MountOk(image_, mnt, trusted_);
  EXPECT_EQ(ReadFile(mnt + "/victim.bin"), ReadFile(src_ + "/victim.bin"));
  for (size_t b = 0; b < 3; ++b) {
    std::vector<uint8_t> got;
    EXPECT_EQ(ReadBlock(mnt + "/other.bin", b, &got), EIO) << "block " << b;
  }
}

TEST_F(CorruptionTest, ReportNamesImagePathBlockAndObject) {
  const std::string nested = src_ + "/dir/deep/nested.bin";
  const std::string object = ObjectPathFor(store_, nested);
  FlipByte(object, static_cast<off_t>(2 * kBlock + 5));
  const std::string mnt = tmp_ / "mnt";
  const std::string log = tmp_ / "daemon.err";
  mkdir(mnt.c_str(), 0755);
  Track(mnt);
  pid_t pid = fork();
  if (pid == 0) {
    int err = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(err, 2);
    execl(SealfsBin().c_str(), "sealfs", "mount", "-f", "-o", trusted_.c_str(),
          image_.c_str(), mnt.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_TRUE(WaitMounted(mnt, true));
  std::vector<uint8_t> got;
  EXPECT_EQ(ReadBlock(mnt + "/dir/deep/nested.bin", 2, &got), EIO);
  EXPECT_EQ(ReadBlock(mnt + "/dir/deep/nested.bin", 2, &got), EIO);
  CommandResult u = RunCmd({"fusermount3", "-u", mnt});
  EXPECT_EQ(u.exit_code, 0) << u.err;
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  const std::vector<uint8_t> bytes = ReadFile(log);
  const std::string text(bytes.begin(), bytes.end());
  const std::string hex = object.substr(object.size() - 65, 2) +
                          object.substr(object.size() - 62);
  EXPECT_NE(text.find(image_), std::string::npos) << text;
  EXPECT_NE(text.find("/dir/deep/nested.bin: object sha256:" + hex),
            std::string::npos)
      << text;
  const size_t report = text.find("verification failed: block 2:");
  EXPECT_NE(report, std::string::npos) << text;
  // Once per object, however often it fails.
  EXPECT_EQ(text.find("verification failed", report + 1), std::string::npos)
      << text;
}

TEST_F(CorruptionTest, FlippedManifestByteRefusesMount) {
  FlipByte(image_, 100);
  CommandResult r = Mount(image_, tmp_ / "mnt", trusted_);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("sealfs mount: "), std::string::npos) << r.err;
  EXPECT_FALSE(IsMounted(tmp_ / "mnt"));
}

TEST_F(CorruptionTest, WrongKeyRefusesMount) {
  MakeKey(tmp_ / "other");
  CommandResult r =
      Mount(image_, tmp_ / "mnt",
            "store=" + store_ + ",pubkey=" + (tmp_ / "other.pub"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not trusted"), std::string::npos) << r.err;
  EXPECT_FALSE(IsMounted(tmp_ / "mnt"));
}

// The keys are read on a thread while the image is read: a bad key file is
// still named, and a bad image is still what a refusal reports first.
TEST_F(CorruptionTest, MissingKeyFileIsNamedAfterTheImage) {
  const std::string missing = tmp_ / "no-such.pub";
  const std::string options = "store=" + store_ + ",pubkey=" + missing;
  CommandResult r = Mount(image_, tmp_ / "mnt", options);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(missing + ": No such file"), std::string::npos)
      << r.err;
  EXPECT_FALSE(IsMounted(tmp_ / "mnt"));

  FlipByte(image_, 100);
  r = Mount(image_, tmp_ / "mnt", options);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(image_), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(missing), std::string::npos) << r.err;
  EXPECT_FALSE(IsMounted(tmp_ / "mnt"));
}

TEST_F(CorruptionTest, UnsignedImageRefusedUnlessInsecure) {
  std::string unsigned_image = tmp_ / "unsigned";
  Mkfs(src_, unsigned_image, "");
  CommandResult r = Mount(unsigned_image, tmp_ / "mnt", trusted_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not signed"), std::string::npos) << r.err;
  EXPECT_FALSE(IsMounted(tmp_ / "mnt"));

  CommandResult ok =
      Mount(unsigned_image, tmp_ / "mnt", "store=" + store_ + ",insecure");
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.err.find("warning"), std::string::npos) << ok.err;
  EXPECT_TRUE(IsMounted(tmp_ / "mnt"));
  EXPECT_EQ(ReadFile(tmp_ / "mnt/dir/note.txt"),
            ReadFile(src_ + "/dir/note.txt"));
}

TEST_F(CorruptionTest, DigestPinAcceptsRightIdentityOnly) {
  MountOk(image_, tmp_ / "mnt", "store=" + store_ + ",digest=" + identity_);
  std::string wrong = identity_;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  CommandResult r =
      Mount(image_, tmp_ / "mnt2", "store=" + store_ + ",digest=" + wrong);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("does not match"), std::string::npos) << r.err;
  EXPECT_FALSE(IsMounted(tmp_ / "mnt2"));
}

// Bytes after the signature block make a malformed image, not an untrusted
// one: neither a digest pin (which needs no signature) nor insecure mounts
// it.
TEST_F(CorruptionTest, MalformedSignatureBlockRefusesEveryMount) {
  const std::string bad = tmp_ / "bad-trailer";
  std::vector<uint8_t> bytes = ReadFile(image_);
  bytes.insert(bytes.end(), 20, 0xee);
  WriteFile(bad, bytes);
  for (const std::string& options :
       {trusted_, "store=" + store_ + ",digest=" + identity_,
        "store=" + store_ + ",insecure"}) {
    CommandResult r = Mount(bad, tmp_ / "mnt", options);
    EXPECT_EQ(r.exit_code, 1) << options;
    EXPECT_NE(r.err.find(bad + ": signature block: "), std::string::npos)
        << r.err;
    EXPECT_FALSE(IsMounted(tmp_ / "mnt"));
  }
}

TEST_F(CorruptionTest, MissingObjectFailsOnlyItsFile) {
  ASSERT_EQ(unlink(ObjectPathFor(store_, src_ + "/victim.bin").c_str()), 0);
  std::string mnt = tmp_ / "mnt";
  MountOk(image_, mnt, trusted_);
  // The open fails, or (where the kernel opens without asking the daemon)
  // the first read.
  std::vector<uint8_t> got;
  EXPECT_EQ(ReadBlock(mnt + "/victim.bin", 0, &got), EIO);
  struct stat st {};
  EXPECT_EQ(stat((mnt + "/victim.bin").c_str(), &st), 0);
  EXPECT_EQ(ReadFile(mnt + "/other.bin"), ReadFile(src_ + "/other.bin"));
  CommandResult stats = RunCmd({SealfsBin(), "stats", mnt});
  EXPECT_NE(stats.out.find("\"missing_objects\":1"), std::string::npos)
      << stats.out;
}

TEST_F(CorruptionTest, WritesAreRefusedWithErofs) {
  std::string mnt = tmp_ / "mnt";
  MountOk(image_, mnt, trusted_);
  const char* cmds[] = {
      "touch '%M/new'",
      "mkdir '%M/newdir'",
      "rm '%M/other.bin'",
      "echo x > '%M/other.bin'",
      "setfattr -n user.x -v 1 '%M/other.bin'",
      "mv '%M/other.bin' '%M/moved'",
      "ln -s x '%M/newlink'",
      "chmod 777 '%M/other.bin'",
  };
  for (std::string cmd : cmds) {
    for (size_t p; (p = cmd.find("%M")) != std::string::npos;) {
      cmd.replace(p, 2, mnt);
    }
    CommandResult r = Shell(cmd);
    EXPECT_NE(r.exit_code, 0) << cmd;
    EXPECT_NE(r.err.find("Read-only file system"), std::string::npos)
        << cmd << ": " << r.err;
  }
  int fd = open((mnt + "/other.bin").c_str(), O_RDWR);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(ReadFile(mnt + "/other.bin"), ReadFile(src_ + "/other.bin"));
}

}  // namespace
}  // namespace sealfs::testing
