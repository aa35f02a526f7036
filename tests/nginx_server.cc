// SPDX-License-Identifier: Apache-2.0
// NginxServer: a configuration file, a free port, nginx in the foreground.
#include "tests/nginx_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

namespace sealfs::testing {
namespace {

// A port the kernel hands out now; nginx binds it a moment later.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

bool Answers(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok =
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

std::string NginxServer::Start(const std::string& root,
                               const std::string& dir) {
  Stop();
  if (access("/usr/sbin/nginx", X_OK) != 0) return "nginx is not installed";
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = FreePort();
    const std::string conf = dir + "/nginx.conf";
    {
      std::ofstream out(conf);
      // As root, workers stay root: test directories are private (0700).
      out << (geteuid() == 0 ? "user root;\n" : "") << "worker_processes 2;\n"
          << "pid " << dir << "/nginx.pid;\n"
          << "error_log " << dir << "/error.log;\n"
          << "events { worker_connections 256; }\n"
          << "http {\n"
          << "  access_log off;\n"
          << "  sendfile on;\n"
          << "  keepalive_requests 100000;\n"
          << "  client_body_temp_path " << dir << "/body;\n"
          << "  proxy_temp_path " << dir << "/proxy;\n"
          << "  fastcgi_temp_path " << dir << "/fastcgi;\n"
          << "  uwsgi_temp_path " << dir << "/uwsgi;\n"
          << "  scgi_temp_path " << dir << "/scgi;\n"
          << "  server { listen 127.0.0.1:" << port_ << "; root " << root
          << "; }\n"
          << "}\n";
    }
    pid_t pid = fork();
    if (pid < 0) return "fork failed";
    if (pid == 0) {
      setpgid(0, 0);  // its workers too, for Stop()
      execl("/usr/sbin/nginx", "nginx", "-c", conf.c_str(), "-p", dir.c_str(),
            "-g", "daemon off;", static_cast<char*>(nullptr));
      _exit(127);
    }
    pid_ = pid;
    for (int i = 0; i < 200; ++i) {
      if (Answers(port_)) return "";
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;  // exited: the port was taken meanwhile, or worse
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    Stop();
  }
  return "nginx did not start (see its error.log)";
}

void NginxServer::Stop() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGTERM);  // the group: master and workers
  bool reaped = false;
  for (int i = 0; i < 100 && !reaped; ++i) {
    reaped = waitpid(pid_, nullptr, WNOHANG) == pid_;
    if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(-pid_, SIGKILL);  // whatever is left of the group
  if (!reaped) waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

}  // namespace sealfs::testing
