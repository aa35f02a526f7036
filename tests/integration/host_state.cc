// SPDX-License-Identifier: Apache-2.0
// Changing host-wide state for rootless tests, and giving it back.
#include "tests/integration/host_state.h"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>

namespace sealfs::testing {
namespace {

constexpr char kLockPath[] = "/run/lock/sealfs-tests-host.lock";
constexpr char kStateDir[] = "/run/sealfs-tests";
constexpr char kDevFuse[] = "/dev/fuse";
constexpr char kFuseConf[] = "/etc/fuse.conf";
constexpr char kUserPrefix[] = "sealfst-";

std::string StatePath(const std::string& name) {
  return std::string(kStateDir) + "/" + name;
}

// Reads a small file whole; false if it cannot be opened.
bool ReadWhole(const std::string& path, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) {
    out->append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return n == 0;
}

// Replaces `path` with `data` (temp file + rename, so a reader never sees
// half of it); false on error.
bool WriteWhole(const std::string& path, const std::string& data, mode_t mode) {
  std::string tmp = path + ".sealfs-tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return false;
  bool ok = write(fd, data.data(), data.size()) ==
                static_cast<ssize_t>(data.size()) &&
            fchmod(fd, mode) == 0 && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return false;
  }
  return true;
}

std::string Errno(const std::string& what) {
  return what + ": " + strerrordesc_np(errno);
}

// Real and effective uid of process `pid` (from /proc/PID/status).
bool ProcessUids(pid_t pid, uid_t* real, uid_t* effective) {
  std::string status = ReadProcFile("/proc/" + std::to_string(pid) + "/status");
  size_t at = status.find("\nUid:");
  if (at == std::string::npos) return false;
  std::istringstream fields(status.substr(at + 5));
  unsigned long r = 0, e = 0;
  if (!(fields >> r >> e)) return false;
  *real = static_cast<uid_t>(r);
  *effective = static_cast<uid_t>(e);
  return true;
}

// SIGKILLs, one pid at a time, every process whose real or effective uid
// is `uid`, until none is left (~5 s at most); false if some remain.
bool KillProcessesOf(uid_t uid) {
  for (int round = 0; round < 100; ++round) {
    bool found = false;
    DIR* proc = opendir("/proc");
    if (proc == nullptr) return false;
    while (dirent* d = readdir(proc)) {
      pid_t pid = static_cast<pid_t>(std::atoi(d->d_name));
      uid_t real = 0, effective = 0;
      if (pid <= 0 || pid == getpid() || !ProcessUids(pid, &real, &effective)) {
        continue;
      }
      if (real == uid || effective == uid) {
        found = true;
        kill(pid, SIGKILL);
      }
    }
    closedir(proc);
    if (!found) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// userdel, retried while another tool holds /etc/passwd's lock (exit 10).
std::string DeleteUser(const std::string& name, uid_t uid) {
  if (!KillProcessesOf(uid)) return "processes of " + name + " survive";
  CommandResult r;
  for (int i = 0; i < 20; ++i) {
    r = RunCmd({"userdel", name});
    if (r.exit_code != 10) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return r.exit_code == 0 ? "" : "userdel " + name + ": " + r.err;
}

// Undoes what a test that died while holding the lock left changed.
void RecoverHostState() {
  std::string text;
  if (ReadWhole(StatePath("dev-fuse.mode"), &text)) {
    mode_t mode = static_cast<mode_t>(std::strtoul(text.c_str(), nullptr, 8));
    if (chmod(kDevFuse, mode & 07777) == 0) {
      unlink(StatePath("dev-fuse.mode").c_str());
    }
  }
  if (ReadWhole(StatePath("fuse.conf.orig"), &text)) {
    if (WriteWhole(kFuseConf, text, 0644)) {
      unlink(StatePath("fuse.conf.orig").c_str());
    }
  } else if (access(StatePath("fuse.conf.absent").c_str(), F_OK) == 0) {
    unlink(kFuseConf);
    unlink(StatePath("fuse.conf.absent").c_str());
  }
  // Users named after a test process that is gone.
  std::string passwd;
  if (!ReadWhole("/etc/passwd", &passwd)) return;
  std::istringstream lines(passwd);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with(kUserPrefix)) continue;
    std::string name = line.substr(0, line.find(':'));
    pid_t pid = static_cast<pid_t>(
        std::atoi(name.substr(sizeof(kUserPrefix) - 1).c_str()));
    if (pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH)) continue;
    struct passwd* pw = getpwnam(name.c_str());
    if (pw != nullptr) (void)DeleteUser(name, pw->pw_uid);
  }
}

}  // namespace

HostLock::HostLock() {
  fd_ = open(kLockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    error_ = Errno(kLockPath);
    return;
  }
  while (flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) {
      error_ = Errno("flock " + std::string(kLockPath));
      return;
    }
  }
  if (mkdir(kStateDir, 0700) != 0 && errno != EEXIST) {
    error_ = Errno(kStateDir);
    return;
  }
  RecoverHostState();
}

HostLock::~HostLock() {
  if (fd_ >= 0) close(fd_);  // releases the lock
}

