// SPDX-License-Identifier: Apache-2.0
// RegistryClient: the distribution API's calls, each one request (two when
// the first is answered 401 and credentials or a token can fix it).
#include "fs/remote/registry_client.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "fs/util/io.h"

namespace sealfs::remote {
namespace {

constexpr uint64_t kMaxSmallReply = uint64_t{1} << 20;  // errors, tokens
// A token this close to its expiry is renewed before a request.
constexpr auto kTokenMargin = std::chrono::seconds(10);
// The system's CA bundle (Debian's ca-certificates), which --cert-dir's
// certificates are added to.
constexpr char kSystemCaBundle[] = "/etc/ssl/certs/ca-certificates.crt";

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                      c == '.' || c == '~';
    if (keep) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[static_cast<uint8_t>(c) >> 4]);
      out.push_back(kHex[static_cast<uint8_t>(c) & 15]);
    }
  }
  return out;
}

// The system CAs followed by every *.crt in `dir`, as one PEM blob.
Result<std::string> LoadCaBundle(const std::string& dir) {
  std::string pem;
  Result<std::vector<uint8_t>> system = ReadFileBytes(kSystemCaBundle);
  if (system.ok()) pem.assign(system->begin(), system->end());
  std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir.c_str()), closedir);
  if (d == nullptr) return ErrnoStatus("--cert-dir " + dir);
  std::vector<std::string> names;
  while (dirent* e = readdir(d.get())) {
    const std::string name = e->d_name;
    if (name.size() > 4 && name.ends_with(".crt")) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    SEALFS_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes,
                            ReadFileBytes(dir + "/" + name, kMaxSmallReply));
    pem.append("\n");
    pem.append(bytes.begin(), bytes.end());
  }
  return pem;
}

std::string Text(const std::vector<uint8_t>& body) {
  std::string s(body.begin(),
                body.begin() +
                    static_cast<ptrdiff_t>(std::min<size_t>(body.size(), 200)));
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

// The Status for an answer that is not the one wanted.
Status Unexpected(const HttpEngine::Reply& reply, const std::string& what,
                  const std::string& url) {
  Status st = HttpStatusError(reply.response, what, url);
  if (reply.body.empty()) return st;
  return Status::FromErrno(st.err(), st.context() + ": " + Text(reply.body));
}

}  // namespace

RegistryClient::RegistryClient(RegistryRef ref, RegistryOptions options,
                               std::string ca_pem)
    : ref_(std::move(ref)),
      options_(std::move(options)),
      ca_pem_(std::move(ca_pem)) {}

Status RegistryClient::MakeEngine() {
  HttpEngineOptions o;
  o.limits = options_.limits;
  o.max_connections = options_.connections;
  o.tls_verify = options_.tls_verify;
  o.ca_pem = ca_pem_;
  SEALFS_ASSIGN_OR_RETURN(std::shared_ptr<HttpEngine> engine,
                          HttpEngine::Create(o));
  std::lock_guard lock(mu_);
  engine_ = std::move(engine);
  return {};
}

Result<std::shared_ptr<RegistryClient>> RegistryClient::Open(
    const RegistryRef& ref, const RegistryOptions& options) {
  std::string ca_pem;
  if (!options.cert_dir.empty()) {
    SEALFS_ASSIGN_OR_RETURN(ca_pem, LoadCaBundle(options.cert_dir));
  }
  std::shared_ptr<RegistryClient> client(
      new RegistryClient(ref, options, std::move(ca_pem)));
  SEALFS_RETURN_IF_ERROR(client->MakeEngine());
  // Which scheme: https, or (only with TLS verification off, as skopeo
  // does) plain http when https cannot be had.
  std::vector<std::string> schemes = {"https://"};
  if (!options.tls_verify) schemes.push_back("http://");
  Status last;
  for (const std::string& scheme : schemes) {
    client->base_ = scheme + ref.api_host();
    HttpRequest probe;
    probe.url = client->base_ + "/v2/";
    probe.max_body = kMaxSmallReply;
    probe.priority = Priority::kUrgent;
    Result<HttpEngine::Reply> reply =
        client->engine_->Fetch(std::move(probe), true);
    if (!reply.ok()) {
      last = reply.status();
      continue;
    }
    const long code = reply->response.code;
    if (code == 200 || code == 401) return client;
    return Status::FromErrno(EIO, client->base_ +
                                      "/v2/: not an OCI registry (HTTP " +
                                      std::to_string(code) + ")");
  }
  return last.WithPrefix("registry " + ref.host);
}

