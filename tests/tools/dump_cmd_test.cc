// SPDX-License-Identifier: Apache-2.0
// `sealfs dump` and `sealfs mkfs --from-dump` run as a user runs them: round
// trips, standard input, missing objects, signing, the composefs example.
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace sealfs {
namespace {

namespace st = ::sealfs::testing;

using ::sealfs::testing::CommandResult;
using ::sealfs::testing::RandomBytes;
using ::sealfs::testing::SealfsBin;
using ::sealfs::testing::Shell;
using ::sealfs::testing::TempDir;
using ::sealfs::testing::WriteFile;

// The example of composefs-dump(5), verbatim: directory sizes, a hard link,
// inline content and SELinux xattrs as composefs-info writes them.
constexpr char kComposefsExample[] =
    "/ 4096 40755 4 1000 1000 0 1695372970.944925700 - - - "
    "security.selinux=unconfined_u:object_r:unlabeled_t:s0\\x00\n"
    "/a\\x20dir\\x20w\\x20space 27 40755 2 1000 1000 0 1694598852.869646118 "
    "- - - security.selinux=unconfined_u:object_r:unlabeled_t:s0\\x00\n"
    "/a-dir 45 40755 2 1000 1000 0 1674041780.601887980 - - - "
    "security.selinux=unconfined_u:object_r:unlabeled_t:s0\\x00\n"
    "/a-dir/a-file 259 100644 1 1000 1000 0 1695368732.385062094 "
    "35/d02f81325122d77ec1d11baba655bc9bf8a891ab26119a41c50fa03ddfb408 - "
    "35d02f81325122d77ec1d11baba655bc9bf8a891ab26119a41c50fa03ddfb408 "
    "security.selinux=unconfined_u:object_r:unlabeled_t:s0\\x00\n"
    "/a-hardlink 259 @100644 1 1000 1000 0 1695368732.385062094 "
    "/a-dir/a-file - "
    "35d02f81325122d77ec1d11baba655bc9bf8a891ab26119a41c50fa03ddfb408 "
    "security.selinux=unconfined_u:object_r:unlabeled_t:s0\\x00\n"
    "/inline.txt 10 100644 1 1000 1000 0 1697019909.446146440 - "
    "some-text\\n - "
    "security.selinux=unconfined_u:object_r:unlabeled_t:s0\\x00\n";

class DumpCmdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(src_ + "/etc/hostname", "box\n");
    WriteFile(src_ + "/usr/lib/libc.so", RandomBytes(200000, 1));
    WriteFile(src_ + "/usr/bin/tool", RandomBytes(9000, 2));
    WriteFile(src_ + "/a file", "-");
    WriteFile(src_ + "/empty", "");
    Shell("ln -s usr/bin/tool '" + src_ + "/tool' && ln '" + src_ +
          "/usr/bin/tool' '" + src_ + "/usr/bin/tool2' && setfattr -n " +
          "user.k -v 'a=b c' '" + src_ + "/etc/hostname' && mkfifo '" + src_ +
          "/fifo'");
    CommandResult r = Sealfs({"mkfs", "--store", store_, src_, image_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    identity_ = r.out;
  }

  static CommandResult Sealfs(std::vector<std::string> args) {
    args.insert(args.begin(), SealfsBin());
    return st::Run(args);
  }

  TempDir work_;
  std::string src_ = work_ / "src";
  std::string store_ = work_ / "store";
  std::string image_ = work_ / "a.img";
  std::string identity_;
};

TEST_F(DumpCmdTest, HelpExitsZero) {
  for (const char* cmd : {"dump", "diff"}) {
    CommandResult r = Sealfs({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_EQ(r.out.rfind("Usage: sealfs ", 0), 0u) << r.out;
  }
  CommandResult r = Sealfs({"mkfs", "--help"});
  EXPECT_NE(r.out.find("--from-dump"), std::string::npos);
}

TEST_F(DumpCmdTest, DumpMkfsDumpRoundTrip) {
  CommandResult d1 = Sealfs({"dump", image_});
  ASSERT_EQ(d1.exit_code, 0) << d1.err;
  EXPECT_EQ(d1.out.rfind("/ 0 40", 0), 0u);
  EXPECT_NE(d1.out.find("\n/a\\x20file 1 100644 1 "), std::string::npos);
  EXPECT_NE(d1.out.find(" @100644 2 "), std::string::npos);
  EXPECT_NE(d1.out.find(" user.k=a\\x3db\\x20c\n"), std::string::npos);
  WriteFile(work_ / "d1", d1.out);
  CommandResult m = Sealfs({"mkfs", "--store", store_, "--from-dump",
                            work_ / "d1", work_ / "b.img"});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(m.out, identity_);  // same image identity as the directory build
  CommandResult d2 = Sealfs({"dump", work_ / "b.img"});
  ASSERT_EQ(d2.exit_code, 0);
  EXPECT_EQ(d2.out, d1.out);  // and the same dump
}

TEST_F(DumpCmdTest, DumpToFile) {
  CommandResult r = Sealfs({"dump", "-o", work_ / "out", image_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.empty());
  CommandResult d = Sealfs({"dump", image_});
  std::vector<uint8_t> file = st::ReadFile(work_ / "out");
  EXPECT_EQ(std::string(file.begin(), file.end()), d.out);
}

TEST_F(DumpCmdTest, MkfsFromStandardInput) {
  CommandResult d = Sealfs({"dump", image_});
  CommandResult r = st::RunWithInput({SealfsBin(), "mkfs", "--store", store_,
                                      "--from-dump", "-", work_ / "c.img"},
                                     d.out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, identity_);
}

TEST_F(DumpCmdTest, MissingObjectIsAnErrorUnlessAllowed) {
  CommandResult d = Sealfs({"dump", image_});
  WriteFile(work_ / "d", d.out);
  const std::string other = work_ / "other-store";
  CommandResult r = Sealfs(
      {"mkfs", "--store", other, "--from-dump", work_ / "d", work_ / "x.img"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("sealfs mkfs: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("/usr/"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sha256:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--allow-missing"), std::string::npos) << r.err;
  struct stat sb;
  EXPECT_NE(lstat((work_ / "x.img").c_str(), &sb), 0);

  r = Sealfs({"mkfs", "--store", other, "--allow-missing", "--from-dump",
              work_ / "d", work_ / "x.img"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, identity_);
  EXPECT_NE(r.err.find("warning: 2 objects are missing"), std::string::npos)
      << r.err;
}

TEST_F(DumpCmdTest, ObjectOfTheWrongSizeIsRefused) {
  CommandResult d = Sealfs({"dump", image_});
  // Claim a different SIZE for libc.so (its digest and payload unchanged).
  std::string text = d.out;
  size_t at = text.find("/usr/lib/libc.so 200000 ");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 24, "/usr/lib/libc.so 200001 ");
  WriteFile(work_ / "d", text);
  CommandResult r = Sealfs(
      {"mkfs", "--store", store_, "--from-dump", work_ / "d", work_ / "x.img"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/usr/lib/libc.so: SIZE is 200001 but object"),
            std::string::npos)
      << r.err;
}

TEST_F(DumpCmdTest, OneDigestWithTwoSizesIsRefusedEvenIfMissing) {
  const std::string hex(64, 'e');
  const std::string payload = hex.substr(0, 2) + "/" + hex.substr(2);
  WriteFile(work_ / "d",
            "/ 0 40755 2 0 0 0 0.0 - - -\n"
            "/a 5000 100644 1 0 0 0 0.0 " +
                payload + " - " + hex + "\n" + "/b 6000 100644 1 0 0 0 0.0 " +
                payload + " - " + hex + "\n");
  CommandResult r = Sealfs({"mkfs", "--store", store_, "--allow-missing",
                            "--from-dump", work_ / "d", work_ / "x.img"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/b: SIZE is 6000 but an earlier file with DIGEST"),
            std::string::npos)
      << r.err;
}

TEST_F(DumpCmdTest, PayloadWithoutDigestIsRefusedWithItsLine) {
  WriteFile(work_ / "d",
            "/ 0 40755 2 0 0 0 0.0 - - -\n"
            "/f 10 100644 1 0 0 0 0.0 some/backing/file - -\n");
  CommandResult r = Sealfs(
      {"mkfs", "--store", store_, "--from-dump", work_ / "d", work_ / "x.img"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "sealfs mkfs: " + (work_ / "d") +
                       ": line 2: PAYLOAD without DIGEST: the content cannot "
                       "be verified (--basedir DIR computes it from "
                       "DIR/PAYLOAD): Invalid argument\n");
}

// Issue 21: composefs images built without fs-verity (OSTree's) name their
// files by path; --basedir computes the digests and stores the files.
TEST_F(DumpCmdTest, BasedirImportsPayloadsWithoutDigest) {
  WriteFile(work_ / "base/usr/bin/f", std::string(10000, 'f'));
  WriteFile(work_ / "base/outside", "x");
  const std::string long_content(5000, 'c');
  WriteFile(work_ / "d",
            "/ 0 40755 2 0 0 0 0.0 - - -\n"
            "/f 10000 100644 1 0 0 0 0.0 usr/bin/f - -\n"
            "/c 5000 100644 1 0 0 0 0.0 - " +
                long_content +
                " -\n"
                "/t 0 100644 1 0 0 0 0.0\n");
  CommandResult r =
      Sealfs({"mkfs", "--store", store_, "--basedir", work_ / "base",
              "--from-dump", work_ / "d", work_ / "x.img"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Sealfs({"cat", "--store", store_, work_ / "x.img", "/f"});
  EXPECT_EQ(r.out, std::string(10000, 'f'));
  r = Sealfs({"cat", "--store", store_, work_ / "x.img", "/c"});
  EXPECT_EQ(r.out, long_content);
  CommandResult digest = Sealfs({"digest", work_ / "base/usr/bin/f"});
  r = Sealfs({"dump", work_ / "x.img"});
  EXPECT_NE(r.out.find(digest.out.substr(7, 64)), std::string::npos)
      << r.out << digest.out;

  // A payload that is a symlink, leaves the base, or has another size.
  ASSERT_EQ(symlink("usr/bin/f", (work_ / "base/link").c_str()), 0);
  for (const auto& [payload, why] :
       std::vector<std::pair<std::string, std::string>>{
           {"link", "Too many levels of symbolic links"},
           {"../d", "payload ../d"},
           {"outside", "has 1 bytes but SIZE is 10000"}}) {
    WriteFile(work_ / "bad",
              "/ 0 40755 2 0 0 0 0.0 - - -\n/f 10000 100644 1 0 0 0 0.0 " +
                  payload + " - -\n");
    r = Sealfs({"mkfs", "--store", store_, "--basedir", work_ / "base",
                "--from-dump", work_ / "bad", work_ / "bad.img"});
    EXPECT_EQ(r.exit_code, 1) << payload;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
    EXPECT_NE(access((work_ / "bad.img").c_str(), F_OK), 0);
  }
}

TEST_F(DumpCmdTest, SignedFromDumpVerifies) {
  ASSERT_EQ(Sealfs({"keygen", work_ / "k"}).exit_code, 0);
  CommandResult d = Sealfs({"dump", image_});
  WriteFile(work_ / "d", d.out);
  CommandResult r = Sealfs({"mkfs", "--store", store_, "--key", work_ / "k",
                            "--from-dump", work_ / "d", work_ / "s.img"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, identity_);  // signatures do not change the identity
  r = Sealfs({"verify", "--pubkey", work_ / "k.pub", work_ / "s.img"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // An existing image is kept unless --force.
  r = Sealfs(
      {"mkfs", "--store", store_, "--from-dump", work_ / "d", work_ / "s.img"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("exists"), std::string::npos);
}

TEST_F(DumpCmdTest, ReadsTheComposefsManPageExample) {
  WriteFile(work_ / "cfs", kComposefsExample);
  CommandResult r =
      Sealfs({"mkfs", "--store", work_ / "empty", "--allow-missing",
              "--from-dump", work_ / "cfs", work_ / "cfs.img"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  CommandResult d = Sealfs({"dump", work_ / "cfs.img"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  // Directory sizes are not kept, nlink is recomputed, entries are sorted
  // by name bytes (' ' before '-'); the rest survives.
  EXPECT_EQ(d.out,
            "/ 0 40755 4 1000 1000 0 1695372970.944925700 - - - "
            "security.selinux=unconfined_u:object_r:unlabeled_t:s0\\x00\n"
            "/a\\x20dir\\x20w\\x20space 0 40755 2 1000 1000 0 "
            "1694598852.869646118 - - - "
            "security.selinux=unconfined_u:object_r:unlabeled_t:s0\\x00\n"
            "/a-dir 0 40755 2 1000 1000 0 1674041780.601887980 - - - "
            "security.selinux=unconfined_u:object_r:unlabeled_t:s0\\x00\n"
            "/a-dir/a-file 259 100644 2 1000 1000 0 1695368732.385062094 "
            "35/d02f81325122d77ec1d11baba655bc9bf8a891ab26119a41c50fa03ddfb408"
            " - "
            "35d02f81325122d77ec1d11baba655bc9bf8a891ab26119a41c50fa03ddfb408 "
            "security.selinux=unconfined_u:object_r:unlabeled_t:s0\\x00\n"
            "/a-hardlink 259 @100644 2 1000 1000 0 1695368732.385062094 "
            "/a-dir/a-file - "
            "35d02f81325122d77ec1d11baba655bc9bf8a891ab26119a41c50fa03ddfb408 "
            "security.selinux=unconfined_u:object_r:unlabeled_t:s0\\x00\n"
            "/inline.txt 10 100644 1 1000 1000 0 1697019909.446146440 - "
            "some-text\\n - "
            "security.selinux=unconfined_u:object_r:unlabeled_t:s0\\x00\n");
}

TEST_F(DumpCmdTest, UsageErrors) {
  const std::vector<std::vector<std::string>> cases = {
      {"dump"},
      {"dump", "a", "b"},
      {"dump", "--bogus", image_},
      {"mkfs", "--allow-missing", src_, work_ / "x.img"},
      {"mkfs", "--from-dump", "-", src_, work_ / "x.img"},
      {"mkfs", "--from-dump"},
  };
  for (const auto& args : cases) {
    CommandResult r = Sealfs(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << args.back() << ": " << r.err;
  }
}

TEST_F(DumpCmdTest, DumpOfANonImageFails) {
  WriteFile(work_ / "junk", "not an image");
  CommandResult r = Sealfs({"dump", work_ / "junk"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("sealfs dump: " + (work_ / "junk") + ": ", 0), 0u)
      << r.err;
  EXPECT_TRUE(r.out.empty());
}

}  // namespace
}  // namespace sealfs
