// SPDX-License-Identifier: Apache-2.0
// `sealfs serve` and callers in a mount namespace of their own (`unshare
// -m`, as a container runtime's): a mount made there whose connection is
// aborted is unmounted there, and only there; a namespace that died first
// costs the service nothing.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/mount_fixture.h"
#include "tests/integration/serve_fixture.h"

namespace sealfs::testing {
namespace {

class ServeNamespaceTest : public ServeTest {
 protected:
  void SetUp() override {
    ServeTest::SetUp();
    if (IsSkipped()) return;
    for (const char* prog : {"unshare", "nsenter"}) {
      if (RunCmd({"sh", "-c", std::string("command -v ") + prog}).exit_code !=
          0) {
        GTEST_SKIP() << prog << " is not installed";
      }
    }
  }
  void TearDown() override {
    // The namespaces die with their last process, and their mounts too.
    for (pid_t pid : holders_) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    ServeTest::TearDown();
  }

  // A process alone in a new mount namespace (private propagation, so
  // nothing it mounts reaches the host); its pid once the namespace is
  // made, or -1.
  pid_t StartNamespace() {
    const std::string own = ReadLink("/proc/self/ns/mnt");
    pid_t pid = fork();
    if (pid == 0) {
      execlp("unshare", "unshare", "--mount", "--propagation", "private",
             "sleep", "600", static_cast<char*>(nullptr));
      _exit(127);
    }
    if (pid < 0) return -1;
    holders_.push_back(pid);
    const std::string path = "/proc/" + std::to_string(pid) + "/ns/mnt";
    for (int i = 0; i < 500; ++i) {  // a hang guard, not a timing
      std::string ns = ReadLink(path);
      if (!ns.empty() && ns != own &&
          ReadProcFile("/proc/" + std::to_string(pid) + "/cmdline")
              .starts_with("sleep")) {
        return pid;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

  // A new namespace (StartNamespace) in which `sealfs mount` has mounted
  // the image at `mnt` through the service; its process's pid, or -1.
  pid_t MountInNewNamespace(const std::string& mnt) {
    pid_t pid = StartNamespace();
    if (pid < 0) return -1;
    CommandResult r =
        RunCmd({"nsenter", "-t", std::to_string(pid), "-m", SealfsBin(),
                "mount", "-o", opts_, tmp_ / "image", mnt});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? pid : -1;
  }

  // `path` in the namespace of `pid`, seen from here.
  static std::string Through(pid_t pid, const std::string& path) {
    return "/proc/" + std::to_string(pid) + "/root" + path;
  }

  static std::string ReadLink(const std::string& path) {
    char buf[256];
    ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

  std::vector<pid_t> holders_;
};

TEST_F(ServeNamespaceTest, AbortedMountIsUnmountedInItsNamespaceOnly) {
  BuildImage();
  ASSERT_GT(Serve(), 0);
  // The host has a mount at the path first; the namespace gets a copy of
  // it, and mounts on top of it there. The path alone would name the
  // host's mount: the service must unmount the one in the namespace.
  std::string mnt = tmp_ / "shared";
  MountOk(tmp_ / "image", mnt, opts_);
  const std::vector<std::string> host = SealfsMountsAt(getpid(), mnt);
  ASSERT_EQ(host.size(), 1u);
  pid_t ns = MountInNewNamespace(mnt);
  ASSERT_GT(ns, 0);
  std::vector<std::string> inside = SealfsMountsAt(ns, mnt);
  ASSERT_EQ(inside.size(), 2u);
  EXPECT_EQ(SealfsMountsAt(getpid(), mnt), host);  // private: not here
  const std::string through = Through(ns, mnt);
  EXPECT_EQ(ReadFile(through + "/big"), big_);

  ASSERT_TRUE(AbortConnection(MinorOf(inside[1])));
  EXPECT_TRUE(WaitLog(LogOf(0), mnt + ": unmounted in its mount namespace"))
      << ReadProcFile(LogOf(0));
  // Gone there, the copy of the host's mount below it left as it was.
  EXPECT_TRUE(WaitSealfsMounts(ns, mnt, 1));
  EXPECT_EQ(SealfsMountsAt(ns, mnt), std::vector<std::string>{inside[0]});
  EXPECT_EQ(ReadFile(through + "/big"), big_);
  // The host's mount was never touched.
  EXPECT_EQ(SealfsMountsAt(getpid(), mnt), host);
  EXPECT_EQ(ReadFile(mnt + "/big"), big_);
}

TEST_F(ServeNamespaceTest, NamespaceThatDiedFirstCostsNothing) {
  BuildImage();
  ASSERT_GT(Serve(), 0);
  std::string mnt = tmp_ / "gone";
  std::string other = tmp_ / "other";
  MountOk(tmp_ / "image", other, opts_);
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  pid_t ns = MountInNewNamespace(mnt);
  ASSERT_GT(ns, 0);
  std::vector<std::string> inside = SealfsMountsAt(ns, mnt);
  ASSERT_EQ(inside.size(), 1u);
  // A file held open through the namespace keeps the connection alive
  // after the namespace has died, until the abort.
  const std::string through = Through(ns, mnt);
  int held = open((through + "/big").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(held, 0);
  kill(ns, SIGKILL);
  waitpid(ns, nullptr, 0);
  std::erase(holders_, ns);
  EXPECT_TRUE(AbortConnection(MinorOf(inside[0])));
  close(held);
  EXPECT_TRUE(WaitLog(LogOf(0), mnt + ": its mount namespace is gone"))
      << ReadProcFile(LogOf(0));
  // Nothing was unmounted elsewhere, and the service still serves.
  EXPECT_TRUE(SealfsMountsAt(getpid(), mnt).empty());
  EXPECT_EQ(SealfsMountsAt(getpid(), other).size(), 1u);
  EXPECT_EQ(ReadFile(other + "/big"), big_);
  CommandResult list = RunCmd({SealfsBin(), "mounts", "--json"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out.find(mnt), std::string::npos) << list.out;
}

}  // namespace
}  // namespace sealfs::testing
