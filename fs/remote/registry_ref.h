// SPDX-License-Identifier: Apache-2.0
// Image references in skopeo's `docker://` transport syntax:
// docker://HOST[:PORT]/REPOSITORY[:TAG|@sha256:HEX]. A reference whose first
// component is not a host (no '.' or ':', not "localhost") names Docker Hub,
// as docker and skopeo read it. Reentrant.
#ifndef SEALFS_FS_REMOTE_REGISTRY_REF_H_
#define SEALFS_FS_REMOTE_REGISTRY_REF_H_

#include <string>
#include <string_view>

#include "sealfs/status.h"

namespace sealfs::remote {

inline constexpr std::string_view kDockerTransport = "docker://";

struct RegistryRef {
  std::string host;        // "registry.example:5000"; "docker.io" for Hub
  std::string repository;  // "team/app"
  std::string tag;         // empty if none
  std::string digest;      // "sha256:<hex>" if given by digest, else empty

  // The host to connect to (Docker Hub's API lives elsewhere).
  std::string api_host() const;
  // What to ask /v2/<repo>/manifests/ for: the digest, else the tag.
  std::string reference() const { return digest.empty() ? tag : digest; }
  // "docker://host/repo:tag" (or @digest), for messages.
  std::string ToString() const;
};

// Whether `spec` is a docker:// reference.
bool IsDockerRef(std::string_view spec);

// Parses `spec`. EINVAL, saying which part is wrong, for anything that is
// not a reference; with `need_reference`, also for one without a tag or
// digest.
Result<RegistryRef> ParseRegistryRef(std::string_view spec,
                                     bool need_reference);

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_REGISTRY_REF_H_
