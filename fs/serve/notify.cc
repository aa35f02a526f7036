// SPDX-License-Identifier: Apache-2.0
// sd_notify without libsystemd.
#include "fs/serve/notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "sealfs/unique_fd.h"

namespace sealfs::serve {

bool NotifySystemd(std::string_view state) {
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
  const auto len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  return sendto(sock.get(), state.data(), state.size(), MSG_NOSIGNAL,
                reinterpret_cast<sockaddr*>(&addr),
                len) == static_cast<ssize_t>(state.size());
}

}  // namespace sealfs::serve
