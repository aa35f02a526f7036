// SPDX-License-Identifier: Apache-2.0
// What a service that has sent its sessions to a successor (--replace)
// looks at to decide whether to stop or to serve on: a successor that
// took over put its socket file in place of this one's; one that failed
// (an older build refusing a record it cannot read, a crash) did not, and
// this service serves on once that process is gone, so that a connection
// never has two servers.
#ifndef SEALFS_FS_SERVE_HANDOVER_OUTCOME_H_
#define SEALFS_FS_SERVE_HANDOVER_OUTCOME_H_

#include <sys/types.h>

#include <string>

#include "sealfs/unique_fd.h"

namespace sealfs::serve {

// The file at `path` (not followed): device and inode, {0, 0} if none.
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileId&) const = default;
};
FileId FileIdOf(const std::string& path);

// A pidfd of the process at the other end of the connected `sock`
// (SO_PEERCRED), opened while the connection is up so that its pid
// cannot have been reused yet; invalid if there is none.
UniqueFd PeerPidfd(int sock);

// Waits up to `timeout_ms` for the process of `pidfd` to exit: true once
// it has (also: a zombie), false on time-out or an invalid `pidfd`.
bool WaitExited(int pidfd, int timeout_ms);

}  // namespace sealfs::serve

#endif  // SEALFS_FS_SERVE_HANDOVER_OUTCOME_H_
