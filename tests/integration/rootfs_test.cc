// SPDX-License-Identifier: Apache-2.0
// A tiny busybox rootfs, mounted and entered with chroot, as a container
// runtime would use it.
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/integration/mount_fixture.h"

namespace sealfs::testing {
namespace {

class RootfsTest : public MountTest {};

TEST_F(RootfsTest, BusyboxRunsInChroot) {
  const std::string busybox = "/bin/busybox";
  if (access(busybox.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << busybox;
  std::string src = tmp_ / "rootfs";
  CommandResult r =
      Shell("set -e; mkdir -p '" + src + "/bin' '" + src + "/etc' '" + src +
            "/tmp'; cp " + busybox + " '" + src + "/bin/busybox'; cd '" + src +
            "/bin'; for a in sh ls cat echo; do ln -s busybox $a; done; cd ..; "
            "echo sealfs-test > etc/hostname; "
            "echo 'root:x:0:0:root:/:/bin/sh' > etc/passwd");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  MakeKey(tmp_ / "key");
  Mkfs(src, tmp_ / "image", tmp_ / "key");
  std::string mnt = tmp_ / "mnt";
  MountOk(tmp_ / "image", mnt,
          "store=" + store_ + ",pubkey=" + (tmp_ / "key.pub") + ",dev,suid");
  CommandResult run = RunCmd({"chroot", mnt, "/bin/busybox", "sh", "-c",
                              "cat /etc/hostname; ls /bin"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "sealfs-test\nbusybox\ncat\necho\nls\nsh\n");
  CommandResult applet = RunCmd({"chroot", mnt, "/bin/sh", "-c", "echo ok"});
  EXPECT_EQ(applet.out, "ok\n") << applet.err;
}

}  // namespace
}  // namespace sealfs::testing
