// SPDX-License-Identifier: Apache-2.0
// The keeper: a minimal process that holds a copy of every session's
// /dev/fuse descriptor (with the image and store descriptors and what is
// needed to serve it again), so that a service killed with -9 loses no
// mount: the next service takes them back. It does nothing else, so that
// it has nothing to crash on. KeeperLink is the service's end; its methods
// are thread-safe.
#ifndef SEALFS_FS_SERVE_KEEPER_H_
#define SEALFS_FS_SERVE_KEEPER_H_

#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "fs/serve/protocol.h"
#include "sealfs/status.h"
#include "sealfs/unique_fd.h"

namespace sealfs::serve {

// Serves the keeper socket at `path` until it holds no session and no
// service is connected (or none connected within 10 s of starting). Only
// peers of this process's uid are heard. Writes its pid to keeper.pid
// beside the socket. EADDRINUSE (at once) while another keeper holds
// keeper.lock beside the socket or anybody listens at `path`.
Status RunKeeper(const std::string& path);

struct HeldSession {
  SessionRecord record;
  std::vector<UniqueFd> fds;  // /dev/fuse, image, store
};

class KeeperLink {
 public:
  // Connects to the keeper at `path`, starting one (`exe` serve --keeper)
  // if nobody listens there, and returns once a live keeper has answered
  // a greeting: sessions handed to it are never queued to a keeper that
  // is dying. Retries for ~3 s while the listener at `path` hangs up
  // unanswered; EAGAIN if a listener never answers (a stopped keeper).
  static Result<KeeperLink> ConnectOrStart(const std::string& path,
                                           const std::string& exe);
  KeeperLink() = default;
  KeeperLink(KeeperLink&& other) noexcept
      : sock_(std::move(other.sock_)), pending_(other.pending_) {}

  bool connected() const;
  // The link's socket, to poll: readable when answers arrived or the
  // keeper has gone. -1 when not connected.
  int fd() const;
  // Hands the keeper a copy of a session's descriptors (fuse, image, store).
  // Does not wait for the keeper's answer: once sent, the descriptors sit
  // in the keeper's socket queue, and the kernel holds them there even if
  // this process dies before the keeper reads them. TakeAnswers reads the
  // answers.
  Status Keep(const SessionRecord& record, std::span<const int> fds);
  // The session has ended: the keeper closes its copies. Does not wait.
  Status Drop(uint64_t id);
  // Reads, without waiting, the answers that have arrived. ECONNRESET (or
  // another receive error) once the keeper has gone; EPROTO if it refused
  // a session (after reading every answer there was).
  Status TakeAnswers();
  // Every session the keeper holds (after the answers still due).
  Result<std::vector<HeldSession>> TakeBack();
  // Replaces the link with `other`'s (a new keeper's), thread-safely.
  void Replace(KeeperLink other);

 private:
  explicit KeeperLink(UniqueFd sock) : sock_(std::move(sock)) {}
  mutable std::mutex mu_;
  UniqueFd sock_;       // guarded by mu_
  size_t pending_ = 0;  // answers due, guarded by mu_
};

}  // namespace sealfs::serve

#endif  // SEALFS_FS_SERVE_KEEPER_H_
