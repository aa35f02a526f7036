// SPDX-License-Identifier: Apache-2.0
// libcap: keep four capabilities, drop the rest.
#include "fs/serve/caps.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <iterator>
#include <memory>
#include <string>
#include <type_traits>

#include <sys/capability.h>

namespace sealfs::serve {
namespace {

struct CapFree {
  void operator()(cap_t c) const { cap_free(c); }
};
using CapPtr = std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree>;

// CAP_SYS_ADMIN: unmount. CAP_DAC_READ_SEARCH: objects below any
// caller's store. CAP_SYS_CHROOT: setns(CLONE_NEWNS) into a caller's mount
// namespace, to unmount there. CAP_SYS_PTRACE: reading /proc/PID/ns/mnt
// and /proc/PID/root of a caller or of a process in its namespace, which
// the kernel allows a process with fewer capabilities than the target's
// only with it (namespaced_mount.h).
constexpr cap_value_t kKept[] = {CAP_SYS_ADMIN, CAP_DAC_READ_SEARCH,
                                 CAP_SYS_CHROOT, CAP_SYS_PTRACE};

constexpr int kKeptCount = static_cast<int>(std::size(kKept));

bool Kept(cap_value_t cap) {
  for (cap_value_t k : kKept) {
    if (k == cap) return true;
  }
  return false;
}

}  // namespace

Status DropServiceCapabilities() {
  if (geteuid() != 0) return Status();
  // A service started by one that dropped them already (an upgrade in
  // place) has them out of its bounding set, and no CAP_SETPCAP.
  for (cap_value_t cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (CAP_IS_SUPPORTED(cap) && !Kept(cap) && cap_get_bound(cap) == 1 &&
        cap_drop_bound(cap) != 0) {
      return ErrnoStatus("drop bounding capability " + std::to_string(cap));
    }
  }
  if (CAP_AMBIENT_SUPPORTED() && cap_reset_ambient() != 0) {
    return ErrnoStatus("reset ambient capabilities");
  }
  CapPtr caps(cap_init());
  if (caps == nullptr) return ErrnoStatus("cap_init");
  if (cap_set_flag(caps.get(), CAP_EFFECTIVE, kKeptCount, kKept, CAP_SET) !=
          0 ||
      cap_set_flag(caps.get(), CAP_PERMITTED, kKeptCount, kKept, CAP_SET) !=
          0 ||
      cap_set_proc(caps.get()) != 0) {
    return ErrnoStatus(
        "keeping CAP_SYS_ADMIN, CAP_DAC_READ_SEARCH, CAP_SYS_CHROOT and "
        "CAP_SYS_PTRACE");
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return ErrnoStatus("PR_SET_NO_NEW_PRIVS");
  }
  return Status();
}

}  // namespace sealfs::serve
