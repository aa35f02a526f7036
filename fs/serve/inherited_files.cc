// SPDX-License-Identifier: Apache-2.0
// Listing /proc/self/fd and closing what statx places on a served mount.
#include "fs/serve/inherited_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <vector>

namespace sealfs::serve {
namespace {

// The id of the mount `fd` is on (as mountinfo numbers it), from the
// kernel's cache (AT_STATX_DONT_SYNC): no request reaches a FUSE server,
// which may be this very process, not serving yet. 0 if unknown.
uint64_t MountIdOf(int fd) {
  struct statx stx {};
  if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) !=
          0 ||
      (stx.stx_mask & STATX_MNT_ID) == 0) {
    return 0;
  }
  return stx.stx_mnt_id;
}

}  // namespace

int CloseInheritedFilesOn(std::span<const uint64_t> mount_ids) {
  if (mount_ids.empty()) return 0;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;  // no /proc: nothing known to close
  std::vector<int> fds;
  while (const dirent* e = readdir(dir)) {
    int fd = -1;
    const char* end = e->d_name + std::strlen(e->d_name);
    if (std::from_chars(e->d_name, end, fd).ptr == end && fd >= 3 &&
        fd != dirfd(dir)) {
      fds.push_back(fd);
    }
  }
  closedir(dir);
  int closed = 0;
  for (int fd : fds) {
    const uint64_t id = MountIdOf(fd);
    if (id != 0 && std::find(mount_ids.begin(), mount_ids.end(), id) !=
                       mount_ids.end()) {
      close(fd);
      ++closed;
    }
  }
  return closed;
}

}  // namespace sealfs::serve
