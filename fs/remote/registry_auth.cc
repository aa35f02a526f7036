// SPDX-License-Identifier: Apache-2.0
// Auth files, challenges and token answers.
#include "fs/remote/registry_auth.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "fs/util/io.h"
#include <nlohmann/json.hpp>

namespace sealfs::remote {
namespace {

using Json = nlohmann::json;

// Auth files and token answers are small; anything larger is refused
// before it is read.
constexpr uint64_t kMaxAuthFileBytes = uint64_t{1} << 20;
constexpr uint64_t kMaxChallengeParams = 32;

constexpr char kBase64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// The credentials of one entry of "auths".
Result<std::optional<Credentials>> FromEntry(const Json& entry,
                                             const std::string& key) {
  if (!entry.is_object()) {
    return Status::Corrupt("auths[\"" + key + "\"] is not an object");
  }
  auto auth = entry.find("auth");
  if (auth != entry.end() && auth->is_string() &&
      !auth->get_ptr<const std::string*>()->empty()) {
    std::optional<std::string> decoded =
        Base64Decode(*auth->get_ptr<const std::string*>());
    const size_t colon =
        decoded.has_value() ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) {
      return Status::Corrupt("auths[\"" + key +
                             "\"].auth is not base64 of user:password");
    }
    return std::optional<Credentials>(
        Credentials{decoded->substr(0, colon), decoded->substr(colon + 1), ""});
  }
  auto user = entry.find("username");
  auto pass = entry.find("password");
  if (user != entry.end() && pass != entry.end() && user->is_string() &&
      pass->is_string()) {
    return std::optional<Credentials>(
        Credentials{user->get<std::string>(), pass->get<std::string>(), ""});
  }
  return std::optional<Credentials>();  // e.g. an identitytoken only
}

}  // namespace

std::vector<std::string> AuthFiles(const std::string& authfile) {
  if (!authfile.empty()) return {authfile};
  std::vector<std::string> files;
  // NOLINTBEGIN(concurrency-mt-unsafe): read before threads start.
  if (const char* f = std::getenv("REGISTRY_AUTH_FILE"); f && *f) {
    files.emplace_back(f);
  }
  if (const char* r = std::getenv("XDG_RUNTIME_DIR"); r && *r) {
    files.push_back(std::string(r) + "/containers/auth.json");
  }
  if (const char* h = std::getenv("HOME"); h && *h) {
    files.push_back(std::string(h) + "/.config/containers/auth.json");
    files.push_back(std::string(h) + "/.docker/config.json");
  }
  // NOLINTEND(concurrency-mt-unsafe)
  return files;
}

Result<std::optional<Credentials>> CredentialsFromJson(
    std::span<const uint8_t> bytes, const std::string& host,
    const std::string& repository) {
  Json j = Json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Corrupt("not a JSON object");
  }
  auto auths = j.find("auths");
  if (auths == j.end()) return std::optional<Credentials>();
  if (!auths->is_object()) return Status::Corrupt("\"auths\" is not an object");
  // Most specific first: host/a/b/c, host/a/b, host/a, then the host.
  std::vector<std::string> keys;
  std::string path = host + "/" + repository;
  while (true) {
    keys.push_back(path);
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos || slash < host.size()) break;
    path.resize(slash);
  }
  keys.push_back(host);
  keys.push_back("https://" + host);
  keys.push_back("http://" + host);
  if (host == "docker.io") keys.push_back("https://index.docker.io/v1/");
  for (const std::string& key : keys) {
    auto entry = auths->find(key);
    if (entry == auths->end()) continue;
    SEALFS_ASSIGN_OR_RETURN(std::optional<Credentials> found,
                            FromEntry(*entry, key));
    if (found.has_value()) return found;
  }
  return std::optional<Credentials>();
}

