// SPDX-License-Identifier: Apache-2.0
// Runs the real `sealfs keygen`, `sealfs sign` and `sealfs verify` binaries
// and checks their exit codes, output and one-line errors.
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sealfs/manifest_reader.h"
#include "sealfs/manifest_writer.h"
#include "sealfs/signature.h"
#include "tests/test_util.h"

namespace sealfs {
namespace {

using testing::CommandResult;
using testing::ReadFile;
using testing::Run;
using testing::SealfsBin;
using testing::TempDir;
using testing::WriteFile;

CommandResult Sealfs(std::vector<std::string> args) {
  args.insert(args.begin(), SealfsBin());
  return Run(args);
}

size_t Lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Writes a small unsigned image and returns its manifest bytes.
std::vector<uint8_t> WriteImage(const std::string& path) {
  InodeSpec root;
  root.mode = S_IFDIR | 0755;
  ImageTree tree(root);
  InodeSpec file;
  file.mode = S_IFREG | 0644;
  file.size = 12;
  file.inline_data = "hello world\n";
  EXPECT_TRUE(
      tree.Link(ImageTree::kRoot, "greeting", tree.AddInode(file)).ok());
  Result<std::vector<uint8_t>> bytes = WriteManifest(tree);
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  if (!bytes.ok()) return {};
  WriteFile(path, *bytes);
  return *bytes;
}

std::string Identity(const std::string& path) {
  Result<std::shared_ptr<const Manifest>> m = Manifest::Open(path);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? (*m)->identity().ToString() : "";
}

std::string KeyIdOf(const std::string& pub_path) {
  Result<PublicKey> key = LoadPublicKey(pub_path);
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  return key.ok() ? key->KeyId() : "";
}

class SignCmdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(WriteImage(image_).empty());
    for (const char* name : {"a", "b"}) {
      CommandResult r = Sealfs({"keygen", dir_ / name});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  TempDir dir_;
  std::string image_ = dir_ / "image.sealfs";
};

TEST(SignCmd, HelpExitsZero) {
  for (const char* cmd : {"keygen", "sign", "verify"}) {
    CommandResult r = Sealfs({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_TRUE(Contains(r.out, std::string("Usage: sealfs ") + cmd)) << r.out;
    EXPECT_TRUE(Contains(r.out, "Exit status")) << r.out;
    EXPECT_EQ(r.err, "");
  }
}

TEST(SignCmd, UsageErrorsExitTwo) {
  TempDir dir;
  const std::vector<std::vector<std::string>> cases = {
      {"keygen"},
      {"keygen", "a", "b"},
      {"keygen", "--bogus", dir / "k"},
      {"sign", dir / "image"},
      {"sign", "--key"},
      {"sign", "--key", dir / "k"},
      {"sign", "--key", dir / "k", "x", "y"},
      {"verify", dir / "image"},
      {"verify", "--pubkey", dir / "k.pub"},
      {"verify", "--pubkey"},
      {"verify", "--pubkey", dir / "k.pub", "--frobnicate", dir / "image"},
  };
  for (const auto& args : cases) {
    CommandResult r = Sealfs(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << args.size();
    EXPECT_EQ(r.err.rfind("sealfs " + args[0] + ": ", 0), 0u) << r.err;
    EXPECT_TRUE(Contains(r.err, "--help")) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "k"));
}

TEST(SignCmd, KeygenWritesKeyPairAndPrintsKeyId) {
  TempDir dir;
  CommandResult r = Sealfs({"keygen", dir / "k"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat st;
  ASSERT_EQ(::stat((dir / "k").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat((dir / "k.pub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_TRUE(Contains(r.out, KeyIdOf(dir / "k.pub"))) << r.out;
  EXPECT_EQ(Lines(r.out), 1u);
}

TEST(SignCmd, KeygenRefusesToOverwrite) {
  TempDir dir;
  ASSERT_EQ(Sealfs({"keygen", dir / "k"}).exit_code, 0);
  std::vector<uint8_t> before = ReadFile(dir / "k");
  CommandResult r = Sealfs({"keygen", dir / "k"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("sealfs keygen: ", 0), 0u) << r.err;
  EXPECT_TRUE(Contains(r.err, "exists")) << r.err;
  EXPECT_EQ(Lines(r.err), 1u);
  EXPECT_EQ(ReadFile(dir / "k"), before);
}

TEST_F(SignCmdTest, SignThenVerify) {
  const std::string identity = Identity(image_);
  const std::string id = KeyIdOf(dir_ / "a.pub");
  CommandResult r = Sealfs({"sign", "--key", dir_ / "a", image_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "signed " + image_ + " with key " + id + "\n");
  EXPECT_EQ(Identity(image_), identity);

  r = Sealfs({"verify", "--pubkey", dir_ / "a.pub", image_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, identity)) << r.out;
  EXPECT_TRUE(Contains(r.out, id)) << r.out;
  EXPECT_EQ(r.err, "");

  // Options may follow the image, and --json gives one object.
  r = Sealfs({"verify", image_, "-p", dir_ / "a.pub", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "\"verified\":true")) << r.out;
  EXPECT_TRUE(Contains(r.out, "\"identity\":\"" + identity + "\"")) << r.out;
  EXPECT_TRUE(Contains(r.out, "\"key_id\":\"" + id + "\"")) << r.out;
  EXPECT_EQ(Lines(r.out), 1u);
}

TEST_F(SignCmdTest, VerifyUnsignedFails) {
  CommandResult r = Sealfs({"verify", "--pubkey", dir_ / "a.pub", image_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("sealfs verify: ", 0), 0u) << r.err;
  EXPECT_TRUE(Contains(r.err, "image is not signed")) << r.err;
  EXPECT_EQ(Lines(r.err), 1u);

  r = Sealfs({"verify", "--pubkey", dir_ / "a.pub", "--json", image_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.out, "\"verified\":false")) << r.out;
  EXPECT_TRUE(Contains(r.out, "not signed")) << r.out;
}

TEST_F(SignCmdTest, VerifyWithUntrustedKeyFails) {
  ASSERT_EQ(Sealfs({"sign", "--key", dir_ / "a", image_}).exit_code, 0);
  CommandResult r = Sealfs({"verify", "--pubkey", dir_ / "b.pub", image_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(
      r.err, "signed by key " + KeyIdOf(dir_ / "a.pub") + ", not trusted"))
      << r.err;
  EXPECT_EQ(Lines(r.err), 1u);
}

TEST_F(SignCmdTest, PubkeyRepeatsAndKeyringWorks) {
  ASSERT_EQ(Sealfs({"sign", "--key", dir_ / "b", image_}).exit_code, 0);
  CommandResult r = Sealfs({"verify", "--pubkey", dir_ / "a.pub", "--pubkey",
                            dir_ / "b.pub", image_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, KeyIdOf(dir_ / "b.pub"))) << r.out;

  TempDir ring;
  std::filesystem::copy_file(dir_ / "a.pub", ring / "a.pub");
  r = Sealfs({"verify", "--keyring", ring.path(), image_});
  EXPECT_EQ(r.exit_code, 1);
  std::filesystem::copy_file(dir_ / "b.pub", ring / "b.pub");
  r = Sealfs({"verify", "--keyring", ring.path(), image_});
  EXPECT_EQ(r.exit_code, 0) << r.err;

  TempDir empty;
  r = Sealfs({"verify", "--keyring", empty.path(), image_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "no public keys")) << r.err;
}

TEST_F(SignCmdTest, TwoSignersAndResigningKeepsOneEach) {
  ASSERT_EQ(Sealfs({"sign", "--key", dir_ / "a", image_}).exit_code, 0);
  ASSERT_EQ(Sealfs({"sign", "-k", dir_ / "b", image_}).exit_code, 0);
  std::vector<uint8_t> both = ReadFile(image_);
  ASSERT_EQ(Sealfs({"sign", "--key", dir_ / "a", image_}).exit_code, 0);
  EXPECT_EQ(ReadFile(image_), both);
  for (const char* k : {"a.pub", "b.pub"}) {
    CommandResult r = Sealfs({"verify", "--pubkey", dir_ / k, image_});
    EXPECT_EQ(r.exit_code, 0) << k << ": " << r.err;
  }
}

TEST_F(SignCmdTest, TamperedManifestFailsVerification) {
  std::vector<uint8_t> manifest = ReadFile(image_);
  ASSERT_EQ(Sealfs({"sign", "--key", dir_ / "a", image_}).exit_code, 0);
  std::vector<uint8_t> bytes = ReadFile(image_);
  // Change the inline file content "hello world\n" to "jello world\n".
  std::string text(bytes.begin(), bytes.end());
  size_t at = text.find("hello world\n");
  ASSERT_NE(at, std::string::npos);
  bytes[at] = 'j';
  WriteFile(image_, bytes);
  CommandResult r = Sealfs({"verify", "--pubkey", dir_ / "a.pub", image_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "signature by trusted key " +
                                  KeyIdOf(dir_ / "a.pub") + " is invalid"))
      << r.err;
  EXPECT_EQ(Lines(r.err), 1u);
}

TEST_F(SignCmdTest, MalformedImageFails) {
  WriteFile(image_, testing::RandomBytes(4096, 7));
  CommandResult r = Sealfs({"verify", "--pubkey", dir_ / "a.pub", image_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("sealfs verify: ", 0), 0u) << r.err;
  EXPECT_EQ(Lines(r.err), 1u);
  r = Sealfs({"sign", "--key", dir_ / "a", image_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(ReadFile(image_), testing::RandomBytes(4096, 7));

  r = Sealfs({"verify", "--pubkey", dir_ / "a.pub", dir_ / "missing"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "missing")) << r.err;
}

TEST_F(SignCmdTest, SignRefusesKeyReadableByOthers) {
  ASSERT_EQ(::chmod((dir_ / "a").c_str(), 0644), 0);
  std::vector<uint8_t> before = ReadFile(image_);
  CommandResult r = Sealfs({"sign", "--key", dir_ / "a", image_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "chmod 600")) << r.err;
  EXPECT_EQ(Lines(r.err), 1u);
  EXPECT_EQ(ReadFile(image_), before);
}

TEST_F(SignCmdTest, VerifyRefusesBadTrustedKeyFile) {
  ASSERT_EQ(Sealfs({"sign", "--key", dir_ / "a", image_}).exit_code, 0);
  WriteFile(dir_ / "bad.pub", "not a key\n");
  CommandResult r = Sealfs({"verify", "--pubkey", dir_ / "bad.pub", "--pubkey",
                            dir_ / "a.pub", image_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "bad.pub")) << r.err;
}

}  // namespace
}  // namespace sealfs
