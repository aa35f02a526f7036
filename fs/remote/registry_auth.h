// SPDX-License-Identifier: Apache-2.0
// Registry authentication: credentials from the files podman, skopeo and
// docker keep them in (containers-auth.json(5)), the WWW-Authenticate
// challenges a registry answers 401 with, and the token server's answer in
// the Bearer flow (the distribution token spec). All of it is parsed as
// hostile input. Reentrant.
#ifndef SEALFS_FS_REMOTE_REGISTRY_AUTH_H_
#define SEALFS_FS_REMOTE_REGISTRY_AUTH_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sealfs/status.h"

namespace sealfs::remote {

struct Credentials {
  std::string username;
  std::string password;
  std::string source;  // the file they came from, for messages
};

// The auth files to look in, in order: `authfile` alone if given; else
// $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
// $HOME/.config/containers/auth.json, $HOME/.docker/config.json.
std::vector<std::string> AuthFiles(const std::string& authfile);

// The credentials an auth file's JSON holds for `repository` on `host`:
// the most specific of "host/repo/path", its parent namespaces and "host"
// (also "https://host", "http://host" and, for Docker Hub,
// "https://index.docker.io/v1/"), from an "auth" (base64 of user:password)
// or "username"/"password" entry. nullopt if none; kErrCorrupt for JSON or
// an entry that does not parse.
Result<std::optional<Credentials>> CredentialsFromJson(
    std::span<const uint8_t> json, const std::string& host,
    const std::string& repository);

// The first credentials for `host`/`repository` in `files` (a file that
// does not exist is skipped; one that cannot be parsed is an error).
Result<std::optional<Credentials>> FindCredentials(
    const std::vector<std::string>& files, const std::string& host,
    const std::string& repository);

// One challenge of a WWW-Authenticate header.
struct AuthChallenge {
  std::string scheme;  // lower case: "basic", "bearer", ...
  std::map<std::string, std::string> params;  // keys lower case
};

// Parses a WWW-Authenticate value (RFC 7235: a scheme, then key=value or
// key="quoted value" pairs). Only the first challenge is kept. kErrCorrupt
// for one that does not parse.
Result<AuthChallenge> ParseChallenge(std::string_view header);

// The token in a token server's JSON answer ("token", or "access_token"),
// and how long it lives ("expires_in" seconds; 60 when absent, as the spec
// says). kErrCorrupt if there is none.
struct BearerToken {
  std::string token;
  uint64_t expires_in_s = 60;
};
Result<BearerToken> ParseTokenResponse(std::span<const uint8_t> json);

// RFC 4648 base64, with padding.
std::string Base64Encode(std::string_view bytes);
// Decodes base64 with or without padding; nullopt for anything else.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_REGISTRY_AUTH_H_
