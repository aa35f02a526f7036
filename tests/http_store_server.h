// SPDX-License-Identifier: Apache-2.0
// HttpStoreServer: runs tests/tools/http_store_server.py (a real HTTP server
// serving a store directory on a loopback port, misbehaving in a chosen
// mode) as a child process for the length of a test, and kills it when the
// object goes away.
#ifndef SEALFS_TESTS_HTTP_STORE_SERVER_H_
#define SEALFS_TESTS_HTTP_STORE_SERVER_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace sealfs::testing {

class HttpStoreServer {
 public:
  HttpStoreServer() = default;
  ~HttpStoreServer() { Stop(); }
  HttpStoreServer(const HttpStoreServer&) = delete;
  HttpStoreServer& operator=(const HttpStoreServer&) = delete;

  // Serves `root` in `mode` (see MODES in http_store_server.py) on
  // 127.0.0.1, on `port` (0: chosen by the kernel; a server restarted on
  // its old port looks to clients like one that came back), logging each
  // request to `log` if not empty, with `extra` arguments (--delay S,
  // --corrupt-at N). Returns an empty string once it listens, else why it
  // could not start.
  std::string Start(const std::string& root, const std::string& mode,
                    const std::string& log = "", int port = 0,
                    const std::vector<std::string>& extra = {});
  // Runs tests/tools/NAME (another server printing "PORT <n>" once it
  // listens) with `args`; as Start() otherwise.
  std::string StartScript(const std::string& name,
                          const std::vector<std::string>& args);
  // Kills the server (SIGKILL) and reaps it. Idempotent.
  void Stop();

  // "http://127.0.0.1:PORT".
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// Lines of `log` (a server's request log) that contain `needle`.
int CountLogLines(const std::string& log, const std::string& needle);
// CountLogLines once it reaches `want`, or after 5 s: the server logs a
// request after its last byte is sent, so the client may see the answer
// before the line is written.
int CountLogLinesAtLeast(const std::string& log, const std::string& needle,
                         int want);

// The most requests that were in progress at once, from the start and end
// times of each line of `log`.
int MaxConcurrentRequests(const std::string& log);

}  // namespace sealfs::testing

#endif  // SEALFS_TESTS_HTTP_STORE_SERVER_H_
