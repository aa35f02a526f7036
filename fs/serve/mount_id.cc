// SPDX-License-Identifier: Apache-2.0
#include "fs/serve/mount_id.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>

namespace sealfs::serve {
namespace {

// Newer than the headers built against (Debian 12's describe Linux 6.1).
constexpr unsigned kStatxMntIdUnique = 0x4000;

}  // namespace

std::optional<MountOf> StatMount(int dir, const char* name, int flags,
                                 bool old_id) {
  flags |= AT_STATX_DONT_SYNC;
  struct statx stx {};
  // An older kernel ignores the bit it does not know, and gives the old id.
  int rc = statx(dir, name, flags, old_id ? 0 : kStatxMntIdUnique, &stx);
  if (rc != 0 && errno == EACCES && !old_id) {
    rc = statx(dir, name, flags, 0, &stx);
  }
  if (rc != 0 || (stx.stx_mask & (STATX_MNT_ID | kStatxMntIdUnique)) == 0) {
    return std::nullopt;
  }
  MountOf m;
  m.id = stx.stx_mnt_id;
  m.dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
  m.mount_root = (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0 &&
                 (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  return m;
}

}  // namespace sealfs::serve