std::string RegistryClient::Path(const std::string& tail) const {
  return "/v2/" + ref_.repository + tail;
}

std::string RegistryClient::BlobUrl(const Digest& digest) const {
  return base_ + Path("/blobs/" + OciDigest(digest));
}

std::string RegistryClient::AuthorizationHeader() {
  std::lock_guard lock(mu_);
  return authorization_;
}

Result<HttpEngine::Reply> RegistryClient::Call(HttpRequest request,
                                               const BodyFactory& body) {
  if (request.url.starts_with("/")) request.url = base_ + request.url;
  if (request.max_body == 0) request.max_body = kMaxSmallReply;
  for (int attempt = 0;; ++attempt) {
    HttpRequest sent = request;
    if (body) sent.body = body();
    const std::string auth = AuthorizationHeader();
    if (!auth.empty()) sent.headers.push_back(auth);
    std::shared_ptr<HttpEngine> engine;
    {
      std::lock_guard lock(mu_);
      engine = engine_;
    }
    SEALFS_ASSIGN_OR_RETURN(HttpEngine::Reply reply,
                            engine->Fetch(std::move(sent), true));
    if (reply.response.code == 401 && attempt > 0) {
      std::lock_guard lock(mu_);
      return Status::FromErrno(
          EACCES, "registry " + ref_.host + " refused " +
                      (credentials_.has_value()
                           ? "the credentials from " + credentials_->source
                           : std::string("access without credentials")));
    }
    if (reply.response.code != 401) return reply;
    SEALFS_RETURN_IF_ERROR(Authenticate(reply.response, auth));
  }
}

Status RegistryClient::Authenticate(const HttpResponse& unauthorized,
                                    const std::string& sent) {
  const std::string what = "registry " + ref_.host;
  const std::string_view header = unauthorized.Header("www-authenticate");
  if (header.empty()) {
    return Status::FromErrno(EACCES,
                             what + ": access denied (HTTP 401, no challenge)");
  }
  SEALFS_ASSIGN_OR_RETURN(AuthChallenge challenge, ParseChallenge(header));
  std::unique_lock lock(mu_);
  if (!credentials_looked_up_) {
    // Under the lock: another thread must not see "looked up, none".
    Result<std::optional<Credentials>> found = FindCredentials(
        AuthFiles(options_.authfile), ref_.host, ref_.repository);
    if (!found.ok()) return found.status();
    credentials_ = *found;
    credentials_looked_up_ = true;
  }
  if (authorization_ != sent && !authorization_.empty()) {
    // Another request authenticated meanwhile: try with that first.
    if (challenge.scheme != "bearer" || !challenge.params.contains("scope") ||
        scopes_.contains(challenge.params["scope"])) {
      return {};
    }
  }
  if (challenge.scheme == "basic") {
    if (!credentials_.has_value()) {
      return Status::FromErrno(EACCES, what +
                                           " asks for credentials, and "
                                           "none were found for it "
                                           "(--authfile, auth.json)");
    }
    const std::string basic =
        "Authorization: Basic " +
        Base64Encode(credentials_->username + ":" + credentials_->password);
    if (sent == basic) {
      return Status::FromErrno(EACCES, what + " refused the credentials from " +
                                           credentials_->source);
    }
    authorization_ = basic;
    return {};
  }
  if (challenge.scheme != "bearer") {
    return Status::FromErrno(EACCES, what + ": unsupported authentication '" +
                                         challenge.scheme + "'");
  }
  const std::string& realm = challenge.params["realm"];
  if (!realm.starts_with("https://") && !realm.starts_with("http://")) {
    return Status::FromErrno(
        EACCES, what + ": bad token realm '" + realm.substr(0, 200) + "'");
  }
  const size_t before = scopes_.size();
  if (challenge.params.contains("scope")) {
    scopes_.insert(challenge.params["scope"]);
  } else {
    scopes_.insert("repository:" + ref_.repository + ":pull");
  }
  if (bearer_["realm"] == realm && scopes_.size() == before && !sent.empty() &&
      sent == authorization_) {
    // The same scopes again: the token was refused, not too narrow.
    return Status::FromErrno(
        EACCES, what + " refused the token for " + *scopes_.begin());
  }
  bearer_ = {{"realm", realm}, {"service", challenge.params["service"]}};
  lock.unlock();
  return FetchToken();
}

