// SPDX-License-Identifier: Apache-2.0
// Two GNU tar layers (the upper with whiteouts and an opaque directory)
// imported with `sealfs mkfs --from-tar`, mounted, and compared with the
// expected tree built by hand: diff, stat, getfattr and hard-link groups.
#include <unistd.h>

#include <map>
#include <set>
#include <sstream>
#include <string>

#include "tests/integration/mount_fixture.h"

namespace sealfs::testing {
namespace {

// Output of `cmd` run with the working directory `dir`.
std::string InDir(const std::string& dir, const std::string& cmd) {
  CommandResult r = Shell("cd '" + dir + "' && " + cmd);
  EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
  return r.out;
}

// Sets of paths sharing an inode, for groups of two or more.
std::set<std::set<std::string>> LinkGroups(const std::string& dir) {
  std::map<std::string, std::set<std::string>> by_ino;
  std::istringstream lines(InDir(dir, "find . ! -type d -printf '%i %p\\n'"));
  for (std::string line; std::getline(lines, line);) {
    size_t sp = line.find(' ');
    by_ino[line.substr(0, sp)].insert(line.substr(sp + 1));
  }
  std::set<std::set<std::string>> groups;
  for (auto& [ino, paths] : by_ino) {
    if (paths.size() > 1) groups.insert(paths);
  }
  return groups;
}

class TarMountTest : public MountTest {};

TEST_F(TarMountTest, ImportedLayersMountAsTheExpectedTree) {
  if (geteuid() != 0 || !HaveProgram("setcap")) {
    GTEST_SKIP() << "needs root and setcap";
  }
  const std::string l1 = tmp_ / "l1";
  const std::string l2 = tmp_ / "l2";
  const std::string want = tmp_ / "expected";
  std::string long_name(180, 'L');
  const std::string script =
      "set -e\n"
      "mkdir -p " + l1 + "/keep " + l1 + "/gonedir/sub " + l1 + "/opq\n"
      "cd " + l1 + "/keep\n"
      "echo small > small.txt; setfattr -n user.v -v one small.txt\n"
      "head -c 300000 /dev/urandom > large.bin\n"
      "head -c 9000 /dev/urandom > orig; ln orig hardlink\n"
      "echo cap > cap; setcap cap_net_raw+ep cap\n"
      "mknod chardev c 1 3; mkfifo fifo\n"
      "touch setuid; chmod 4755 setuid; chown 7:8 setuid\n"
      "ln -s small.txt symlink\n"
      "echo long > " + long_name + "\n"
      "cd " + l1 + "\n"
      "echo gone > gone.txt; echo f > gonedir/sub/f; echo old > opq/old\n"
      "mkdir -p " + l2 + "/keep " + l2 + "/opq\n"
      "cd " + l2 + "\n"
      "touch .wh.gone.txt .wh.gonedir opq/.wh..wh..opq\n"
      "echo new > opq/new; echo added > keep/added.txt\n"
      "echo replaced > keep/small.txt; setfattr -n user.v -v two "
      "keep/small.txt\n"
      // Expected: layer 1's keep/ as it is, then layer 2's changes.
      "mkdir -p " + want + "/opq\n"
      "cp -a " + l1 + "/keep " + want + "/keep\n"
      "cp -a " + l2 + "/keep/. " + want + "/keep/\n"
      "cp -a " + l2 + "/opq/new " + want + "/opq/new\n"
      "for d in " + l1 + " " + l2 + " " + want + "; do\n"
      "  find $d -depth -exec touch -h -d '2011-11-11 11:11:11.111' {} +\n"
      "done\n"
      "tar --xattrs --xattrs-include='*' --format=pax -C " + l1 +
      " -cf " + (tmp_ / "l1.tar") + " .\n"
      "tar --xattrs --xattrs-include='*' --format=pax -C " + l2 +
      " -c . | zstd -q > " + (tmp_ / "l2.tar.zst") + "\n";
  CommandResult r = Shell(script);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  r = RunCmd({SealfsBin(), "mkfs", "--store", store_, "--from-tar",
              tmp_ / "l1.tar", "--from-tar", tmp_ / "l2.tar.zst",
              tmp_ / "image"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string id = r.out.substr(0, r.out.find('\n'));
  const std::string mnt = tmp_ / "mnt";
  MountOk(tmp_ / "image", mnt, "store=" + store_ + ",digest=" + id);

  // diff cannot compare special files; it names them, on both sides alike.
  CommandResult diff = RunCmd({"diff", "-r", "--no-dereference", want, mnt});
  std::istringstream diff_lines(diff.out);
  int specials = 0;
  for (std::string line; std::getline(diff_lines, line);) {
    EXPECT_TRUE(line.starts_with("File " + want + "/keep/chardev is a ") ||
                line.starts_with("File " + want + "/keep/fifo is a "))
        << line;
    ++specials;
  }
  EXPECT_EQ(specials, 2) << diff.out;  // chardev, fifo
  EXPECT_LE(diff.exit_code, 1) << diff.err;

  const std::string files =
      "find . ! -type d -print0 | sort -z | xargs -0 stat -c "
      "'%n %f %u %g %s %Y %y %t %T %h'";
  const std::string dirs =
      "find . -type d -print0 | sort -z | xargs -0 stat -c "
      "'%n %f %u %g %Y %y %h'";
  EXPECT_EQ(InDir(want, files), InDir(mnt, files));
  EXPECT_EQ(InDir(want, dirs), InDir(mnt, dirs));
  const std::string xattrs =
      "find . -print0 | sort -z | xargs -0 getfattr -h -d -m - "
      "--absolute-names";
  std::string want_xattrs = InDir(want, xattrs);
  EXPECT_NE(want_xattrs.find("security.capability"), std::string::npos);
  EXPECT_NE(want_xattrs.find("user.v=\"two\""), std::string::npos);
  EXPECT_EQ(want_xattrs, InDir(mnt, xattrs));
  EXPECT_EQ(LinkGroups(want).size(), 1u);
  EXPECT_EQ(LinkGroups(want), LinkGroups(mnt));
  EXPECT_NE(access((mnt + "/gone.txt").c_str(), F_OK), 0);
  EXPECT_NE(access((mnt + "/opq/old").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace sealfs::testing
