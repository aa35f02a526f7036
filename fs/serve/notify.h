// SPDX-License-Identifier: Apache-2.0
// systemd's readiness notification (sd_notify(3)), written by hand: one
// datagram to $NOTIFY_SOCKET. Not worth a dependency on libsystemd for
// one sendmsg, and a static binary stays static. Reentrant.
#ifndef SEALFS_FS_SERVE_NOTIFY_H_
#define SEALFS_FS_SERVE_NOTIFY_H_

#include <span>
#include <string_view>

namespace sealfs::serve {

// Sends `state` ("READY=1", "STOPPING=1", ...) if $NOTIFY_SOCKET is set
// (a path, or "@name" for the abstract namespace). Returns false if it
// is set and the send failed; true otherwise.
// With `fds`, they go along (SCM_RIGHTS), as FDSTORE=1 wants them.
bool NotifySystemd(std::string_view state, std::span<const int> fds = {});

}  // namespace sealfs::serve

#endif  // SEALFS_FS_SERVE_NOTIFY_H_
