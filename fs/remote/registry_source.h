// SPDX-License-Identifier: Apache-2.0
// An ObjectSource over a sealfs image in an OCI registry: its manifest
// (docs/FORMAT.md#registry), its image file, and its pack indexes, read at
// open; then each object (or tree, or range of either) is one range
// request on the pack that holds it. Nothing from the registry is trusted:
// the index only says where to look, and every byte is verified against the
// signed image by whoever uses it. Thread-safe.
#ifndef SEALFS_FS_REMOTE_REGISTRY_SOURCE_H_
#define SEALFS_FS_REMOTE_REGISTRY_SOURCE_H_

#include <memory>
#include <string>
#include <vector>

#include "fs/remote/object_source.h"
#include "fs/remote/oci_manifest.h"
#include "fs/remote/pack_index.h"
#include "fs/remote/registry_client.h"
#include "fs/remote/registry_ref.h"

namespace sealfs::remote {

// One pack of an image: its index, decoded and checked against the pack's
// descriptor.
struct RegistryPack {
  OciDescriptor pack;
  OciDescriptor index_blob;  // the index's own descriptor
  PackIndex index;
};

// The image `ref` names (REQUIRES: a tag or digest) in its registry: the
// manifest, the image file (checked against its descriptor's digest, but
// NOT validated or trusted: that is Manifest::FromBytes' and the trust
// check's job) and, with `with_packs`, every pack index.
struct RegistryImage {
  SealfsArtifact artifact;
  std::string manifest_digest;  // "sha256:<hex>" of the manifest's bytes
  std::vector<uint8_t> image;
  std::vector<RegistryPack> packs;
};
Result<RegistryImage> ReadRegistryImage(RegistryClient& client,
                                        const std::string& reference,
                                        bool with_packs);

class RegistrySource : public ObjectSource {
 public:
  // Serves the objects of `packs` through `client`. `location` names it in
  // messages.
  RegistrySource(std::shared_ptr<RegistryClient> client,
                 std::vector<RegistryPack> packs, std::string pinned);

  std::shared_ptr<FetchTicket> Fetch(const FetchRequest& request,
                                     std::shared_ptr<FetchSink> sink) override;
  // Parts of one pack that lie close together (gaps under kMaxRunGap) come
  // in one range request of at most kMaxRunBytes: a registry answers each
  // request slowly (docker-registry: ~7 ms on loopback), packs stream fast.
  std::vector<std::shared_ptr<FetchTicket>> FetchMany(
      const std::vector<FetchRequest>& requests,
      const std::vector<std::shared_ptr<FetchSink>>& sinks) override;
  static constexpr uint64_t kMaxRunGap = uint64_t{1} << 20;
  static constexpr uint64_t kMaxRunBytes = uint64_t{16} << 20;
  // A run's worth: docker-registry spends about as much CPU on a request
  // of 300 KiB as on one of 16 MiB (it reads 4 MiB ahead for each).
  static constexpr Batching kBatching = {4096, kMaxRunBytes};
  Batching batching() const override { return kBatching; }
  // The image file of tag `name` in the same repository.
  Result<std::vector<uint8_t>> ReadImage(const std::string& name) override;
  bool synchronous() const override { return false; }
  const std::string& location() const override { return location_; }

  RegistryClient& client() { return *client_; }
  // The reference pinned to the digest of the manifest read at open
  // (docker://HOST/REPO@sha256:...): the same image even if its tag moves.
  const std::string& pinned() const { return pinned_; }

 private:
  // The pack and entry holding `digest`, or {nullptr, nullptr}.
  std::pair<const RegistryPack*, const PackEntry*> Find(
      const Digest& digest) const;
  // Where `request`'s bytes start in their pack; fails (and tells `sink`)
  // if no pack holds them.
  Result<std::pair<const RegistryPack*, uint64_t>> Locate(
      const FetchRequest& request, FetchSink& sink) const;

  const std::shared_ptr<RegistryClient> client_;
  const std::vector<RegistryPack> packs_;
  const std::string location_;
  const std::string pinned_;
};

// Opens `spec` (docker://HOST/REPO:TAG) as a source: connects, reads the
// image's manifest and pack indexes. Used by pull --from and mount's
// remote=; the image file read along is returned in `*image` if not null.
// No thread of the source's is left running (RegistryClient::Quiesce):
// a daemon may drop its privileges next.
Result<std::unique_ptr<RegistrySource>> OpenRegistrySource(
    const std::string& spec, const RegistryOptions& options,
    std::vector<uint8_t>* image);

// The registry options of a source's options.
RegistryOptions RegistryOptionsFor(const SourceOptions& options);

// The name under which a mount keeps an image read from `ref` in its
// store's images/: the reference with every character outside
// [A-Za-z0-9._-] made '_' ("127.0.0.1_5000_team_app_v1"), shortened with
// a hash when longer than a tag name may be.
std::string RegistryImageName(const RegistryRef& ref);

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_REGISTRY_SOURCE_H_
