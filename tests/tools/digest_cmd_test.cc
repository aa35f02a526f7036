// SPDX-License-Identifier: Apache-2.0
// Tests for `sealfs digest` (tools/cmd_digest.cc), run as a user would and
// compared with the real `fsverity digest`.
#include <sys/stat.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace sealfs {
namespace {

using ::sealfs::testing::CommandResult;
using ::sealfs::testing::HaveProgram;
using ::sealfs::testing::RandomBytes;
using ::sealfs::testing::SealfsBin;
using ::sealfs::testing::TempDir;
using ::sealfs::testing::WriteFile;

constexpr uint64_t kB = 4096;

// Concatenates with append(): `"literal" + std::string` trips g++ 12's
// -Wrestrict false positive at -O3.
std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out.append(p);
  return out;
}

size_t CountLines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n' ? 1 : 0;
  return n;
}

TEST(DigestCmd, PrintsWhatFsverityPrints) {
  if (!HaveProgram("fsverity")) GTEST_SKIP() << "fsverity not installed";
  TempDir dir;
  std::vector<uint64_t> sizes = {
      0, 1, kB - 1, kB, kB + 1, 128 * kB, 128 * kB + 1, 128 * 128 * kB + 1};
  for (uint8_t b : RandomBytes(5, 77)) sizes.push_back(b * 9973u + b);
  std::vector<std::string> args = {SealfsBin(), "digest"};
  std::vector<std::string> fs_args = {"fsverity", "digest"};
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::string path = dir / Cat({"file ", std::to_string(i)});  // with a space
    WriteFile(path, RandomBytes(sizes[i], 500 + i));
    args.push_back(path);
    fs_args.push_back(path);
  }
  CommandResult ours = testing::Run(args);
  CommandResult theirs = testing::Run(fs_args);
  ASSERT_EQ(theirs.exit_code, 0) << theirs.err;
  EXPECT_EQ(ours.exit_code, 0) << ours.err;
  EXPECT_EQ(ours.err, "");
  EXPECT_EQ(ours.out, theirs.out);
  EXPECT_EQ(CountLines(ours.out), sizes.size());
}

TEST(DigestCmd, ReportsUnreadableFilesAndContinues) {
  TempDir dir;
  WriteFile(dir / "a", "hello");
  WriteFile(dir / "b", "world");
  CommandResult r = testing::Run({SealfsBin(), "digest", dir / "a",
                                  dir / "missing", dir.path(), dir / "b"});
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_EQ(CountLines(r.out), 2u) << r.out;
  EXPECT_NE(r.out.find(Cat({" ", dir / "a", "\n"})), std::string::npos);
  EXPECT_NE(r.out.find(Cat({" ", dir / "b", "\n"})), std::string::npos);
  EXPECT_EQ(CountLines(r.err), 2u) << r.err;  // one line per bad file
  EXPECT_NE(r.err.find(Cat({"sealfs digest: ", dir / "missing"})),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("No such file or directory"), std::string::npos);
  EXPECT_NE(r.err.find(Cat({"sealfs digest: ", dir.path(), ": "})),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("Is a directory"), std::string::npos) << r.err;
}

TEST(DigestCmd, RefusesFilesWithoutAnEndInsteadOfHanging) {
  // Opening a FIFO for reading would wait for a writer, and /dev/zero never
  // reaches EOF; both must be refused at once.
  TempDir dir;
  std::string fifo = dir / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  WriteFile(dir / "ok", "x");
  CommandResult r =
      testing::Run({SealfsBin(), "digest", fifo, "/dev/zero", dir / "ok"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(CountLines(r.out), 1u) << r.out;
  EXPECT_EQ(CountLines(r.err), 2u) << r.err;
  EXPECT_NE(r.err.find(Cat({"sealfs digest: ", fifo, ": not a regular file"})),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("sealfs digest: /dev/zero: not a regular file"),
            std::string::npos)
      << r.err;
}

TEST(DigestCmd, KnownDigestOfHello) {
  TempDir dir;
  WriteFile(dir / "hello", "hello\n");
  CommandResult r = testing::Run({SealfsBin(), "digest", dir / "hello"});
  EXPECT_EQ(r.exit_code, 0);
  // Pinned from `fsverity digest` (1.5) of a file holding "hello\n".
  EXPECT_EQ(
      r.out,
      Cat({"sha256:9c76eecc7b76fcb46199cb27b90cf59a660e10575bb0412128905129"
           "d5b1c2aa ",
           dir / "hello", "\n"}));
}

TEST(DigestCmd, HelpGoesToStdoutAndExitsZero) {
  CommandResult r = testing::Run({SealfsBin(), "digest", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("Usage: sealfs digest", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("Exit status"), std::string::npos);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(testing::Run({SealfsBin(), "digest", "-h"}).exit_code, 0);
}

TEST(DigestCmd, UsageErrorsExitTwo) {
  CommandResult none = testing::Run({SealfsBin(), "digest"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(none.out, "");
  EXPECT_EQ(none.err.rfind("sealfs digest: ", 0), 0u) << none.err;

  CommandResult bad =
      testing::Run({SealfsBin(), "digest", "--frobnicate", "x"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--frobnicate"), std::string::npos) << bad.err;
  EXPECT_EQ(bad.out, "");
}

TEST(DigestCmd, DoubleDashAllowsFileNamesStartingWithDash) {
  TempDir dir;
  WriteFile(dir / "-f", "x");
  CommandResult r = testing::Run(
      {"sh", "-c",
       Cat({"cd '", dir.path(), "' && '", SealfsBin(), "' digest -- -f"})});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(r.out.size() - 4), " -f\n") << r.out;
}

}  // namespace
}  // namespace sealfs