Result<std::optional<Credentials>> FindCredentials(
    const std::vector<std::string>& files, const std::string& host,
    const std::string& repository) {
  for (const std::string& file : files) {
    Result<std::vector<uint8_t>> bytes = ReadFileBytes(file, kMaxAuthFileBytes);
    if (!bytes.ok()) {
      if (bytes.status().err() == ENOENT) continue;
      return bytes.status().WithPrefix("auth file " + file);
    }
    Result<std::optional<Credentials>> found =
        CredentialsFromJson(*bytes, host, repository);
    if (!found.ok()) return found.status().WithPrefix("auth file " + file);
    if (found->has_value()) {
      (*found)->source = file;
      return found;
    }
  }
  return std::optional<Credentials>();
}

Result<AuthChallenge> ParseChallenge(std::string_view h) {
  auto bad = [&](const std::string& why) {
    return Status::Corrupt("WWW-Authenticate '" +
                           std::string(h.substr(0, 200)) + "': " + why);
  };
  size_t i = 0;
  auto skip_space = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
  };
  auto token = [&] {
    const size_t start = i;
    while (i < h.size() && h[i] != ' ' && h[i] != '\t' && h[i] != '=' &&
           h[i] != ',' && h[i] != '"') {
      ++i;
    }
    return h.substr(start, i - start);
  };
  skip_space();
  AuthChallenge c;
  c.scheme = Lower(token());
  if (c.scheme.empty()) return bad("no scheme");
  skip_space();
  while (i < h.size()) {
    const std::string key = Lower(token());
    if (key.empty()) return bad("expected a parameter");
    skip_space();
    if (i >= h.size() || h[i] != '=') {
      // A second challenge ("Basic realm=..., Bearer ..."): keep the first.
      break;
    }
    ++i;
    skip_space();
    std::string value;
    if (i < h.size() && h[i] == '"') {
      ++i;
      while (i < h.size() && h[i] != '"') {
        if (h[i] == '\\' && i + 1 < h.size()) ++i;
        value.push_back(h[i++]);
      }
      if (i >= h.size()) return bad("unterminated quoted string");
      ++i;
    } else {
      value = std::string(token());
    }
    if (c.params.size() >= kMaxChallengeParams)
      return bad("too many parameters");
    c.params[key] = value;
    skip_space();
    if (i < h.size() && h[i] == ',') {
      ++i;
      skip_space();
    }
  }
  return c;
}

Result<BearerToken> ParseTokenResponse(std::span<const uint8_t> bytes) {
  Json j = Json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Corrupt("token answer is not a JSON object");
  }
  BearerToken t;
  for (const char* key : {"token", "access_token"}) {
    auto it = j.find(key);
    if (it != j.end() && it->is_string() &&
        !it->get_ptr<const std::string*>()->empty()) {
      t.token = it->get<std::string>();
      break;
    }
  }
  if (t.token.empty()) return Status::Corrupt("token answer has no token");
  // A header value: no line breaks.
  if (t.token.find_first_of("\r\n") != std::string::npos) {
    return Status::Corrupt("token answer's token has a line break");
  }
  auto expires = j.find("expires_in");
  if (expires != j.end() && expires->is_number_unsigned()) {
    t.expires_in_s = std::max<uint64_t>(expires->get<uint64_t>(), 1);
  }
  return t;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(kBase64[(n >> 18) & 63]);
    out.push_back(kBase64[(n >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kBase64[(n >> 6) & 63] : '=');
    out.push_back(i + 2 < bytes.size() ? kBase64[n & 63] : '=');
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string out;
  uint32_t bits = 0;
  int have = 0;
  for (char c : text) {
    const char* at = std::char_traits<char>::find(kBase64, 64, c);
    if (at == nullptr) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(at - kBase64);
    have += 6;
    if (have >= 8) {
      have -= 8;
      out.push_back(static_cast<char>((bits >> have) & 0xff));
    }
  }
  if (have >= 6) return std::nullopt;  // a lone sextet is no byte
  return out;
}

}  // namespace sealfs::remote
