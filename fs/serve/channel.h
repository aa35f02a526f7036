// SPDX-License-Identifier: Apache-2.0
// The control socket: where it lives, listening and connecting, one message
// (with its file descriptors) per SOCK_SEQPACKET packet, and the peer's
// credentials. Reentrant.
#ifndef SEALFS_FS_SERVE_CHANNEL_H_
#define SEALFS_FS_SERVE_CHANNEL_H_

#include <sys/types.h>

#include <span>
#include <string>
#include <vector>

#include "fs/serve/protocol.h"
#include "sealfs/status.h"
#include "sealfs/unique_fd.h"

namespace sealfs::serve {

// $SEALFS_SERVE_SOCKET if set; else /run/sealfs/serve.sock for root and
// $XDG_RUNTIME_DIR/sealfs/serve.sock for anyone else (ENOENT if unset).
Result<std::string> DefaultSocketPath();
// The keeper's socket: beside `socket_path`, named keeper.sock.
std::string KeeperSocketPath(const std::string& socket_path);

// Listens on `path` (mode 0666: callers are checked per request), making
// its directory (0755) if missing. A socket file nobody listens on is
// replaced; EADDRINUSE if a service answers there.
Result<UniqueFd> Listen(const std::string& path);
// ENOENT or ECONNREFUSED when no service listens at `path`.
Result<UniqueFd> Connect(const std::string& path);

struct Received {
  Message message;
  std::vector<UniqueFd> fds;
};

// Sends `m` with `fds` (at most kMaxFds) as one packet.
Status Send(int sock, const Message& m, std::span<const int> fds = {});
// Receives one packet. ECONNRESET when the peer has gone; EPROTO for a
// packet over kMaxMessageBytes, more than kMaxFds fds or a malformed
// message (fds received are closed then); EAGAIN on the socket's time-out.
Result<Received> Receive(int sock);
// Sends `m` and receives the reply.
Result<Received> Call(int sock, const Message& m,
                      std::span<const int> fds = {});

struct PeerCred {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};
// The credentials the peer had when it connected (SO_PEERCRED).
Result<PeerCred> GetPeerCred(int sock);

// Bounds every blocking send and receive on `sock` to `seconds`.
void SetTimeout(int sock, int seconds);

}  // namespace sealfs::serve

#endif  // SEALFS_FS_SERVE_CHANNEL_H_
