// SPDX-License-Identifier: Apache-2.0
// RegistryServer: a config file, a free port, docker-registry in the
// foreground; openssl and htpasswd for certificates and passwords.
#include "tests/registry_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "tests/test_util.h"

namespace sealfs::testing {
namespace {

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

// RFC 4648 base64 (the test's own, independent of the one under test).
std::string Base64(const std::string& in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<uint8_t>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

}  // namespace

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

std::string MakeCertificates(const std::string& dir) {
  CommandResult r = Shell(
      "set -e; cd '" + dir +
      "'; openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt "
      "-days 2 -subj /CN=sealfs-test-ca 2>/dev/null; "
      "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
      "-subj /CN=127.0.0.1 2>/dev/null; "
      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext.cnf; "
      "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key "
      "-CAcreateserial -out server.crt -days 2 -extfile ext.cnf 2>/dev/null");
  return r.exit_code == 0 ? "" : "openssl failed: " + r.err;
}

std::string MakeHtpasswd(const std::string& path, const std::string& user,
                         const std::string& password) {
  CommandResult r = Run({"htpasswd", "-Bbc", path, user, password});
  return r.exit_code == 0 ? "" : "htpasswd failed: " + r.err;
}

void WriteAuthFile(const std::string& path, const std::string& host,
                   const std::string& user, const std::string& password) {
  WriteFile(path, "{\"auths\": {\"" + host + "\": {\"auth\": \"" +
                      Base64(user + ":" + password) + "\"}}}\n");
}

std::string RegistryServer::Start(const RegistryConfig& config) {
  Stop();
  if (access("/usr/bin/docker-registry", X_OK) != 0) {
    return "docker-registry is not installed";
  }
  port_ = config.port != 0 ? config.port : FreePort();
  data_ = config.dir + "/data";
  const std::string conf = config.dir + "/config.yml";
  {
    std::ofstream out(conf);
    out << "version: 0.1\n"
        << "log:\n  level: error\n"
        << "storage:\n  filesystem:\n    rootdirectory: " << data_ << "\n"
        << "  delete:\n    enabled: true\n"
        << "http:\n  addr: 127.0.0.1:" << port_ << "\n";
    if (!config.cert.empty()) {
      out << "  tls:\n    certificate: " << config.cert
          << "\n    key: " << config.key << "\n";
    }
    if (!config.htpasswd.empty()) {
      out << "auth:\n  htpasswd:\n    realm: sealfs-test\n    path: "
          << config.htpasswd << "\n";
    }
  }
  const std::string log = config.dir + "/registry.log";
  pid_t pid = fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    execl("/usr/bin/docker-registry", "docker-registry", "serve", conf.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  pid_ = pid;
  for (int i = 0; i < 500; ++i) {
    if (Answers(port_)) return "";
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return "docker-registry exited (see " + log + ")";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Stop();
  return "docker-registry did not start (see " + log + ")";
}

void RegistryServer::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  bool reaped = false;
  for (int i = 0; i < 200 && !reaped; ++i) {
    reaped = waitpid(pid_, nullptr, WNOHANG) == pid_;
    if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!reaped) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  pid_ = -1;
}

std::string RegistryServer::BlobPath(const std::string& hex) const {
  return data_ + "/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" +
         hex + "/data";
}

}  // namespace sealfs::testing
