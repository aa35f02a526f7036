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
#include <optional>
#include <vector>

#include "fs/serve/mount_id.h"

namespace sealfs::serve {
namespace {

// Whether `fd` is on one of the mounts `ids` (as session records hold
// them: either kind of id, mount_id.h).
bool OnOneOf(int fd, std::span<const uint64_t> ids) {
  for (bool old_id : {false, true}) {
    std::optional<MountOf> m = StatMount(fd, "", AT_EMPTY_PATH, old_id);
    if (m.has_value() && m->id != 0 &&
        std::find(ids.begin(), ids.end(), m->id) != ids.end()) {
      return true;
    }
  }
  return false;
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
    if (OnOneOf(fd, mount_ids)) {
      close(fd);
      ++closed;
    }
  }
  return closed;
}

}  // namespace sealfs::serve
