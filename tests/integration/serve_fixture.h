// SPDX-License-Identifier: Apache-2.0
// ServeTest: a test with `sealfs serve` processes of its own (on a socket
// in its temp dir, found by `sealfs mount` through $SEALFS_SERVE_SOCKET),
// stopped with their keeper in teardown.
#ifndef SEALFS_TESTS_INTEGRATION_SERVE_FIXTURE_H_
#define SEALFS_TESTS_INTEGRATION_SERVE_FIXTURE_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "tests/integration/fake_systemd.h"
#include "tests/integration/mount_fixture.h"

namespace sealfs::testing {

// Starts `sealfs serve --socket SOCKET [extra]` with its output in `log`;
// returns its pid once the socket answers (or -1). With `inherit`, it starts
// with that file open, as if its parent had left it open.
pid_t StartServe(const std::string& socket, const std::string& log,
                 const std::vector<std::string>& extra = {},
                 const std::string& inherit = "");

// Aborts FUSE connection `minor` (the minor of a mount's st_dev) through
// /sys/fs/fuse/connections, in a private mount namespace with fusectl
// mounted; false if the abort file could not be written.
bool AbortConnection(unsigned minor);

// The devices ("MAJ:MIN") of the fuse.sealfs mounts at `path` in the mount
// namespace of `pid`, bottom to top, from its mountinfo.
std::vector<std::string> SealfsMountsAt(pid_t pid, const std::string& path);
// Polls (a hang guard, ~10 s) until there are `count` of them.
bool WaitSealfsMounts(pid_t pid, const std::string& path, size_t count);
// The minor of a "MAJ:MIN" device: a FUSE mount's connection number.
unsigned MinorOf(const std::string& device);

class ServeTest : public MountTest {
 protected:
  void SetUp() override;
  void TearDown() override;
  void KillKeeper();
  // A new serve, with its log in LogOf(its index).
  pid_t Serve(const std::vector<std::string>& extra = {},
              const std::string& inherit = "");
  // Starts `argv` (a serve) under `systemd`, its log in LogOf(log), and
  // waits for its READY=1: its pid, or -1 (a failure is added).
  pid_t ServeUnder(FakeSystemd& systemd, const std::vector<std::string>& argv,
                   size_t log);
  // Waits for a serve that exits (handed over, or killed).
  void Reap(pid_t pid);
  pid_t KeeperPid();
  // Waits (up to 5 s) until `log` has `text`.
  bool WaitLog(const std::string& log, const std::string& text);
  std::string LogOf(size_t i);
  // Two files and a signed image of them; opts_ mounts it from store_.
  void BuildImage();

  std::string run_, socket_, src_, opts_;
  std::vector<uint8_t> big_;
  std::vector<pid_t> serve_pids_;
};

}  // namespace sealfs::testing

#endif  // SEALFS_TESTS_INTEGRATION_SERVE_FIXTURE_H_
