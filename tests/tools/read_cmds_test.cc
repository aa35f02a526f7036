// SPDX-License-Identifier: Apache-2.0
// `sealfs inspect`, `sealfs ls` and `sealfs cat` on a built image, including
// cat of a corrupt object failing exactly at the flipped block.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sealfs/digest.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/manifest_writer.h"
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

class ReadCmdsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(src_ + "/etc/hostname", "box\n");
    big_ = RandomBytes(10 * kBlockSize + 123, 5);
    WriteFile(src_ + "/usr/lib/big", big_);
    // chown clears setuid, so it goes first.
    ASSERT_EQ(chown((src_ + "/usr/lib/big").c_str(), 12, 34), 0);
    ASSERT_EQ(chmod((src_ + "/usr/lib/big").c_str(), 04755), 0);
    timespec ts[2] = {{0, UTIME_OMIT}, {1700000000, 0}};
    ASSERT_EQ(utimensat(AT_FDCWD, (src_ + "/usr/lib/big").c_str(), ts, 0), 0);
    ASSERT_EQ(symlink("lib/big", (src_ + "/usr/link").c_str()), 0);
    ASSERT_EQ(mknod((src_ + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)),
              0);
    ASSERT_EQ(chmod((src_ + "/null").c_str(), 0666), 0);  // past the umask
    WriteFile(src_ + "/a\x01name", "ctl");
    CommandResult r = st::Run({SealfsBin(), "mkfs", "--store", store_, src_, image_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    identity_ = r.out.substr(0, r.out.size() - 1);
  }

  CommandResult Cat(const std::string& path) {
    return st::Run({SealfsBin(), "cat", "--store", store_, image_, path});
  }

  TempDir work_;
  std::string src_ = work_ / "src";
  std::string store_ = work_ / "store";
  std::string image_ = work_ / "image";
  std::string identity_;
  std::vector<uint8_t> big_;
};

