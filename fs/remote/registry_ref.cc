// SPDX-License-Identifier: Apache-2.0
// Reference parsing, after the grammar of distribution's reference package
// (path components [a-z0-9]+([._-]|__)..., tags \w[\w.-]{0,127}).
#include "fs/remote/registry_ref.h"

#include <cerrno>

namespace sealfs::remote {
namespace {

bool IsAlnumLower(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// One path component: alphanumerics joined by single separators ('.', '_',
// '__', or runs of '-').
bool IsPathComponent(std::string_view c) {
  if (c.empty() || !IsAlnumLower(c.front()) || !IsAlnumLower(c.back())) {
    return false;
  }
  for (size_t i = 0; i < c.size(); ++i) {
    if (IsAlnumLower(c[i])) continue;
    if (c[i] == '.' || c[i] == '-') {
      if (c[i] == '.' && !IsAlnumLower(c[i + 1])) return false;
      continue;
    }
    if (c[i] == '_') {
      if (c[i + 1] == '_') ++i;
      if (!IsAlnumLower(c[i + 1])) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool IsTag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '_';
    if (!word && (i == 0 || (c != '.' && c != '-'))) return false;
  }
  return true;
}

bool IsHost(std::string_view h) {
  if (h.empty() || h.size() > 255) return false;
  for (char c : h) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                    c == ':' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

Status Refuse(std::string_view spec, const std::string& why) {
  // Appended piece by piece: g++ 12 warns (-Wrestrict, wrongly) about the
  // same expression written with operator+.
  std::string message = "'";
  message.append(spec.substr(0, 300));
  message.append("': ");
  message.append(why);
  return Status::FromErrno(EINVAL, message);
}

}  // namespace

bool IsDockerRef(std::string_view spec) {
  return spec.starts_with(kDockerTransport);
}

std::string RegistryRef::api_host() const {
  return host == "docker.io" ? "registry-1.docker.io" : host;
}

std::string RegistryRef::ToString() const {
  std::string s = std::string(kDockerTransport) + host + "/" + repository;
  if (!digest.empty()) return s + "@" + digest;
  if (!tag.empty()) s += ":" + tag;
  return s;
}

Result<RegistryRef> ParseRegistryRef(std::string_view spec,
                                     bool need_reference) {
  if (!IsDockerRef(spec)) return Refuse(spec, "not a docker:// reference");
  std::string_view rest = spec.substr(kDockerTransport.size());
  RegistryRef ref;
  if (const size_t at = rest.find('@'); at != std::string_view::npos) {
    ref.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
    if (!ref.digest.starts_with("sha256:") || ref.digest.size() != 71 ||
        ref.digest.find_first_not_of("0123456789abcdef", 7) !=
            std::string::npos) {
      return Refuse(spec, "a digest is sha256:<64 lowercase hex>");
    }
  }
  // A tag follows the last ':' after the last '/' (a port's ':' comes
  // before the first '/').
  const size_t slash = rest.rfind('/');
  const size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos &&
      (slash == std::string_view::npos || colon > slash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!IsTag(ref.tag)) return Refuse(spec, "bad tag '" + ref.tag + "'");
  }
  const size_t first = rest.find('/');
  std::string_view host = first == std::string_view::npos
                              ? std::string_view()
                              : rest.substr(0, first);
  bool official = false;  // Docker Hub's "busybox" is "library/busybox"
  if (first != std::string_view::npos &&
      (host.find_first_of(".:") != std::string_view::npos ||
       host == "localhost")) {
    ref.host = std::string(host);
    rest = rest.substr(first + 1);
    if (!IsHost(ref.host)) return Refuse(spec, "bad host '" + ref.host + "'");
  } else {
    ref.host = "docker.io";
    official = rest.find('/') == std::string_view::npos;
  }
  ref.repository =
      official ? "library/" + std::string(rest) : std::string(rest);
  if (ref.repository.empty() || ref.repository.size() > 255) {
    return Refuse(spec, "no repository");
  }
  std::string_view path = ref.repository;
  while (true) {
    const size_t end = path.find('/');
    if (!IsPathComponent(path.substr(0, end))) {
      return Refuse(spec, "bad repository '" + ref.repository +
                              "' (lower-case letters, digits and . _ -)");
    }
    if (end == std::string_view::npos) break;
    path = path.substr(end + 1);
  }
  if (need_reference && ref.tag.empty() && ref.digest.empty()) {
    return Refuse(spec, "no :TAG or @DIGEST");
  }
  return ref;
}

}  // namespace sealfs::remote
