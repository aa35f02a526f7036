// SPDX-License-Identifier: Apache-2.0
// Mount, unmount and daemon bookkeeping for the integration tests.
#include "tests/integration/mount_fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <functional>
#include <sstream>
#include <thread>

namespace sealfs::testing {

// Not std::ifstream: a process that exits between open and read makes
// read() fail with ESRCH, and libstdc++'s filebuf throws on that, out of an
// istreambuf_iterator. During a parallel
// ctest run some process always exits mid-scan, and that exception, thrown
// from TearDown's first /proc scan, once skipped the whole unmount.
std::string ReadProcFile(const std::string& path) {
  std::string text;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return text;
}

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

// `path` with its directory resolved but its last component left alone, as
// mountinfo names a mount point. Unlike realpath(path) this never stats the
// mount point itself, which would hang on a daemon that does not answer.
std::string MountPointKey(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t slash = p.rfind('/');
  if (slash == std::string::npos) return RealPath(".") + "/" + p;
  std::string dir = slash == 0 ? "/" : RealPath(p.substr(0, slash));
  return (dir == "/" ? "" : dir) + p.substr(slash);
}

// Every mount point in /proc/self/mountinfo; false if it cannot be read.
bool MountPoints(std::vector<std::string>* out) {
  std::string text = ReadProcFile("/proc/self/mountinfo");
  if (text.empty()) return false;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mnt;
    fields >> id >> parent >> dev >> root >> mnt;
    out->push_back(Unescape(mnt));
  }
  return true;
}

// The NUL-separated arguments of process `pid`; empty if it is gone.
std::vector<std::string> ReadArgv(pid_t pid) {
  std::string all = ReadProcFile("/proc/" + std::to_string(pid) + "/cmdline");
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
  return args;
}

// Field 22 of /proc/PID/stat (start time in clock ticks), and the state
// letter; 0 if the process is gone. A pid plus its start time names one
// process even if the pid is recycled.
unsigned long long StartTime(pid_t pid, char* state = nullptr) {
  std::string s = ReadProcFile("/proc/" + std::to_string(pid) + "/stat");
  size_t close_paren = s.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::istringstream rest(s.substr(close_paren + 1));
  std::string field;
  unsigned long long start = 0;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 3 && state != nullptr) *state = field.empty() ? '?' : field[0];
    if (i == 22) start = std::strtoull(field.c_str(), nullptr, 10);
  }
  return start;
}

std::vector<pid_t> AllPids() {
  std::vector<pid_t> pids;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* d = readdir(proc)) {
    pid_t pid = static_cast<pid_t>(std::atoi(d->d_name));
    if (pid > 0 && pid != getpid()) pids.push_back(pid);
  }
  closedir(proc);
  return pids;
}

}  // namespace

