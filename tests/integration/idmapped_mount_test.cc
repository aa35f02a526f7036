// SPDX-License-Identifier: Apache-2.0
// Kernel idmapped mounts (Linux 6.12+) of a sealfs mount: the daemon grants
// FUSE_ALLOW_IDMAP at INIT, so that a runtime can give a container a view
// of the mount with owners shifted by the kernel (mount_setattr with
// MOUNT_ATTR_IDMAP), as runc 1.2 and crun do for idmapped volumes.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "tests/integration/mount_fixture.h"

namespace sealfs::testing {
namespace {

// A user namespace mapping ids 0..65535 to 100000..165535, as a file
// descriptor of /proc/PID/ns/user of a child that made it and then exits.
// -1 (with a test failure) if it cannot be made.
int UserNamespaceFd() {
  int ready[2], done[2];
  if (pipe(ready) != 0 || pipe(done) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(ready[0]);
    close(done[1]);  // so that the parent's close is the pipe's end
    char c = 0;
    bool ok = unshare(CLONE_NEWUSER) == 0;
    c = ok ? 1 : 0;
    (void)!write(ready[1], &c, 1);
    (void)!read(done[0], &c, 1);  // until the parent has the namespace
    _exit(0);
  }
  close(ready[1]);
  close(done[0]);
  char ok = 0;
  int fd = -1;
  if (pid > 0 && read(ready[0], &ok, 1) == 1 && ok == 1) {
    std::string proc = "/proc/" + std::to_string(pid);
    bool mapped = true;
    for (const char* file : {"/uid_map", "/gid_map"}) {
      FILE* f = std::fopen((proc + file).c_str(), "w");
      mapped = mapped && f != nullptr &&
               std::fputs("0 100000 65536\n", f) >= 0 && std::fclose(f) == 0;
    }
    if (mapped) fd = open((proc + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC);
  }
  close(ready[0]);
  close(done[1]);  // the child exits
  if (pid > 0) waitpid(pid, nullptr, 0);
  EXPECT_GE(fd, 0) << "cannot make a user namespace";
  return fd;
}

// True on kernels that can idmap FUSE mounts (6.12 and later).
bool KernelCanIdmapFuse() {
  utsname u{};
  int major = 0, minor = 0;
  return uname(&u) == 0 &&
         std::sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
         (major > 6 || (major == 6 && minor >= 12));
}

class IdmappedMountTest : public MountTest {};

TEST_F(IdmappedMountTest, KernelShiftsOwnersOfAnIdmappedView) {
  if (!KernelCanIdmapFuse()) {
    GTEST_SKIP() << "FUSE idmapped mounts need Linux 6.12";
  }
  std::string src = tmp_ / "src";
  CommandResult r =
      Shell("set -e; mkdir -p '" + src + "/home'; echo root > '" + src +
            "/rootfile'; echo user > '" + src +
            "/home/userfile'; chown 1000:1000 '" + src + "/home/userfile'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Mkfs(src, tmp_ / "image", "");
  std::string mnt = tmp_ / "mnt";
  MountOk(tmp_ / "image", mnt, "store=" + store_ + ",insecure");

  int userns = UserNamespaceFd();
  ASSERT_GE(userns, 0);
  int tree =
      open_tree(AT_FDCWD, mnt.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  ASSERT_GE(tree, 0) << "open_tree: " << strerror(errno);
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(userns);
  // EINVAL here is the kernel refusing an idmap of a FUSE mount whose
  // daemon did not grant FUSE_ALLOW_IDMAP.
  int rc = mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr));
  int err = errno;
  close(userns);
  ASSERT_EQ(rc, 0) << "mount_setattr(MOUNT_ATTR_IDMAP): " << strerror(err);
  std::string view = tmp_ / "view";
  ASSERT_EQ(mkdir(view.c_str(), 0755), 0);
  Track(view);
  ASSERT_EQ(
      move_mount(tree, "", AT_FDCWD, view.c_str(), MOVE_MOUNT_F_EMPTY_PATH), 0)
      << "move_mount: " << strerror(errno);
  close(tree);

  struct stat st {};
  ASSERT_EQ(stat((view + "/rootfile").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 100000u);
  EXPECT_EQ(st.st_gid, 100000u);
  ASSERT_EQ(stat((view + "/home/userfile").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 101000u);
  // The mount itself is unchanged, and both read the verified content.
  ASSERT_EQ(stat((mnt + "/rootfile").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  CommandResult cat =
      RunCmd({"cat", view + "/home/userfile", mnt + "/rootfile"});
  EXPECT_EQ(cat.out, "user\nroot\n") << cat.err;
  EXPECT_EQ(umount2(view.c_str(), MNT_DETACH), 0) << strerror(errno);
}

}  // namespace
}  // namespace sealfs::testing