Status RegistryClient::FetchToken() {
  std::unique_lock lock(mu_);
  std::string url = bearer_["realm"];
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  if (!bearer_["service"].empty()) {
    url += sep + std::string("service=") + PercentEncode(bearer_["service"]);
    sep = '&';
  }
  for (const std::string& scope : scopes_) {
    url += sep + std::string("scope=") + PercentEncode(scope);
    sep = '&';
  }
  HttpRequest request;
  request.url = url;
  request.max_body = kMaxSmallReply;
  request.priority = Priority::kUrgent;
  if (credentials_.has_value()) {
    request.headers.push_back(
        "Authorization: Basic " +
        Base64Encode(credentials_->username + ":" + credentials_->password));
  }
  std::shared_ptr<HttpEngine> engine = engine_;
  lock.unlock();
  SEALFS_ASSIGN_OR_RETURN(HttpEngine::Reply reply,
                          engine->Fetch(std::move(request), true));
  if (reply.response.code != 200) {
    Status st = Unexpected(reply, "token", bearer_["realm"]);
    return Status::FromErrno(reply.response.code == 401 ? EACCES : st.err(),
                             "registry " + ref_.host + ": " + st.context());
  }
  SEALFS_ASSIGN_OR_RETURN(BearerToken token, ParseTokenResponse(reply.body));
  lock.lock();
  authorization_ = "Authorization: Bearer " + token.token;
  token_expiry_ = std::chrono::steady_clock::now() +
                  std::chrono::seconds(token.expires_in_s);
  return {};
}

void RegistryClient::CredentialsExpired() {
  std::lock_guard lock(mu_);
  if (!bearer_.empty()) token_expiry_ = std::chrono::steady_clock::now();
}

std::shared_ptr<HttpTicket> RegistryClient::Submit(
    HttpRequest request, std::shared_ptr<HttpSink> sink) {
  std::shared_ptr<HttpEngine> engine;
  bool renew = false;
  {
    std::lock_guard lock(mu_);
    engine = engine_;
    renew = !bearer_.empty() &&
            std::chrono::steady_clock::now() + kTokenMargin >= token_expiry_;
  }
  // On the engine's thread a renewal would wait for itself: the request
  // goes with the old token, and a 401 renews it for the next one.
  if (renew && !engine->OnEngineThread()) (void)FetchToken();
  const std::string auth = AuthorizationHeader();
  if (!auth.empty()) request.headers.push_back(auth);
  return engine->Submit(std::move(request), std::move(sink));
}

void RegistryClient::Quiesce() {
  std::shared_ptr<HttpEngine> old;
  {
    std::lock_guard lock(mu_);
    old = std::move(engine_);
  }
  old.reset();  // joins its thread once no transfer holds it
  (void)MakeEngine();
}

HttpEngineStats RegistryClient::stats() const {
  std::lock_guard lock(mu_);
  return engine_ != nullptr ? engine_->stats() : HttpEngineStats{};
}

Result<std::vector<uint8_t>> RegistryClient::GetManifest(
    const std::string& reference) {
  HttpRequest request;
  request.url = Path("/manifests/" + reference);
  request.max_body = kMaxOciManifestBytes;
  request.priority = Priority::kUrgent;
  request.headers.push_back(std::string("Accept: ") + kOciManifestMediaType);
  const std::string what = "manifest " + ref_.repository + ":" + reference;
  SEALFS_ASSIGN_OR_RETURN(HttpEngine::Reply reply, Call(std::move(request)));
  if (reply.response.code != 200) {
    return Unexpected(reply, what, base_);
  }
  if (reference.starts_with("sha256:") &&
      OciDigest(BlobDigest(reply.body)) != reference) {
    return Status::FromErrno(kErrDigest, what +
                                             ": the registry served "
                                             "other bytes");
  }
  return std::move(reply.body);
}