TEST_F(ReadCmdsTest, HelpExitsZero) {
  for (const char* cmd : {"inspect", "ls", "cat"}) {
    CommandResult r = st::Run({SealfsBin(), cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find(std::string("Usage: sealfs ") + cmd), std::string::npos);
  }
  EXPECT_EQ(st::Run({SealfsBin(), "inspect"}).exit_code, 2);
  EXPECT_EQ(st::Run({SealfsBin(), "ls"}).exit_code, 2);
  EXPECT_EQ(st::Run({SealfsBin(), "cat", image_}).exit_code, 2);
}

TEST_F(ReadCmdsTest, InspectText) {
  CommandResult r = st::Run({SealfsBin(), "inspect", image_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("identity:        " + identity_ + "\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("format version:  1\n"), std::string::npos) << r.out;
  // root, etc, hostname, usr, lib, big, link, null, a\1name
  EXPECT_NE(r.out.find("inodes:          9\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("objects:         1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("signatures:      0\n"), std::string::npos) << r.out;
}

TEST_F(ReadCmdsTest, InspectJson) {
  ASSERT_TRUE(GenerateKeyPair(work_ / "key").ok());
  ASSERT_TRUE(SignImageFile(image_, *SigningKey::Load(work_ / "key")).ok());
  CommandResult r = st::Run({SealfsBin(), "inspect", "--json", image_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string& j = r.out;
  EXPECT_EQ(j.front(), '{');
  EXPECT_EQ(j.substr(j.size() - 2), "}\n");
  EXPECT_NE(j.find("\"identity\":\"" + identity_ + "\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"format_version\":1,"), std::string::npos) << j;
  EXPECT_NE(j.find("\"inodes\":9,"), std::string::npos) << j;
  EXPECT_NE(j.find("\"objects\":1,"), std::string::npos) << j;
  EXPECT_NE(j.find("\"file_bytes\":" + std::to_string(big_.size() + 4 + 3)),
            std::string::npos)
      << j;
  Result<PublicKey> pub = LoadPublicKey(work_ / "key.pub");
  ASSERT_TRUE(pub.ok());
  EXPECT_NE(j.find("\"signatures\":[{\"algorithm\":\"ed25519\",\"key_id\":\"" +
                   pub->KeyId() + "\"}]"),
            std::string::npos)
      << j;
  if (::sealfs::testing::HaveProgram("python3")) {
    CommandResult parsed = Shell("'" + SealfsBin() + "' inspect --json '" +
                                 image_ +
                                 "' | python3 -c 'import json,sys; "
                                 "print(json.load(sys.stdin)[\"inodes\"])'");
    EXPECT_EQ(parsed.out, "9\n") << parsed.err;
  }
}

TEST_F(ReadCmdsTest, InspectRefusesGarbage) {
  WriteFile(work_ / "garbage", RandomBytes(1000, 1));
  CommandResult r = st::Run({SealfsBin(), "inspect", work_ / "garbage"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("sealfs inspect: " + work_ / "garbage", 0), 0u) << r.err;
}

// Writes a one-directory image holding `config` as its OCI config.
void WriteImageWithConfig(const std::string& path, const std::string& config) {
  InodeSpec root;
  root.mode = S_IFDIR | 0755;
  WriteOptions options;
  options.oci_config = config;
  Result<std::vector<uint8_t>> bytes = WriteManifest(ImageTree(root), options);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  WriteFile(path, *bytes);
}

TEST_F(ReadCmdsTest, InspectOciConfigPrintsTheStoredBytes) {
  const std::string config =
      "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":"
      "[\"PATH=/bin\"]}}";
  WriteImageWithConfig(work_ / "oci", config);
  CommandResult r = st::Run({SealfsBin(), "inspect", "--oci-config", work_ / "oci"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, config);  // verbatim: no newline into a pipe
  r = st::Run({SealfsBin(), "inspect", "--json", work_ / "oci"});
  EXPECT_NE(r.out.find("\"oci_config\":{\"digest\":\"" +
                       Sha256({reinterpret_cast<const uint8_t*>(config.data()),
                               config.size()})
                           .ToString() +
                       "\",\"size\":" + std::to_string(config.size()) + "}"),
            std::string::npos)
      << r.out;
  r = st::Run({SealfsBin(), "inspect", "--json", image_});
  EXPECT_NE(r.out.find("\"oci_config\":null"), std::string::npos) << r.out;
  r = st::Run({SealfsBin(), "inspect", "--oci-config", image_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no OCI config (not built with --from-oci)"),
            std::string::npos)
      << r.err;
  r = st::Run({SealfsBin(), "inspect", "--oci-config", "--json", image_});
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(ReadCmdsTest, InspectOciConfigRefusesWhatIsNotAJsonObject) {
  for (const std::string bad : {"[1]", "{\"a\":", "\x1b[2J"}) {
    WriteImageWithConfig(work_ / "bad", bad);
    CommandResult r =
        st::Run({SealfsBin(), "inspect", "--oci-config", work_ / "bad"});
    EXPECT_EQ(r.exit_code, 1) << bad;
    EXPECT_EQ(r.out, "") << bad;
    EXPECT_NE(r.err.find(": OCI config: not "), std::string::npos) << r.err;
  }
}

TEST_F(ReadCmdsTest, LsRootAndDirectory) {
  CommandResult r = st::Run({SealfsBin(), "ls", image_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "a\\001name\netc\nnull\nusr\n");
  r = st::Run({SealfsBin(), "ls", image_, "/usr"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "lib\nlink\n");
}

TEST_F(ReadCmdsTest, LsLong) {
  CommandResult r = st::Run({SealfsBin(), "ls", "-l", image_, "usr/lib"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "-rwsr-xr-x 1 12 34 " + std::to_string(big_.size()) +
                       " 2023-11-14 22:13:20 big\n");
  r = st::Run({SealfsBin(), "ls", image_, "/usr/link", "-l"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("lrwxrwxrwx "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" /usr/link -> lib/big\n"), std::string::npos) << r.out;
  r = st::Run({SealfsBin(), "ls", "-l", image_, "/null"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("crw-rw-rw- 1 0 0 1, 3 ", 0), 0u) << r.out;
}

TEST_F(ReadCmdsTest, LsDoesNotFollowSymlinks) {
  CommandResult r = st::Run({SealfsBin(), "ls", image_, "/usr/link/x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "sealfs ls: /usr/link/x: Not a directory\n");
  r = st::Run({SealfsBin(), "ls", image_, "/nope"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "sealfs ls: /nope: No such file or directory\n");
}

TEST_F(ReadCmdsTest, CatInlineAndStoredFiles) {
  CommandResult r = Cat("/etc/hostname");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "box\n");
  r = Cat("usr/lib/big");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, std::string(big_.begin(), big_.end()));
  r = Cat("/usr");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "sealfs cat: /usr: Is a directory\n");
  r = Cat("/usr/link");
  EXPECT_EQ(r.exit_code, 1);
}

TEST_F(ReadCmdsTest, CatStopsAtTheCorruptBlock) {
  Result<std::shared_ptr<const Manifest>> m = Manifest::Open(image_);
  ASSERT_TRUE(m.ok());
  Result<Digest> digest = (*m)->DigestAt(0);
  ASSERT_TRUE(digest.ok());
  const std::string object = store_ + "/" + Store::ObjectPath(*digest);
  // Flip one byte in block 3.
  int fd = open(object.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  uint8_t byte = 0;
  const off_t at = 3 * kBlockSize + 100;
  ASSERT_EQ(pread(fd, &byte, 1, at), 1);
  byte ^= 0x01;
  ASSERT_EQ(pwrite(fd, &byte, 1, at), 1);
  close(fd);

  CommandResult r = Cat("/usr/lib/big");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("sealfs cat: /usr/lib/big: block 3 of object " +
                            digest->ToString(),
                        0),
            0u)
      << r.err;
  // Exactly the blocks before the corrupt one, and they are correct.
  EXPECT_EQ(r.out, std::string(big_.begin(), big_.begin() + 3 * kBlockSize));
}

TEST_F(ReadCmdsTest, CatMissingObjectFails) {
  Result<std::shared_ptr<const Manifest>> m = Manifest::Open(image_);
  ASSERT_TRUE(m.ok());
  Result<Digest> digest = (*m)->DigestAt(0);
  ASSERT_TRUE(digest.ok());
  ASSERT_EQ(unlink((store_ + "/" + Store::ObjectPath(*digest)).c_str()), 0);
  CommandResult r = Cat("/usr/lib/big");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(digest->ToString()), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

}  // namespace
}  // namespace sealfs
