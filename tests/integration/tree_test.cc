// SPDX-License-Identifier: Apache-2.0
// A tree with every kind of file, built with `sealfs mkfs --key`, mounted,
// and compared with its source by independent tools: diff, stat, getfattr,
// find (hard-link groups) and rsync.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

#include <map>
#include <set>
#include <sstream>
#include <string>

#include "tests/integration/mount_fixture.h"

namespace sealfs::testing {
namespace {

// Creates a unix socket file at `path` (nothing listens on it).
void MakeSocket(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  path.copy(addr.sun_path, path.size());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
}

void BuildTree(const std::string& src) {
  WriteFile(src + "/small.txt", "hello, sealfs\n");
  WriteFile(src + "/inline-max.bin", RandomBytes(64, 1));
  WriteFile(src + "/small-object.bin", RandomBytes(4000, 2));
  WriteFile(src + "/one-block.bin", RandomBytes(4096, 3));
  WriteFile(src + "/multi-block.bin", RandomBytes(3 * 4096 + 1, 4));
  WriteFile(src + "/large.bin", RandomBytes(700 * 1024 + 123, 5));
  WriteFile(src + "/empty", std::string());
  WriteFile(src + "/dir/sub/file.txt", "nested\n");
  WriteFile(src + "/links/original", RandomBytes(9000, 6));
  std::string long_name(255, 'n');
  WriteFile(src + "/" + long_name, "long name\n");
  WriteFile(src + "/non-utf8-\xff\xfe-name", "bytes\n");
  WriteFile(src + "/with space & 'quote'", "spaces\n");
  std::string deep = src + "/deep";
  for (int i = 0; i < 40; ++i) deep += "/d" + std::to_string(i);
  WriteFile(deep + "/bottom.txt", "bottom\n");
  MakeSocket(src + "/socket");
  std::string script =
      "set -e; cd '" + src +
      "'\n"
      "truncate -s 10M sparse.bin\n"
      "printf 'in the middle' | dd of=sparse.bin bs=1 seek=5000000 "
      "conv=notrunc status=none\n"
      "ln links/original links/hardlink\n"
      "ln links/original dir/hardlink-elsewhere\n"
      "ln -s small.txt symlink-rel\n"
      "ln -s /etc/passwd symlink-abs\n"
      "ln -s does/not/exist symlink-dangling\n"
      "ln -s ../small.txt dir/symlink-up\n"
      "mknod chardev c 1 3\n"
      "mknod blockdev b 7 0\n"
      "mkfifo fifo\n"
      "mkdir -p emptydir modes\n"
      "touch modes/setuid modes/private modes/exec\n"
      "chmod 4755 modes/setuid; chmod 600 modes/private; chmod 711 "
      "modes/exec\n"
      "mkdir modes/sticky; chmod 1777 modes/sticky\n"
      "chown 1234:5678 modes/private; chown -h 42:43 symlink-rel\n"
      "setfattr -n user.comment -v 'hello xattr' small.txt\n"
      "setfattr -n user.empty small.txt\n"
      "setfattr -n trusted.secret -v 0x00ff00ff small.txt\n"
      "setfattr -n user.dir -v yes dir\n"
      "setfattr -n security.capability "
      "-v 0x0100000200200000000000000000000000000000 modes/exec\n"
      "setfattr -n user.big -v \"$(head -c 3000 /dev/zero | tr '\\0' x)\" "
      "large.bin\n"
      // Times with nanoseconds, deepest first so that directory times stay.
      "find . -depth -exec touch -h -d '2001-02-03 04:05:06.123456789' {} +\n"
      "touch -h -d '1999-12-31 23:59:59.5' small.txt symlink-abs\n";
  CommandResult r = Shell(script);
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

// Output of `cmd` run with the working directory `dir`.
std::string In(const std::string& dir, const std::string& cmd) {
  CommandResult r = Shell("cd '" + dir + "' && " + cmd);
  EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
  return r.out;
}

// Groups of paths sharing an inode (only groups of two or more).
std::set<std::set<std::string>> HardLinkGroups(const std::string& dir) {
  std::map<std::string, std::set<std::string>> by_ino;
  std::istringstream lines(In(dir, "find . ! -type d -printf '%i %p\\n'"));
  std::string line;
  while (std::getline(lines, line)) {
    size_t sp = line.find(' ');
    by_ino[line.substr(0, sp)].insert(line.substr(sp + 1));
  }
  std::set<std::set<std::string>> groups;
  for (auto& [ino, paths] : by_ino) {
    if (paths.size() > 1) groups.insert(paths);
  }
  return groups;
}

class TreeTest : public MountTest {};

TEST_F(TreeTest, MountedTreeMatchesSourceByEveryTool) {
  std::string src = tmp_ / "src";
  std::string mnt = tmp_ / "mnt";
  BuildTree(src);
  ASSERT_FALSE(HasFatalFailure());
  MakeKey(tmp_ / "key");
  Mkfs(src, tmp_ / "image", tmp_ / "key");
  MountOk(tmp_ / "image", mnt,
          "store=" + store_ + ",pubkey=" + (tmp_ / "key.pub"));

  // GNU diff cannot compare special files and says so even when both sides
  // are the same kind; those lines are checked to name the same path and
  // kind, and nothing else may differ.
  CommandResult diff = RunCmd({"diff", "-r", "--no-dereference", src, mnt});
  EXPECT_LE(diff.exit_code, 1) << diff.err;
  std::istringstream diff_lines(diff.out);
  int specials = 0;
  for (std::string line; std::getline(diff_lines, line);) {
    // "File SRC/P is a KIND while file MNT/P is a KIND"
    const std::string head = "File " + src + "/";
    const std::string mid = " while file " + mnt + "/";
    size_t m = line.find(mid);
    ASSERT_TRUE(line.starts_with(head) && m != std::string::npos) << line;
    std::string left = line.substr(head.size(), m - head.size());
    std::string right = line.substr(m + mid.size());
    EXPECT_EQ(left, right) << line;
    EXPECT_NE(left.find(" is a "), std::string::npos) << line;
    ++specials;
  }
  EXPECT_EQ(specials, 4);  // blockdev, chardev, fifo, socket

  // Directories' st_size is filesystem-specific, so it is left out for them.
  const std::string files =
      "find . ! -type d -print0 | sort -z | xargs -0 stat -c "
      "'%n %f %u %g %s %Y %y %t %T %h'";
  const std::string dirs =
      "find . -type d -print0 | sort -z | xargs -0 stat -c "
      "'%n %f %u %g %Y %y %h'";
  EXPECT_EQ(In(src, files), In(mnt, files));
  EXPECT_EQ(In(src, dirs), In(mnt, dirs));

  const std::string xattrs =
      "find . -print0 | sort -z | xargs -0 getfattr -h -d -m - "
      "--absolute-names";
  std::string src_xattrs = In(src, xattrs);
  EXPECT_NE(src_xattrs.find("security.capability"), std::string::npos);
  EXPECT_EQ(src_xattrs, In(mnt, xattrs));

  std::set<std::set<std::string>> groups = HardLinkGroups(src);
  EXPECT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups, HardLinkGroups(mnt));

  CommandResult rsync =
      RunCmd({"rsync", "-a", "-n", "-c", "-H", "-X", "--numeric-ids",
              "--itemize-changes", src + "/", mnt + "/"});
  EXPECT_EQ(rsync.exit_code, 0) << rsync.err;
  EXPECT_EQ(rsync.out, "");
}

TEST_F(TreeTest, StatfsReportsImageTotals) {
  std::string src = tmp_ / "src";
  WriteFile(src + "/a", RandomBytes(8192, 1));
  WriteFile(src + "/b", RandomBytes(100, 2));
  std::string id = Mkfs(src, tmp_ / "image", "");
  std::string mnt = tmp_ / "mnt";
  MountOk(tmp_ / "image", mnt, "store=" + store_ + ",digest=" + id);
  struct statvfs sv {};
  ASSERT_EQ(statvfs(mnt.c_str(), &sv), 0);
  EXPECT_EQ(sv.f_bsize, 4096u);
  EXPECT_EQ(sv.f_files, 3u);   // root, a, b
  EXPECT_EQ(sv.f_blocks, 3u);  // ceil(8292 / 4096)
  EXPECT_NE(sv.f_flag & ST_RDONLY, 0u);
}

}  // namespace
}  // namespace sealfs::testing
