// SPDX-License-Identifier: Apache-2.0
#include "fs/serve/successor.h"

#include <signal.h>
#include <spawn.h>

#include <cerrno>
#include <string>
#include <vector>

extern char** environ;

namespace sealfs::serve {
namespace {

// The command line of a successor of a service run with `options`.
std::vector<std::string> SuccessorArgv(const ServeOptions& options) {
  std::vector<std::string> argv = {options.program, "serve", "--replace",
                                   "--socket", options.socket_path};
  if (!options.keeper) argv.push_back("--no-keeper");
  if (options.fd_store) argv.push_back("--fd-store");
  return argv;
}

}  // namespace

Result<pid_t> StartSuccessor(const ServeOptions& options) {
  if (options.program.empty()) {
    return Status::FromErrno(ENOENT, "upgrade: this program's path is unknown");
  }
  std::vector<std::string> args = SuccessorArgv(options);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  // The service's own descriptors (sessions, sockets) are handed over by
  // the protocol, not inherited.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  const int err = posix_spawn(&pid, argv[0], &actions, &attr, argv.data(),
                              environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    return Status::FromErrno(err, "upgrade: cannot start " + options.program);
  }
  return pid;
}

}  // namespace sealfs::serve
