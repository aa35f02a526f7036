// SPDX-License-Identifier: Apache-2.0
// Unix SOCK_SEQPACKET sockets carrying control messages and descriptors.
#include "fs/serve/channel.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace sealfs::serve {
namespace {

Result<sockaddr_un> Address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return Status::FromErrno(ENAMETOOLONG, path + ": socket path too long");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

Result<std::string> DefaultSocketPath() {
  const char* env =
      std::getenv("SEALFS_SERVE_SOCKET");  // NOLINT(concurrency-mt-unsafe)
  if (env != nullptr && *env != '\0') return std::string(env);
  if (geteuid() == 0) return std::string("/run/sealfs/serve.sock");
  const char* run =
      std::getenv("XDG_RUNTIME_DIR");  // NOLINT(concurrency-mt-unsafe)
  if (run == nullptr || *run == '\0') {
    return Status::FromErrno(ENOENT, "XDG_RUNTIME_DIR is not set");
  }
  return std::string(run) + "/sealfs/serve.sock";
}

std::string KeeperSocketPath(const std::string& socket_path) {
  return Dirname(socket_path) + "/keeper.sock";
}

Result<UniqueFd> Listen(const std::string& path) {
  SEALFS_ASSIGN_OR_RETURN(sockaddr_un addr, Address(path));
  std::string dir = Dirname(path);
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoStatus(dir);
  }
  UniqueFd sock(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return ErrnoStatus("socket");
  if (bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EADDRINUSE) return ErrnoStatus(path);
    // Left by a process that is gone? Only replace it if nobody answers.
    Result<UniqueFd> live = Connect(path);
    if (live.ok()) {
      return Status::FromErrno(EADDRINUSE,
                               path + ": a service is already listening");
    }
    if (unlink(path.c_str()) != 0) return ErrnoStatus(path);
    if (bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) !=
        0) {
      return ErrnoStatus(path);
    }
  }
  if (chmod(path.c_str(), 0666) != 0) return ErrnoStatus(path);
  if (listen(sock.get(), 64) != 0) return ErrnoStatus("listen");
  return sock;
}

Result<UniqueFd> Connect(const std::string& path) {
  SEALFS_ASSIGN_OR_RETURN(sockaddr_un addr, Address(path));
  UniqueFd sock(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return ErrnoStatus("socket");
  if (connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) !=
      0) {
    return ErrnoStatus(path);
  }
  return sock;
}

Status Send(int sock, const Message& m, std::span<const int> fds) {
  std::vector<uint8_t> bytes = EncodeMessage(m);
  if (bytes.size() > kMaxMessageBytes || fds.size() > kMaxFds) {
    return Status::FromErrno(EMSGSIZE, "control message too large");
  }
  iovec iov{bytes.data(), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("sending a control message");
    return Status();
  }
}

Result<Received> Receive(int sock) {
  // Not zeroed: the kernel writes what is read, and only those pages are
  // touched (a zeroed 64 KiB cost every call 17 page faults).
  constexpr size_t kBufBytes = kMaxMessageBytes + 1;
  auto buf = std::make_unique_for_overwrite<uint8_t[]>(kBufBytes);
  iovec iov{buf.get(), kBufBytes};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * (kMaxFds + 1))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoStatus("receiving a control message");
  Received r;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      r.fds.emplace_back(fd);
    }
  }
  if (n == 0) return Status::FromErrno(ECONNRESET, "the peer has gone");
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 ||
      static_cast<size_t>(n) > kMaxMessageBytes) {
    return Status::FromErrno(EPROTO, "control message: too large");
  }
  if (r.fds.size() > kMaxFds) {
    return Status::FromErrno(EPROTO, "control message: too many fds");
  }
  SEALFS_ASSIGN_OR_RETURN(r.message,
                          ParseMessage({buf.get(), static_cast<size_t>(n)}));
  return r;
}

Result<Received> Call(int sock, const Message& m, std::span<const int> fds) {
  SEALFS_RETURN_IF_ERROR(Send(sock, m, fds));
  return Receive(sock);
}

Result<PeerCred> GetPeerCred(int sock) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return ErrnoStatus("SO_PEERCRED");
  }
  return PeerCred{cred.pid, cred.uid, cred.gid};
}

void SetTimeout(int sock, int seconds) {
  timeval tv{seconds, 0};
  (void)setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  (void)setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

}  // namespace sealfs::serve
