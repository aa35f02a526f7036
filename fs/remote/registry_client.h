// SPDX-License-Identifier: Apache-2.0
// RegistryClient: one OCI registry repository spoken to through the
// distribution API (v2), on an HttpEngine of its own: manifests and blobs
// (whole, by range, HEAD), uploads, cross-repository mounts. It follows
// skopeo's conventions: https with the system's CAs (plus --cert-dir's
// *.crt), --tls-verify=false for registries without TLS or with a
// certificate that does not verify, credentials from the usual auth files,
// Basic auth and the Bearer token flow. Thread-safe.
#ifndef SEALFS_FS_REMOTE_REGISTRY_CLIENT_H_
#define SEALFS_FS_REMOTE_REGISTRY_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "fs/remote/http_engine.h"
#include "fs/remote/oci_manifest.h"
#include "fs/remote/registry_auth.h"
#include "fs/remote/registry_ref.h"
#include "sealfs/status.h"

namespace sealfs::remote {

struct RegistryOptions {
  FetchLimits limits;
  unsigned connections = 8;
  bool tls_verify =
      true;              // false: plain http allowed, certificates not checked
  std::string cert_dir;  // extra CA certificates (*.crt), as skopeo's
  std::string authfile;  // else the usual auth files (AuthFiles())
};

class RegistryClient {
 public:
  // Connects to `ref`'s registry (GET /v2/), choosing https, or http when
  // TLS fails and tls_verify is off, and authenticating if it asks.
  // ECONNREFUSED, ETIMEDOUT, EACCES (credentials refused or missing), EIO
  // (not a registry), with the host named.
  static Result<std::shared_ptr<RegistryClient>> Open(
      const RegistryRef& ref, const RegistryOptions& options);

  const RegistryRef& ref() const { return ref_; }
  // "https://host" (or http), without a trailing slash.
  const std::string& base_url() const { return base_; }

  // The manifest `reference` (a tag or digest) names; its bytes, checked
  // against the digest when given by digest. ENOENT if none.
  Result<std::vector<uint8_t>> GetManifest(const std::string& reference);
  // The image manifest or index `reference` (a tag or digest) names, of
  // the types an image importer reads (OCI and Docker schema 2 manifests,
  // indexes and manifest lists), with the media type the registry gives it
  // (Content-Type, parameters dropped; empty if none). Not checked against
  // a digest: the caller checks. ENOENT if none; kErrCorrupt over
  // kMaxOciManifestBytes.
  struct TypedManifest {
    std::string media_type;
    std::vector<uint8_t> bytes;
  };
  Result<TypedManifest> GetAnyManifest(const std::string& reference);
  // Stores `manifest` under `tag`; returns its digest as the registry says.
  Result<std::string> PutManifest(const std::string& tag,
                                  const std::string& manifest);

  // A small blob (at most desc.size bytes, which must be its size), checked
  // against its digest: kErrDigest if the registry serves other bytes.
  Result<std::vector<uint8_t>> GetBlob(const OciDescriptor& desc);
  // Whether the repository has the blob (HEAD).
  Result<bool> HasBlob(const Digest& digest);
  // Makes a request body afresh (a body is read once, and a request may
  // have to be sent again after authenticating).
  using BodyFactory = std::function<std::shared_ptr<RequestBody>()>;
  // Uploads blob `digest` (POST, then PUT with the body).
  Status PutBlob(const Digest& digest, const BodyFactory& body);
  // Mounts blob `digest` from repository `from` of the same registry.
  // False if the registry would not (the caller uploads it instead).
  Result<bool> MountBlob(const Digest& digest, const std::string& from);

  // The URL of blob `digest` in this repository, for Submit().
  std::string BlobUrl(const Digest& digest) const;
  // Submits `request` with the current credentials, refreshing a token
  // about to expire first (unless on the engine's thread, where it must not
  // wait). A 401 (a token that expired anyway) makes the next call refresh.
  std::shared_ptr<HttpTicket> Submit(HttpRequest request,
                                     std::shared_ptr<HttpSink> sink);
  // Tells the client its credentials were refused: the next request
  // authenticates again.
  void CredentialsExpired();

  // Replaces the engine by a new one whose thread has not started, so that
  // no thread of this client outlives a privilege drop that follows. Waits
  // for transfers in flight.
  void Quiesce();

  HttpEngineStats stats() const;

 private:
  RegistryClient(RegistryRef ref, RegistryOptions options, std::string ca_pem);

  Status MakeEngine();
  // Sends `request` (url relative to base_ if it starts with '/') with a
  // body from `body` if given, and on a 401 authenticates as the challenge
  // asks and sends it once more.
  Result<HttpEngine::Reply> Call(HttpRequest request,
                                 const BodyFactory& body = nullptr);
  // Answers a 401's challenge to a request sent with Authorization `sent`
  // (empty: none): Basic credentials, or a Bearer token for the scopes asked
  // so far. EACCES if `sent` already was what it would send.
  Status Authenticate(const HttpResponse& unauthorized,
                      const std::string& sent);
  Status FetchToken();
  std::string Path(const std::string& tail) const;
  std::string AuthorizationHeader();

  const RegistryRef ref_;
  const RegistryOptions options_;
  const std::string ca_pem_;  // system CAs plus cert_dir's; empty: default
  std::string base_;          // set once by Open

  mutable std::mutex mu_;  // guards the members below
  std::shared_ptr<HttpEngine> engine_;
  std::optional<Credentials> credentials_;
  bool credentials_looked_up_ = false;
  std::string authorization_;                  // "Authorization: ..." or empty
  std::map<std::string, std::string> bearer_;  // realm, service of the token
  std::set<std::string> scopes_;
  std::chrono::steady_clock::time_point token_expiry_;
};

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_REGISTRY_CLIENT_H_
