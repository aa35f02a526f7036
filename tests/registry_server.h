// SPDX-License-Identifier: Apache-2.0
// RegistryServer: Debian's docker-registry (CNCF distribution) on a loopback
// port for the length of a test, with filesystem storage in a directory of
// the test's, optionally behind htpasswd Basic auth and TLS; and a CA of
// the test's own to sign its certificate with. Killed and reaped when the
// object goes away.
#ifndef SEALFS_TESTS_REGISTRY_SERVER_H_
#define SEALFS_TESTS_REGISTRY_SERVER_H_

#include <sys/types.h>

#include <string>

namespace sealfs::testing {

// Makes a CA (DIR/ca.crt, DIR/ca.key) and a certificate for 127.0.0.1 and
// localhost signed by it (DIR/server.crt, DIR/server.key) with openssl.
// Returns an empty string, or why it could not.
std::string MakeCertificates(const std::string& dir);

struct RegistryConfig {
  std::string dir;        // config, storage (DIR/data) and log go here
  std::string htpasswd;   // a file for Basic auth; empty: no auth
  std::string cert, key;  // TLS; empty: plain HTTP
  int port = 0;           // 0: a free one
};

class RegistryServer {
 public:
  RegistryServer() = default;
  ~RegistryServer() { Stop(); }
  RegistryServer(const RegistryServer&) = delete;
  RegistryServer& operator=(const RegistryServer&) = delete;

  // Returns an empty string once the registry answers, else why not.
  std::string Start(const RegistryConfig& config);
  void Stop();  // SIGTERM, then SIGKILL; idempotent

  int port() const { return port_; }
  // "127.0.0.1:PORT", for docker:// references.
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  // Where the registry keeps blob `hex` (sha256): its data file.
  std::string BlobPath(const std::string& hex) const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string data_;
};

// Writes an htpasswd file (bcrypt, as the registry wants) for one user.
std::string MakeHtpasswd(const std::string& path, const std::string& user,
                         const std::string& password);

// Writes a containers-auth.json(5) file with credentials for `host`.
void WriteAuthFile(const std::string& path, const std::string& host,
                   const std::string& user, const std::string& password);

// A free TCP port on 127.0.0.1 at the time of asking.
int FreePort();

}  // namespace sealfs::testing

#endif  // SEALFS_TESTS_REGISTRY_SERVER_H_
