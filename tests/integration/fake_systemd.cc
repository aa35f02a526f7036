// SPDX-License-Identifier: Apache-2.0
#include "tests/integration/fake_systemd.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <sstream>

extern char** environ;

namespace sealfs::testing {

FakeSystemd::FakeSystemd(std::string path) : path_(std::move(path)) {
  sock_.reset(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
  unlink(path_.c_str());
  if (bind(sock_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) !=
      0) {
    sock_.reset();
  }
}

size_t FakeSystemd::stored_count() const {
  size_t n = 0;
  for (const auto& [name, fds] : store_) n += fds.size();
  return n;
}

std::string FakeSystemd::WaitForPrefix(const std::string& prefix,
                                       std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t seen = 0;
  for (;;) {
    for (; seen < states_.size(); ++seen) {
      if (states_[seen].starts_with(prefix)) return states_[seen];
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "";
    (void)WaitFor("\n", std::min(left, std::chrono::milliseconds(50)));
  }
}

bool FakeSystemd::WaitFor(const std::string& state,
                          std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{sock_.get(), POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(std::max<long>(0, left.count()))) <= 0) {
      return false;
    }
    char buf[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 16)];
    iovec iov{buf, sizeof(buf)};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = recvmsg(sock_.get(), &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) return false;
    std::vector<UniqueFd> fds;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
         c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        fds.emplace_back(fd);
      }
    }
    const std::string text(buf, static_cast<size_t>(n));
    Handle(text, std::move(fds));
    if (!state.empty() && text == state) return true;
  }
}

void FakeSystemd::Handle(const std::string& text, std::vector<UniqueFd> fds) {
  bool store = false;
  bool remove = false;
  std::string name = "stored";  // systemd's default FDNAME
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line == "FDSTORE=1") store = true;
    if (line == "FDSTOREREMOVE=1") remove = true;
    if (line.starts_with("FDNAME=")) name = line.substr(7);
  }
  if (store) {
    for (UniqueFd& fd : fds) store_[name].push_back(std::move(fd));
  } else if (remove) {
    store_.erase(name);
  } else {
    states_.push_back(text);
  }
}

pid_t FakeSystemd::Start(const std::vector<std::string>& argv,
                         const std::string& log) {
  // Everything the child needs is made before fork.
  std::vector<int> fds;
  std::string names;
  for (const auto& [name, list] : store_) {
    for (const UniqueFd& fd : list) {
      fds.push_back(fd.get());
      if (!names.empty()) names += ':';
      names += name;
    }
  }
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "LISTEN_", 7) != 0 &&
        std::strncmp(*e, "NOTIFY_SOCKET=", 14) != 0) {
      env.emplace_back(*e);
    }
  }
  env.push_back("NOTIFY_SOCKET=" + path_);
  env.push_back("LISTEN_FDS=" + std::to_string(fds.size()));
  env.push_back("LISTEN_FDNAMES=" + names);
  env.push_back("LISTEN_PID=");  // the pid is written in by the child
  std::string& pid_var = env.back();
  pid_var.reserve(32);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (std::string& a : args) argp.push_back(a.data());
  argp.push_back(nullptr);
  pid_t pid = fork();
  if (pid != 0) return pid;
  // Child: move the descriptors to 3, 4, ... (out of the way first).
  std::vector<int> high;
  for (int fd : fds) high.push_back(fcntl(fd, F_DUPFD, 1000));
  for (size_t i = 0; i < high.size(); ++i) {
    dup2(high[i], 3 + static_cast<int>(i));
    close(high[i]);
  }
  int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out >= 0) {
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
  }
  char pid_text[32];
  std::snprintf(pid_text, sizeof(pid_text), "LISTEN_PID=%d", getpid());
  pid_var.assign(pid_text);
  envp[env.size() - 1] = pid_var.data();
  execve(argp[0], argp.data(), envp.data());
  _exit(127);
}

}  // namespace sealfs::testing
