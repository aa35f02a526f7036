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
// beside the socket.
Status RunKeeper(const std::string& path);

struct HeldSession {
  SessionRecord record;
  std::vector<UniqueFd> fds;  // /dev/fuse, image, store
};

class KeeperLink {
 public:
  // Connects to the keeper at `path`, starting one (`exe` serve --keeper)
  // if none answers.
  static Result<KeeperLink> ConnectOrStart(const std::string& path,
                                           const std::string& exe);
  KeeperLink() = default;
  KeeperLink(KeeperLink&& other) noexcept : sock_(std::move(other.sock_)) {}
  KeeperLink& operator=(KeeperLink&& other) noexcept {
    sock_ = std::move(other.sock_);
    return *this;
  }

  bool connected() const { return sock_.valid(); }
  // Hands the keeper a copy of a session's descriptors (fuse, image, store).
  Status Keep(const SessionRecord& record, std::span<const int> fds);
  // The session has ended: the keeper closes its copies.
  Status Drop(uint64_t id);
  // Every session the keeper holds.
  Result<std::vector<HeldSession>> TakeBack();

 private:
  explicit KeeperLink(UniqueFd sock) : sock_(std::move(sock)) {}
  std::mutex mu_;
  UniqueFd sock_;
};

}  // namespace sealfs::serve

#endif  // SEALFS_FS_SERVE_KEEPER_H_
