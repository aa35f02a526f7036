// SPDX-License-Identifier: Apache-2.0
#include "tests/integration/serve_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace sealfs::testing {

pid_t StartServe(const std::string& socket, const std::string& log,
                 const std::vector<std::string>& extra,
                 const std::string& inherit) {
  pid_t pid = fork();
  if (pid == 0) {
    // A descriptor of its own, which no other process shares or closes.
    if (!inherit.empty()) (void)open(inherit.c_str(), O_RDONLY);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    std::vector<std::string> args = {SealfsBin(), "serve", "--socket", socket};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  for (int i = 0; i < 500; ++i) {
    CommandResult r =
        Run({"sh", "-c",
             "grep -q 'listening on' '" + log +
                 "' && [ $(grep -c 'listening on' '" + log + "') -ge 1 ]"});
    if (r.exit_code == 0) return pid;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

bool AbortConnection(unsigned minor) {
  // fusectl is mounted in a mount namespace of its own, which ends with the
  // command: mounted on the host and unmounted again, it raced other tests
  // doing the same (one unmounted it under another's write).
  const std::string abort =
      "/sys/fs/fuse/connections/" + std::to_string(minor) + "/abort";
  return RunCmd({"unshare", "--mount", "--propagation", "private", "sh",
                 "-c",
                 "mount -t fusectl none /sys/fs/fuse/connections && [ -w " +
                     abort + " ] && echo 1 >" + abort})
             .exit_code == 0;
}

std::vector<std::string> SealfsMountsAt(pid_t pid, const std::string& path) {
  std::istringstream in(
      ReadProcFile("/proc/" + std::to_string(pid) + "/mountinfo"));
  std::vector<std::string> devices;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, device, root, point;
    f >> id >> parent >> device >> root >> point;
    const size_t dash = line.find(" - ");
    if (point == path && dash != std::string::npos &&
        line.compare(dash + 3, 12, "fuse.sealfs ") == 0) {
      devices.push_back(device);
    }
  }
  return devices;
}

bool WaitSealfsMounts(pid_t pid, const std::string& path, size_t count) {
  for (int i = 0; i < 500; ++i) {
    if (SealfsMountsAt(pid, path).size() == count) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

unsigned MinorOf(const std::string& device) {
  return static_cast<unsigned>(std::stoul(device.substr(device.find(':') + 1)));
}

void ServeTest::SetUp() {
  MountTest::SetUp();
  if (IsSkipped()) return;
  run_ = tmp_ / "run";
  socket_ = run_ + "/serve.sock";
  setenv("SEALFS_SERVE_SOCKET", socket_.c_str(), 1);  // NOLINT
}

void ServeTest::TearDown() {
  for (pid_t pid : serve_pids_) {
    kill(pid, SIGTERM);
    // A successor started by a service is not this process's child.
    if (waitpid(pid, nullptr, 0) != pid) WaitGone(pid);
  }
  KillKeeper();
  unsetenv("SEALFS_SERVE_SOCKET");  // NOLINT
  MountTest::TearDown();
}

void ServeTest::KillKeeper() {
  std::ifstream in(run_ + "/keeper.pid");
  pid_t pid = 0;
  if (in >> pid && pid > 0) {
    kill(pid, SIGKILL);
    WaitGone(pid);
  }
}

pid_t ServeTest::Serve(const std::vector<std::string>& extra,
                       const std::string& inherit) {
  std::string log = LogOf(serve_pids_.size());
  pid_t pid = StartServe(socket_, log, extra, inherit);
  EXPECT_GT(pid, 0) << ReadProcFile(log);
  if (pid > 0) serve_pids_.push_back(pid);
  return pid;
}

pid_t ServeTest::ServeUnder(FakeSystemd& systemd,
                            const std::vector<std::string>& argv, size_t log) {
  const pid_t pid = systemd.Start(argv, LogOf(log));
  if (pid > 0) serve_pids_.push_back(pid);
  if (pid <= 0 || !systemd.WaitFor("READY=1", std::chrono::seconds(5))) {
    ADD_FAILURE() << "serve did not become ready: " << ReadProcFile(LogOf(log));
    return -1;
  }
  return pid;
}

void ServeTest::Reap(pid_t pid) {
  waitpid(pid, nullptr, 0);
  std::erase(serve_pids_, pid);
}

pid_t ServeTest::KeeperPid() {
  std::ifstream in(run_ + "/keeper.pid");
  pid_t pid = 0;
  return in >> pid ? pid : 0;
}

bool ServeTest::WaitLog(const std::string& log, const std::string& text) {
  for (int i = 0; i < 500; ++i) {
    if (ReadProcFile(log).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string ServeTest::LogOf(size_t i) {
  return tmp_ / ("serve-" + std::to_string(i) + ".log");
}

void ServeTest::BuildImage() {
  src_ = tmp_ / "src";
  big_ = RandomBytes(3 << 20, 7);
  WriteFile(src_ + "/big", big_);
  WriteFile(src_ + "/etc/hostname", std::string("served\n"));
  MakeKey(tmp_ / "key");
  Mkfs(src_, tmp_ / "image", tmp_ / "key");
  opts_ = "store=" + store_ + ",pubkey=" + (tmp_ / "key.pub");
}

}  // namespace sealfs::testing
