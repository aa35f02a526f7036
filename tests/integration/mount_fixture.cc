// SPDX-License-Identifier: Apache-2.0
// Mount, unmount and daemon bookkeeping for the integration tests.
#include "tests/integration/mount_fixture.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace sealfs::testing {
namespace {

std::string RealPath(const std::string& path) {
  char* r = realpath(path.c_str(), nullptr);
  if (r == nullptr) return path;
  std::string out = r;
  free(r);
  return out;
}

// Undoes the octal escapes mountinfo uses for spaces and the like.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out.push_back(
          static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8)));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

std::string MountUnavailableReason() {
  if (access("/dev/fuse", R_OK | W_OK) != 0) return "/dev/fuse is missing";
  if (!HaveProgram("fusermount3")) return "fusermount3 is missing";
  return "";
}

bool IsMounted(const std::string& path) {
  std::string want = RealPath(path);
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mnt;
    fields >> id >> parent >> dev >> root >> mnt;
    if (Unescape(mnt) == want) return true;
  }
  return false;
}

bool WaitMounted(const std::string& path, bool want) {
  for (int i = 0; i < 200; ++i) {
    if (IsMounted(path) == want) return want;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return IsMounted(path);
}

std::vector<pid_t> DaemonPids(const std::string& mountpoint) {
  std::vector<pid_t> pids;
  std::string real = RealPath(mountpoint);
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* d = readdir(proc)) {
    pid_t pid = static_cast<pid_t>(std::atoi(d->d_name));
    if (pid <= 0 || pid == getpid()) continue;
    std::ifstream f(std::string("/proc/") + d->d_name + "/cmdline");
    std::string all((std::istreambuf_iterator<char>(f)), {});
    std::vector<std::string> args;
    std::string cur;
    for (char c : all) {
      if (c == '\0') {
        args.push_back(cur);
        cur.clear();
      } else {
        cur.push_back(c);
      }
    }
    if (args.empty()) continue;
    bool is_sealfs = args[0].find("sealfs") != std::string::npos;
    bool names_mnt = false;
    for (const std::string& a : args) {
      if (a == mountpoint || a == real) names_mnt = true;
    }
    if (is_sealfs && names_mnt) pids.push_back(pid);
  }
  closedir(proc);
  return pids;
}

bool WaitGone(pid_t pid) {
  for (int i = 0; i < 200; ++i) {
    if (kill(pid, 0) != 0 && errno == ESRCH) return true;
    // A zombie child of ours counts as gone.
    std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(st)), {});
    size_t close_paren = s.rfind(')');
    if (close_paren != std::string::npos && close_paren + 2 < s.size() &&
        s[close_paren + 2] == 'Z') {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

void MountTest::SetUp() {
  SEALFS_SKIP_WITHOUT_FUSE();
  store_ = tmp_ / "store";
}

void MountTest::TearDown() {
  for (const std::string& mnt : mounts_) {
    std::vector<pid_t> pids = DaemonPids(mnt);
    if (IsMounted(mnt)) RunCmd({"fusermount3", "-u", "-z", mnt});
    for (pid_t pid : pids) {
      if (!WaitGone(pid)) {
        kill(pid, SIGKILL);
        WaitGone(pid);
      }
    }
    if (IsMounted(mnt)) RunCmd({"umount", "-l", mnt});
  }
  mounts_.clear();
}

void MountTest::MakeKey(const std::string& path) {
  CommandResult r =
      Shell("openssl genpkey -algorithm ed25519 -out '" + path +
            "' && chmod 600 '" + path + "' && openssl pkey -in '" + path +
            "' -pubout -out '" + path + ".pub'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

std::string MountTest::Mkfs(const std::string& src, const std::string& image,
                            const std::string& key) {
  std::vector<std::string> argv = {SealfsBin(), "mkfs", "--store", store_};
  if (!key.empty()) {
    argv.push_back("--key");
    argv.push_back(key);
  }
  argv.push_back(src);
  argv.push_back(image);
  CommandResult r = RunCmd(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string id = r.out;
  while (!id.empty() && id.back() == '\n') id.pop_back();
  return id;
}

CommandResult MountTest::Mount(const std::string& image, const std::string& mnt,
                               const std::string& opts) {
  mkdir(mnt.c_str(), 0755);
  mounts_.push_back(mnt);
  return RunCmd({SealfsBin(), "mount", "-o", opts, image, mnt});
}

void MountTest::MountOk(const std::string& image, const std::string& mnt,
                        const std::string& opts) {
  CommandResult r = Mount(image, mnt, opts);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(IsMounted(mnt)) << mnt << " not in mountinfo after mount";
}

void MountTest::Forget(const std::string& mnt) { std::erase(mounts_, mnt); }

}  // namespace sealfs::testing
