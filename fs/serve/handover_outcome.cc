// SPDX-License-Identifier: Apache-2.0
// How a hand-over ended, seen from the service that handed over.
#include "fs/serve/handover_outcome.h"

#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "fs/serve/channel.h"

namespace sealfs::serve {

FileId FileIdOf(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return {};
  return {st.st_dev, st.st_ino};
}

UniqueFd PeerPidfd(int sock) {
  Result<PeerCred> cred = GetPeerCred(sock);
  if (!cred.ok() || cred->pid <= 0) return UniqueFd();
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, cred->pid, 0)));
  // The pid is the peer's only while the connection is up: had it hung up
  // before the pidfd was opened, the pid might name another process.
  pollfd p{sock, POLLIN, 0};
  if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)) != 0) {
    return UniqueFd();
  }
  return pidfd;
}

bool WaitExited(int pidfd, int timeout_ms) {
  if (pidfd < 0) return false;
  pollfd p{pidfd, POLLIN, 0};
  int n;
  do {
    n = poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  return n == 1;
}

}  // namespace sealfs::serve
