// SPDX-License-Identifier: Apache-2.0
#include "fs/serve/servable.h"

#include <string>

#include "fs/remote/object_source.h"
#include "fs/remote/registry_ref.h"

namespace sealfs::serve {

Status CheckServable(const fuse::MountOptions& options, uid_t caller_uid,
                     uid_t service_uid) {
  if (!options.user.empty() || !options.record.empty() || options.debug) {
    return Status::FromErrno(
        EOPNOTSUPP,
        "user=, record= and debug are not served by the service "
        "(-o standalone)");
  }
  if (options.remote.empty()) return Status();
  if (caller_uid != service_uid) {
    return Status::FromErrno(
        EPERM, "remote= is served only for the service's own user (uid " +
                   std::to_string(service_uid) + "), not uid " +
                   std::to_string(caller_uid) + " (-o standalone)");
  }
  // Opening a registry reads its index over the network: a registry down
  // at a hand-over would cost the mount.
  if (remote::IsDockerRef(options.remote)) {
    return Status::FromErrno(EOPNOTSUPP,
                             "remote=docker:// is not served by the service "
                             "(-o standalone)");
  }
  if (!remote::IsHttpSource(options.remote) &&
      !options.remote.starts_with('/')) {
    return Status::FromErrno(
        EINVAL, "remote=" + options.remote +
                    ": a directory must be an absolute path for the service");
  }
  if (options.prefetch == fuse::MountOptions::Prefetch::kList &&
      !options.prefetch_list.starts_with('/')) {
    return Status::FromErrno(EINVAL,
                             "prefetch=" + options.prefetch_list +
                                 ": must be an absolute path for the service");
  }
  return Status();
}

}  // namespace sealfs::serve
