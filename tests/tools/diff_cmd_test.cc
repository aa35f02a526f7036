// SPDX-License-Identifier: Apache-2.0
// `sealfs diff` run as a user runs it: each kind of change, its one-line
// report, the exit codes of diff(1), and --json read back with python3.
#include <string>
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

class DiffCmdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeBase(work_ / "a");
    MakeBase(work_ / "b");
  }

  void MakeBase(const std::string& root) {
    WriteFile(root + "/etc/passwd", "root:x:0:0\n");
    WriteFile(root + "/etc/group", "root:x:0\n");
    WriteFile(root + "/usr/bin/sh", RandomBytes(20000, 1));
    WriteFile(root + "/usr/lib/libc.so", RandomBytes(30000, 2));
    WriteFile(root + "/my file", "x");
    WriteFile(root + "/gone", "bye");
    Run("ln '" + root + "/usr/bin/sh' '" + root + "/usr/bin/bash'");
    Run("ln -s usr/bin/sh '" + root + "/sh'");
    Run("mkdir '" + root + "/becomes-file'");
    Run("mknod '" + root + "/null' c 1 3");
  }

  static void Run(const std::string& script) {
    CommandResult r = Shell(script);
    ASSERT_EQ(r.exit_code, 0) << script << ": " << r.err;
  }

  // Builds both trees (all mtimes fixed, so only intended changes show).
  void Build() {
    for (const char* side : {"a", "b"}) {
      Run("find '" + (work_ / side) + "' -exec touch -h -d @1000000 {} +");
    }
    if (!extra_touch_.empty()) Run(extra_touch_);
    for (const char* side : {"a", "b"}) {
      CommandResult r =
          st::Run({SealfsBin(), "mkfs", "--store", work_ / "store",
                   work_ / side, work_ / (std::string(side) + ".img")});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }

  CommandResult Diff(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {SealfsBin(), "diff"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(work_ / "a.img");
    argv.push_back(work_ / "b.img");
    return st::Run(argv);
  }

  TempDir work_;
  std::string extra_touch_;
};

TEST_F(DiffCmdTest, IdenticalImagesExitZero) {
  Build();
  CommandResult r = Diff();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  r = Diff({"--json"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "[]\n");
}

TEST_F(DiffCmdTest, ReportsEachKindOfChangeSortedByPath) {
  const std::string b = work_ / "b";
  Run("printf 'root:x:0:0\\nnew:x:1:1\\n' > '" + b + "/etc/passwd'");
  Run("chmod 600 '" + b + "/etc/group'");
  Run("chown 5:6 '" + b + "/usr/lib/libc.so'");
  Run("setfattr -n user.tag -v 1 '" + b + "/my file'");
  Run("rm '" + b + "/gone' && echo hi > '" + b + "/added'");
  Run("rm '" + b + "/sh' && ln -s usr/bin/bash '" + b + "/sh'");
  Run("rmdir '" + b + "/becomes-file' && echo f > '" + b + "/becomes-file'");
  Run("rm '" + b + "/null' && mknod '" + b + "/null' c 1 5");
  // bash becomes a separate copy of sh: same content, new link grouping.
  Run("rm '" + b + "/usr/bin/bash' && cp '" + b + "/usr/bin/sh' '" + b +
      "/usr/bin/bash'");
  extra_touch_ = "touch -d @2000000 '" + (work_ / "b/usr/lib") + "'";
  Build();
  CommandResult r = Diff();
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.out,
            "A  /added\n"
            "T  /becomes-file  directory->regular\n"
            "M  /etc/group  mode\n"
            "M  /etc/passwd  content\n"
            "D  /gone\n"
            "M  /my\\x20file  xattrs\n"
            "M  /null  rdev\n"
            "M  /sh  target\n"
            "M  /usr/bin/bash  links\n"
            "M  /usr/bin/sh  links\n"
            "M  /usr/lib  mtime\n"
            "M  /usr/lib/libc.so  uid,gid\n");
}

TEST_F(DiffCmdTest, JsonParsesAndNamesTheFields) {
  const std::string b = work_ / "b";
  Run("printf 'x' > '" + b + "/etc/passwd' && rm '" + b + "/gone'");
  Build();
  CommandResult r = Diff({"--json"});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  WriteFile(work_ / "out.json", r.out);
  CommandResult py = Shell(
      "python3 -c 'import json,sys\n"
      "d = json.load(open(sys.argv[1]))\n"
      "for e in d: print(e[\"change\"], e[\"path\"], \",\".join(e[\"fields\"]),"
      " e[\"old_type\"], e[\"new_type\"])' '" +
      (work_ / "out.json") + "'");
  ASSERT_EQ(py.exit_code, 0) << py.err;
  EXPECT_EQ(py.out,
            "modified /etc/passwd content regular regular\n"
            "removed /gone  regular None\n");
}

TEST_F(DiffCmdTest, ErrorsExitTwo) {
  Build();
  CommandResult r =
      st::Run({SealfsBin(), "diff", work_ / "a.img", work_ / "nope.img"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("sealfs diff: " + (work_ / "nope.img") + ": ", 0), 0u)
      << r.err;
  WriteFile(work_ / "junk", "junk");
  r = st::Run({SealfsBin(), "diff", work_ / "junk", work_ / "a.img"});
  EXPECT_EQ(r.exit_code, 2);
  r = st::Run({SealfsBin(), "diff", work_ / "a.img"});
  EXPECT_EQ(r.exit_code, 2);
  r = st::Run({SealfsBin(), "diff", "--bogus", work_ / "a.img",
               work_ / "a.img"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace sealfs