DevFuseMode::DevFuseMode(mode_t mode) {
  struct stat st {};
  if (stat(kDevFuse, &st) != 0) {
    error_ = Errno(kDevFuse);
    return;
  }
  original_ = st.st_mode & 07777;
  char text[16];
  std::snprintf(text, sizeof(text), "%o\n", static_cast<unsigned>(original_));
  // Recorded first: if this process dies, the next lock holder restores it.
  if (!WriteWhole(StatePath("dev-fuse.mode"), text, 0600)) {
    error_ = Errno(StatePath("dev-fuse.mode"));
    return;
  }
  changed_ = true;
  if (chmod(kDevFuse, mode) != 0) error_ = Errno("chmod /dev/fuse");
}

DevFuseMode::~DevFuseMode() {
  if (!changed_) return;
  if (chmod(kDevFuse, original_) != 0) {
    ADD_FAILURE() << Errno("restoring /dev/fuse's mode");
    return;
  }
  unlink(StatePath("dev-fuse.mode").c_str());
}

FuseConf::FuseConf(const std::string& content) {
  std::string original;
  bool existed = ReadWhole(kFuseConf, &original);
  struct stat st {};
  if (existed && stat(kFuseConf, &st) == 0) mode_ = st.st_mode & 07777;
  bool recorded = existed
                      ? WriteWhole(StatePath("fuse.conf.orig"), original, 0600)
                      : WriteWhole(StatePath("fuse.conf.absent"), "", 0600);
  if (!recorded) {
    error_ = Errno("recording /etc/fuse.conf");
    return;
  }
  changed_ = true;
  if (!WriteWhole(kFuseConf, content, 0644)) error_ = Errno(kFuseConf);
}

FuseConf::~FuseConf() {
  if (!changed_) return;
  std::string original;
  if (ReadWhole(StatePath("fuse.conf.orig"), &original)) {
    if (!WriteWhole(kFuseConf, original, mode_)) {
      ADD_FAILURE() << Errno("restoring /etc/fuse.conf");
      return;
    }
    unlink(StatePath("fuse.conf.orig").c_str());
  } else {
    unlink(kFuseConf);
    unlink(StatePath("fuse.conf.absent").c_str());
  }
}

TestUser::TestUser() : name_(kUserPrefix + std::to_string(getpid())) {
  if (struct passwd* pw = getpwnam(name_.c_str())) {  // a recycled pid's
    error_ = DeleteUser(name_, pw->pw_uid);
    if (!error_.empty()) return;
  }
  CommandResult r;
  for (int i = 0; i < 20; ++i) {
    r = RunCmd({"useradd", "--system", "--no-create-home", "--home-dir",
                "/nonexistent", "--shell", "/usr/sbin/nologin", "--user-group",
                name_});
    if (r.exit_code != 10) break;  // 10: /etc/passwd is locked; retry
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (r.exit_code != 0) {
    error_ = "useradd " + name_ + ": " + r.err;
    return;
  }
  created_ = true;
  struct passwd* pw = getpwnam(name_.c_str());
  if (pw == nullptr) {
    error_ = "useradd made no user " + name_;
    return;
  }
  uid_ = pw->pw_uid;
  gid_ = pw->pw_gid;
}

TestUser::~TestUser() {
  if (!created_) return;
  struct passwd* pw = getpwnam(name_.c_str());
  std::string err = DeleteUser(name_, pw != nullptr ? pw->pw_uid : uid_);
  if (!err.empty()) ADD_FAILURE() << err;
}

void UserMountTest::SetUp() {
  MountTest::SetUp();
  if (IsSkipped()) return;
  for (const char* prog : {"useradd", "userdel", "setpriv"}) {
    if (!HaveProgram(prog)) GTEST_SKIP() << prog << " is missing";
  }
  lock_ = std::make_unique<HostLock>();
  ASSERT_EQ(lock_->error(), "");
  dev_fuse_ = std::make_unique<DevFuseMode>(0666);
  ASSERT_EQ(dev_fuse_->error(), "");
  user_ = std::make_unique<TestUser>();
  ASSERT_EQ(user_->error(), "");
  ASSERT_EQ(chmod(tmp_.path().c_str(), 0755), 0);
  home_ = tmp_ / "home";
  ASSERT_EQ(mkdir(home_.c_str(), 0755), 0);
  ASSERT_EQ(chown(home_.c_str(), user_->uid(), user_->gid()), 0);
  const std::string bin_dir = tmp_ / "bin";
  ASSERT_EQ(mkdir(bin_dir.c_str(), 0755), 0);
  user_sealfs_ = bin_dir + "/sealfs";
  ASSERT_EQ(RunCmd({"cp", SealfsBin(), user_sealfs_}).exit_code, 0);
}

void UserMountTest::TearDown() {
  // Mounts and daemons first: userdel refuses a user with processes.
  MountTest::TearDown();
  user_.reset();
  fuse_conf_.reset();
  dev_fuse_.reset();
  lock_.reset();
}

CommandResult UserMountTest::AsUser(const std::vector<std::string>& argv) {
  return RunAs(user_->uid(), user_->gid(), argv);
}

}  // namespace sealfs::testing
