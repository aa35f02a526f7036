// SPDX-License-Identifier: Apache-2.0
#include "fs/serve/servable.h"

#include <string>

#include "fs/remote/object_source.h"
#include "fs/remote/registry_ref.h"

namespace sealfs::serve {
namespace {

Status MustBeAbsolute(const std::string& option, const std::string& path) {
  if (path.empty() || path.starts_with('/')) return Status();
  return Status::FromErrno(EINVAL, option + "=" + path +
                                       ": must be an absolute path for the "
                                       "service");
}

}  // namespace

Status CheckServable(const fuse::MountOptions& options, bool from_registry,
                     uid_t caller_uid, uid_t service_uid) {
  if (!options.user.empty() || !options.record.empty() || options.debug) {
    return Status::FromErrno(
        EOPNOTSUPP,
        "user=, record= and debug are not served by the service "
        "(-o standalone)");
  }
  if (options.remote.empty() && !from_registry) return Status();
  if (caller_uid != service_uid) {
    return Status::FromErrno(
        EPERM, std::string(from_registry ? "docker:// images are" : "remote= is") +
                   " served only for the service's own user (uid " +
                   std::to_string(service_uid) + "), not uid " +
                   std::to_string(caller_uid) + " (-o standalone)");
  }
  if (!options.remote.empty() && !remote::IsHttpSource(options.remote) &&
      !remote::IsDockerRef(options.remote)) {
    SEALFS_RETURN_IF_ERROR(MustBeAbsolute("remote", options.remote));
  }
  if (options.prefetch == fuse::MountOptions::Prefetch::kList) {
    SEALFS_RETURN_IF_ERROR(MustBeAbsolute("prefetch", options.prefetch_list));
  }
  SEALFS_RETURN_IF_ERROR(MustBeAbsolute("authfile", options.authfile));
  return MustBeAbsolute("cert_dir", options.cert_dir);
}

}  // namespace sealfs::serve
