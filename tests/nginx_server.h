// SPDX-License-Identifier: Apache-2.0
// NginxServer: Debian's nginx serving a directory on a loopback port for the
// length of a test (a real, fast HTTP/1.1 server with keep-alive and byte
// ranges), killed and reaped when the object goes away.
#ifndef SEALFS_TESTS_NGINX_SERVER_H_
#define SEALFS_TESTS_NGINX_SERVER_H_

#include <sys/types.h>

#include <string>

namespace sealfs::testing {

class NginxServer {
 public:
  NginxServer() = default;
  ~NginxServer() { Stop(); }
  NginxServer(const NginxServer&) = delete;
  NginxServer& operator=(const NginxServer&) = delete;

  // Serves `root` on 127.0.0.1 with its configuration and logs in `dir`.
  // Returns an empty string once it answers, else why it could not start
  // (nginx missing is one reason).
  std::string Start(const std::string& root, const std::string& dir);
  // Ends nginx and its workers (SIGTERM, then SIGKILL, to its process
  // group) and reaps it. Idempotent.
  void Stop();

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace sealfs::testing

#endif  // SEALFS_TESTS_NGINX_SERVER_H_
