// SPDX-License-Identifier: Apache-2.0
// The part of systemd that `sealfs serve --fd-store` talks to, for tests
// without systemd: a datagram socket for sd_notify messages that keeps
// the descriptors sent with FDSTORE=1 by FDNAME= (dropping them on
// FDSTOREREMOVE=1), and a start of a service with them as $LISTEN_FDS,
// $LISTEN_FDNAMES and $LISTEN_PID, as systemd restarts a unit. Not
// thread-safe.
#ifndef SEALFS_TESTS_INTEGRATION_FAKE_SYSTEMD_H_
#define SEALFS_TESTS_INTEGRATION_FAKE_SYSTEMD_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "sealfs/unique_fd.h"

namespace sealfs::testing {

class FakeSystemd {
 public:
  // Binds the notify socket at `path`.
  explicit FakeSystemd(std::string path);

  const std::string& socket_path() const { return path_; }
  // Handles messages until one is exactly `state` ("READY=1") or `timeout`
  // passes; false then.
  bool WaitFor(const std::string& state, std::chrono::milliseconds timeout);
  // Like WaitFor, for a message that starts with `prefix`; returns it, or
  // "" after `timeout`.
  std::string WaitForPrefix(const std::string& prefix,
                            std::chrono::milliseconds timeout);
  // Handles the messages that have arrived.
  void Pump() { (void)WaitFor("", std::chrono::milliseconds(0)); }
  // Stored descriptors by name (several may share one).
  std::map<std::string, std::vector<UniqueFd>>& store() { return store_; }
  size_t stored_count() const;

  // Starts `argv` with NOTIFY_SOCKET and the stored descriptors passed as
  // systemd passes them; stdout and stderr to `log`. Returns its pid.
  pid_t Start(const std::vector<std::string>& argv, const std::string& log);

 private:
  void Handle(const std::string& text, std::vector<UniqueFd> fds);

  std::string path_;
  UniqueFd sock_;
  std::map<std::string, std::vector<UniqueFd>> store_;
  std::vector<std::string> states_;  // every other message, in order
};

}  // namespace sealfs::testing

#endif  // SEALFS_TESTS_INTEGRATION_FAKE_SYSTEMD_H_
