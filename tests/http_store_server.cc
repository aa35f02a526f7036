// SPDX-License-Identifier: Apache-2.0
// HttpStoreServer: fork/exec of the python3 test server, reading its port.
#include "tests/http_store_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

namespace sealfs::testing {

std::string HttpStoreServer::Start(const std::string& root,
                                   const std::string& mode,
                                   const std::string& log, int port,
                                   const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--root", root,     "--mode",
                                   mode,     "--port", std::to_string(port)};
  if (!log.empty()) {
    args.push_back("--log");
    args.push_back(log);
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return StartScript("http_store_server.py", args);
}

std::string HttpStoreServer::StartScript(
    const std::string& name, const std::vector<std::string>& extra) {
  Stop();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return "pipe failed";
  const std::string script =
      std::string(SEALFS_SOURCE_DIR) + "/tests/tools/" + name;
  std::vector<std::string> args = {"python3", script};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return "fork failed";
  }
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    execvp("python3", argv.data());
    _exit(127);
  }
  close(fds[1]);
  pid_ = pid;
  std::string line;
  // The server prints "PORT <n>\n" once it listens (python starts in well
  // under a second; 30 s only guards against a wedged machine).
  for (;;) {
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, 30000) <= 0) break;
    char c;
    if (read(fds[0], &c, 1) != 1 || c == '\n') break;
    line.push_back(c);
  }
  close(fds[0]);
  if (line.rfind("PORT ", 0) != 0) {
    Stop();
    return "test server did not start (got '" + line + "')";
  }
  port_ = std::stoi(line.substr(5));
  return "";
}

void HttpStoreServer::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int MaxConcurrentRequests(const std::string& log) {
  std::ifstream in(log);
  std::string line;
  std::vector<std::pair<double, int>> events;  // (time, +1 start / -1 end)
  while (std::getline(in, line)) {
    const size_t end_at = line.rfind(' ');
    const size_t start_at = line.rfind(' ', end_at - 1);
    if (end_at == std::string::npos || start_at == std::string::npos) continue;
    events.emplace_back(std::stod(line.substr(start_at + 1)), 1);
    events.emplace_back(std::stod(line.substr(end_at + 1)), -1);
  }
  std::sort(events.begin(), events.end());  // an end before a start at a tie
  int now = 0;
  int most = 0;
  for (const auto& [t, delta] : events) {
    now += delta;
    most = std::max(most, now);
  }
  return most;
}

int CountLogLines(const std::string& log, const std::string& needle) {
  std::ifstream in(log);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos) ++n;
  }
  return n;
}

int CountLogLinesAtLeast(const std::string& log, const std::string& needle,
                         int want) {
  int n = CountLogLines(log, needle);
  for (int i = 0; i < 500 && n < want; ++i) {  // a hang guard: 5 s
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    n = CountLogLines(log, needle);
  }
  return n;
}

}  // namespace sealfs::testing
