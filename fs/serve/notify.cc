// SPDX-License-Identifier: Apache-2.0
// sd_notify without libsystemd.
#include "fs/serve/notify.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sealfs/unique_fd.h"

namespace sealfs::serve {
namespace {

constexpr int kSendTimeoutS = 2;

}  // namespace

bool NotifySystemd(std::string_view state, std::span<const int> fds) {
  const char* env =
      std::getenv("NOTIFY_SOCKET");  // NOLINT(concurrency-mt-unsafe)
  if (env == nullptr || *env == '\0') return true;
  std::string path = env;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if ((path[0] != '/' && path[0] != '@') ||
      path.size() >= sizeof(addr.sun_path)) {
    return false;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  UniqueFd sock(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return false;
  // A manager that does not read (its queue holds only a few datagrams)
  // must not stall the caller for ever.
  timeval timeout{kSendTimeoutS, 0};
  (void)setsockopt(sock.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout,
                   sizeof(timeout));
  const auto len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  iovec iov{const_cast<char*>(state.data()), state.size()};
  msghdr msg{};
  msg.msg_name = &addr;
  msg.msg_namelen = len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.resize(CMSG_SPACE(sizeof(int) * fds.size()));
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  return sendmsg(sock.get(), &msg, MSG_NOSIGNAL) ==
         static_cast<ssize_t>(state.size());
}

}  // namespace sealfs::serve
