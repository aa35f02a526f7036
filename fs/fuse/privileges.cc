// SPDX-License-Identifier: Apache-2.0
// libcap-based privilege drop for the mounted daemon.
#include "fs/fuse/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include <sys/capability.h>

namespace sealfs::fuse {
namespace {

struct CapFree {
  void operator()(cap_t c) const { cap_free(c); }
};
using CapPtr = std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree>;

bool HaveEffective(cap_value_t cap) {
  CapPtr caps(cap_get_proc());
  if (caps == nullptr) return false;
  cap_flag_value_t v = CAP_CLEAR;
  return cap_get_flag(caps.get(), cap, CAP_EFFECTIVE, &v) == 0 && v == CAP_SET;
}

Status FindUser(const std::string& user, std::vector<char>* buf,
                struct passwd* pw) {
  buf->resize(16384);
  struct passwd* found = nullptr;
  int err = getpwnam_r(user.c_str(), pw, buf->data(), buf->size(), &found);
  if (err != 0) return Status::FromErrno(err, "user " + user);
  if (found == nullptr) {
    return Status::FromErrno(ENOENT, "user " + user + ": no such user");
  }
  return Status();
}

Status SwitchUser(const std::string& user) {
  std::vector<char> buf;
  struct passwd pw {};
  SEALFS_RETURN_IF_ERROR(FindUser(user, &buf, &pw));
  if (initgroups(user.c_str(), pw.pw_gid) != 0) {
    return ErrnoStatus("user " + user + ": initgroups");
  }
  if (setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid) != 0) {
    return ErrnoStatus("user " + user + ": setgid");
  }
  if (setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid) != 0) {
    return ErrnoStatus("user " + user + ": setuid");
  }
  return Status();
}

}  // namespace

bool HoldsSysAdmin() { return HaveEffective(CAP_SYS_ADMIN); }

Status CheckUserExists(const std::string& user) {
  std::vector<char> buf;
  struct passwd pw {};
  return FindUser(user, &buf, &pw);
}

Status DropPrivileges(const std::string& user) {
  // The bounding set can only shrink while CAP_SETPCAP is held, so it goes
  // first; an unprivileged daemon has nothing to drop there.
  if (HaveEffective(CAP_SETPCAP)) {
    for (cap_value_t cap = 0; cap <= CAP_LAST_CAP; ++cap) {
      if (CAP_IS_SUPPORTED(cap) && cap_drop_bound(cap) != 0) {
        return ErrnoStatus("drop bounding capability " + std::to_string(cap));
      }
    }
  }
  if (CAP_AMBIENT_SUPPORTED() && cap_reset_ambient() != 0) {
    return ErrnoStatus("reset ambient capabilities");
  }
  if (!user.empty()) SEALFS_RETURN_IF_ERROR(SwitchUser(user));
  CapPtr none(cap_init());  // all three sets empty
  if (none == nullptr) return ErrnoStatus("cap_init");
  if (cap_set_proc(none.get()) != 0) return ErrnoStatus("clear capabilities");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return ErrnoStatus("PR_SET_NO_NEW_PRIVS");
  }
  return Status();
}

}  // namespace sealfs::fuse