Result<RegistryClient::TypedManifest> RegistryClient::GetAnyManifest(
    const std::string& reference) {
  HttpRequest request;
  request.url = Path("/manifests/" + reference);
  request.max_body = kMaxOciManifestBytes;
  request.priority = Priority::kUrgent;
  // Without the Docker types in Accept, registries convert schema 2
  // manifests to schema 1 (or refuse); without the index types, they pick
  // a platform themselves.
  for (const char* type :
       {kOciManifestMediaType, kOciIndexMediaType,
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json"}) {
    request.headers.push_back(std::string("Accept: ") + type);
  }
  const std::string what = "manifest " + ref_.repository + ":" + reference;
  SEALFS_ASSIGN_OR_RETURN(HttpEngine::Reply reply, Call(std::move(request)));
  if (reply.response.code != 200) return Unexpected(reply, what, base_);
  TypedManifest out;
  std::string_view type = reply.response.Header("content-type");
  type = type.substr(0, type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) {
    type.remove_suffix(1);
  }
  out.media_type = std::string(type);
  out.bytes = std::move(reply.body);
  return out;
}

Result<std::string> RegistryClient::PutManifest(const std::string& tag,
                                                const std::string& manifest) {
  HttpRequest request;
  request.method = HttpMethod::kPut;
  request.url = Path("/manifests/" + tag);
  request.headers.push_back(std::string("Content-Type: ") +
                            kOciManifestMediaType);
  SEALFS_ASSIGN_OR_RETURN(
      HttpEngine::Reply reply, Call(std::move(request), [&manifest] {
        return MemoryBody(
            std::vector<uint8_t>(manifest.begin(), manifest.end()));
      }));
  if (reply.response.code != 201 && reply.response.code != 200) {
    return Unexpected(reply, "manifest " + ref_.repository + ":" + tag, base_);
  }
  const std::string digest(reply.response.Header("docker-content-digest"));
  return digest.empty()
             ? OciDigest(BlobDigest(
                   {reinterpret_cast<const uint8_t*>(manifest.data()),
                    manifest.size()}))
             : digest;
}

Result<std::vector<uint8_t>> RegistryClient::GetBlob(
    const OciDescriptor& desc) {
  HttpRequest request;
  request.url = Path("/blobs/" + OciDigest(desc.digest));
  request.max_body = desc.size;
  request.priority = Priority::kUrgent;
  const std::string what = "blob " + OciDigest(desc.digest);
  SEALFS_ASSIGN_OR_RETURN(HttpEngine::Reply reply, Call(std::move(request)));
  if (reply.response.code != 200) return Unexpected(reply, what, base_);
  if (reply.body.size() != desc.size || BlobDigest(reply.body) != desc.digest) {
    return Status::FromErrno(kErrDigest,
                             what + ": " + base_ + " served other bytes");
  }
  return std::move(reply.body);
}

Result<bool> RegistryClient::HasBlob(const Digest& digest) {
  HttpRequest request;
  request.method = HttpMethod::kHead;
  request.url = Path("/blobs/" + OciDigest(digest));
  SEALFS_ASSIGN_OR_RETURN(HttpEngine::Reply reply, Call(std::move(request)));
  if (reply.response.code == 200) return true;
  if (reply.response.code == 404) return false;
  return Unexpected(reply, "blob " + OciDigest(digest), base_);
}

Status RegistryClient::PutBlob(const Digest& digest, const BodyFactory& body) {
  const std::string what = "upload of blob " + OciDigest(digest);
  HttpRequest start;
  start.method = HttpMethod::kPost;
  start.url = Path("/blobs/uploads/");
  SEALFS_ASSIGN_OR_RETURN(HttpEngine::Reply started, Call(std::move(start)));
  std::string location(started.response.Header("location"));
  if (started.response.code != 202 || location.empty()) {
    return Unexpected(started, what, base_);
  }
  if (location.starts_with("/")) location = base_ + location;
  if (!location.starts_with(base_ + "/")) {
    // An upload elsewhere would take our credentials along.
    return Status::FromErrno(EIO, what + ": upload location '" +
                                      location.substr(0, 200) + "' is not on " +
                                      base_);
  }
  HttpRequest put;
  put.method = HttpMethod::kPut;
  put.url = location + (location.find('?') == std::string::npos ? "?" : "&") +
            "digest=" + PercentEncode(OciDigest(digest));
  put.headers.push_back("Content-Type: application/octet-stream");
  SEALFS_ASSIGN_OR_RETURN(HttpEngine::Reply done, Call(std::move(put), body));
  if (done.response.code != 201) return Unexpected(done, what, base_);
  return {};
}

Result<bool> RegistryClient::MountBlob(const Digest& digest,
                                       const std::string& from) {
  HttpRequest request;
  request.method = HttpMethod::kPost;
  request.url =
      Path("/blobs/uploads/?mount=" + PercentEncode(OciDigest(digest)) +
           "&from=" + PercentEncode(from));
  SEALFS_ASSIGN_OR_RETURN(HttpEngine::Reply reply, Call(std::move(request)));
  if (reply.response.code == 201) return true;
  if (reply.response.code == 202) return false;  // an upload was opened instead
  return Unexpected(reply, "mount of blob " + OciDigest(digest), base_);
}

}  // namespace sealfs::remote