CommandResult RunAs(uid_t uid, gid_t gid,
                    const std::vector<std::string>& argv) {
  std::vector<std::string> full = {"setpriv", "--reuid=" + std::to_string(uid),
                                   "--regid=" + std::to_string(gid),
                                   "--clear-groups", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  return RunCmd(full);
}

std::string MountUnavailableReason() {
  if (access("/dev/fuse", R_OK | W_OK) != 0) return "/dev/fuse is missing";
  if (!HaveProgram("fusermount3")) return "fusermount3 is missing";
  return "";
}

bool IsMounted(const std::string& path) {
  std::vector<std::string> mounts;
  MountPoints(&mounts);
  std::string want = MountPointKey(path);
  return std::find(mounts.begin(), mounts.end(), want) != mounts.end();
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
  std::string real = MountPointKey(mountpoint);
  for (pid_t pid : AllPids()) {
    std::vector<std::string> args = ReadArgv(pid);
    if (args.empty()) continue;
    bool is_sealfs = args[0].find("sealfs") != std::string::npos;
    bool names_mnt = false;
    for (const std::string& a : args) {
      if (a == mountpoint || a == real) names_mnt = true;
    }
    if (is_sealfs && names_mnt) pids.push_back(pid);
  }
  return pids;
}

long long StatsCounter(const std::string& mnt, const std::string& key) {
  CommandResult r = Run({SealfsBin(), "stats", mnt});
  const std::string pat = "\"" + key + "\":";
  const size_t at = r.out.find(pat);
  if (r.exit_code != 0 || at == std::string::npos) return -1;
  return std::stoll(r.out.substr(at + pat.size()));
}

bool WaitGone(pid_t pid) {
  for (int i = 0; i < 200; ++i) {
    if (kill(pid, 0) != 0 && errno == ESRCH) return true;
    // A zombie counts as gone (a child of ours is reaped here).
    char state = '?';
    if (StartTime(pid, &state) == 0 || state == 'Z') {
      waitpid(pid, nullptr, WNOHANG);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

namespace {

// A process left behind by a test: pid, start time, and argv for messages.
struct Leftover {
  pid_t pid;
  unsigned long long start;
  std::string argv;
};

// Live processes other than this one with an argument for which `match`
// is true: the daemon (sealfs mount, mount.fuse.sealfs), its fusermount3
// auto_unmount watchdog, or a foreground `sealfs mount -f` child.
std::vector<Leftover> ProcessesNaming(
    const std::function<bool(const std::string&)>& match) {
  std::vector<Leftover> out;
  for (pid_t pid : AllPids()) {
    std::vector<std::string> args = ReadArgv(pid);
    if (std::none_of(args.begin(), args.end(), match)) continue;
    char state = '?';
    unsigned long long start = StartTime(pid, &state);
    if (start == 0 || state == 'Z') continue;
    std::string line;
    for (const std::string& a : args) line += (line.empty() ? "" : " ") + a;
    out.push_back({pid, start, line});
  }
  return out;
}

// Signals `p` only if its pid still names the same process.
void SignalIfSame(const Leftover& p, int sig) {
  if (StartTime(p.pid) == p.start) kill(p.pid, sig);
}

// True once `p` has exited (or its pid names another process now).
bool WaitGoneSame(const Leftover& p, int polls) {
  for (int i = 0; i < polls; ++i) {
    char state = '?';
    unsigned long long start = StartTime(p.pid, &state);
    if (start != p.start || state == 'Z') {
      waitpid(p.pid, nullptr, WNOHANG);  // reaps it if it is our child
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// SIGTERM, up to ~5 s, then SIGKILL and up to ~5 s more.
void Terminate(const std::vector<Leftover>& procs) {
  for (const Leftover& p : procs) SignalIfSame(p, SIGTERM);
  for (const Leftover& p : procs) {
    if (WaitGoneSame(p, 100)) continue;
    SignalIfSame(p, SIGKILL);
    WaitGoneSame(p, 100);
  }
}

// Lazily unmounts `mnt`: fusermount3 -u -z always (its "not mounted"
// complaint is ignored), then again and umount2() while anything is still
// mounted there (stacked mounts, or fusermount3 could not run).
void Unmount(const std::string& mnt) {
  for (int i = 0; i < 8; ++i) {
    if (i > 0 && !IsMounted(mnt)) return;
    try {
      RunCmd({"fusermount3", "-u", "-z", mnt});
    } catch (const std::exception& e) {
      ADD_FAILURE() << "fusermount3 -u -z " << mnt << ": " << e.what();
    }
    if (IsMounted(mnt)) umount2(mnt.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
  }
}

std::vector<std::string> MountsUnder(const std::string& root) {
  std::vector<std::string> mounts, out;
  if (!MountPoints(&mounts)) {
    ADD_FAILURE() << "cannot read /proc/self/mountinfo";
    return out;
  }
  std::string key = MountPointKey(root);
  for (const std::string& m : mounts) {
    if (m == key || m.starts_with(key + "/")) out.push_back(m);
  }
  // Deepest first, so a mount inside another one goes before it.
  std::sort(out.rbegin(), out.rend());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Unmounts `mounts` and ends every process for which `names` holds of an
// argument, found before and after unmounting; then checks nothing is left.
void CleanUp(const std::function<bool(const std::string&)>& names,
             const std::vector<std::string>& mounts, const std::string& what) {
  std::vector<Leftover> procs = ProcessesNaming(names);
  for (const std::string& m : mounts) Unmount(m);
  for (const Leftover& p : ProcessesNaming(names)) {
    bool known =
        std::any_of(procs.begin(), procs.end(), [&](const Leftover& q) {
          return q.pid == p.pid && q.start == p.start;
        });
    if (!known) procs.push_back(p);
  }
  Terminate(procs);
  for (const std::string& m : mounts) {
    if (IsMounted(m)) Unmount(m);  // a mount made while we were killing
    EXPECT_FALSE(IsMounted(m)) << m << " is still mounted after teardown";
  }
  for (const Leftover& p : ProcessesNaming(names)) {
    ADD_FAILURE() << "process " << p.pid << " naming " << what
                  << " survived teardown: " << p.argv;
  }
}

// True if `arg` names `root` or a path below it, alone or as the value of
// an option (store=ROOT/store,pubkey=ROOT/key.pub).
bool Mentions(const std::string& arg, const std::string& root) {
  for (size_t at = arg.find(root); at != std::string::npos;
       at = arg.find(root, at + 1)) {
    size_t end = at + root.size();
    bool starts = at == 0 || arg[at - 1] == '=' || arg[at - 1] == ',' ||
                  arg[at - 1] == ':';
    bool ends = end == arg.size() || arg[end] == '/' || arg[end] == ',';
    if (starts && ends) return true;
  }
  return false;
}

}  // namespace

void MountTest::SetUp() {
  SEALFS_SKIP_WITHOUT_FUSE();
  store_ = tmp_ / "store";
}

void CleanUpMount(const std::string& mnt) {
  std::string key = MountPointKey(mnt);
  CleanUp([&](const std::string& arg) { return arg == mnt || arg == key; },
          {mnt}, mnt);
}

void CleanUpUnder(const std::string& root) {
  std::string key = MountPointKey(root);
  CleanUp(
      [&](const std::string& arg) {
        return Mentions(arg, root) || Mentions(arg, key);
      },
      MountsUnder(root), root);
}

void MountTest::TearDown() {
  // Every tracked mount point, then anything else mounted or served below
  // the TempDir, which is removed after this: a live mount there would stop
  // its removal half way and leave the daemon running.
  for (const std::string& mnt : mounts_) CleanUpMount(mnt);
  mounts_.clear();
  CleanUpUnder(tmp_.path());
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
