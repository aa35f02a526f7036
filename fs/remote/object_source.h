// SPDX-License-Identifier: Apache-2.0
// ObjectSource: where missing objects and images come from (another store
// directory, or an HTTP(S) server serving a store's layout). A source is
// never trusted: it hands out bytes bounded by the sizes the manifest gives,
// and the caller keeps them only once they hash to the digest the manifest
// names. Fetches are asynchronous so that many can be in flight without a
// thread each. Thread-safety: a source may be used from many threads.
#ifndef SEALFS_FS_REMOTE_OBJECT_SOURCE_H_
#define SEALFS_FS_REMOTE_OBJECT_SOURCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fs/remote/transfer.h"
#include "sealfs/digest.h"
#include "sealfs/status.h"

namespace sealfs::remote {

// The largest image a source may serve (a manifest of a few million files).
inline constexpr uint64_t kMaxImageBytes = uint64_t{1} << 30;

// Which file of an object a fetch reads.
enum class ObjectPart : uint8_t {
  kData,  // objects/XX/<62 hex>: the content, object_size bytes
  kTree,  // trees/XX/<62 hex>: its Merkle tree, in the tree file's layout
};

struct FetchRequest {
  Digest digest;
  uint64_t object_size = 0;  // the content's size, from the manifest
  ObjectPart part = ObjectPart::kData;
  // Bytes [offset, offset + length) of the part. REQUIRES: length > 0 and
  // the range lies within the part (PartSize()).
  uint64_t offset = 0;
  uint64_t length = 0;
  Priority priority = Priority::kNormal;
};

// The size of `part` of an object of `object_size` bytes.
uint64_t PartSize(ObjectPart part, uint64_t object_size);

// Receives one fetch's bytes. Called on the source's thread (an HTTP
// source's transfer thread), or on the caller's for a local source; must
// not block.
class FetchSink {
 public:
  virtual ~FetchSink() = default;
  // The next bytes of the part, at `offset` within it. They run on
  // consecutively from the requested offset, or, where the source could not
  // serve a range, from 0 (a server that ignores Range): a sink must accept
  // bytes outside the range it asked for. Never past the part's size.
  // Non-OK stops the fetch; OnDone then receives it.
  virtual Status OnData(uint64_t offset, std::span<const uint8_t> data) = 0;
  // Called once, last. OK iff every byte of the requested range was
  // delivered. Otherwise: ENOENT if the source lacks the part, kErrCorrupt
  // if it serves another size, ETIMEDOUT, ECONNREFUSED, EIO, ECANCELED...,
  // naming the object and the source. The bytes are NOT verified.
  virtual void OnDone(const Status& status) = 0;
};

// A fetch in progress (see HttpTicket). Null for one that finished in Fetch.
class FetchTicket {
 public:
  virtual ~FetchTicket() = default;
  virtual void Promote(Priority priority) = 0;
  virtual void Cancel() = 0;
};

class ObjectSource {
 public:
  virtual ~ObjectSource() = default;

  // Starts fetching `request` into `sink`. May complete (call OnDone)
  // before returning, then returns null.
  virtual std::shared_ptr<FetchTicket> Fetch(
      const FetchRequest& request, std::shared_ptr<FetchSink> sink) = 0;

  // Starts fetching requests[i] into sinks[i], each as Fetch() would. A
  // source that can serve neighbours in one transfer (a registry's packs)
  // does so; each sink still gets only its own bytes and its own OnDone.
  // The default fetches them one by one. Returns a ticket per request
  // (null for one that completed in line), shared by requests that travel
  // together.
  virtual std::vector<std::shared_ptr<FetchTicket>> FetchMany(
      const std::vector<FetchRequest>& requests,
      const std::vector<std::shared_ptr<FetchSink>>& sinks);

  // How much callers should hand FetchMany() at once: objects and bytes.
  // A source that serves neighbours in one transfer wants large batches.
  struct Batching {
    size_t objects;
    uint64_t bytes;
  };
  virtual Batching batching() const { return {32, uint64_t{4} << 20}; }

  // Reads the image file images/`name` (at most kMaxImageBytes). ENOENT if
  // absent. The bytes are NOT validated: use Manifest::FromBytes.
  // REQUIRES: IsValidImageName(name).
  virtual Result<std::vector<uint8_t>> ReadImage(const std::string& name) = 0;

  // Whether fetches complete inside Fetch() (a directory on this machine):
  // callers then spread them over threads of their own.
  virtual bool synchronous() const = 0;

  // The source as the user named it (a directory or a URL), for messages.
  virtual const std::string& location() const = 0;
};

struct SourceOptions {
  FetchLimits limits;
  unsigned connections = 8;  // to one server at most (HTTP, registries)
  // Registries (skopeo's flags): TLS verification (off also allows plain
  // HTTP), extra CA certificates, the credentials file.
  bool tls_verify = true;
  std::string cert_dir;
  std::string authfile;
};

// Fetches `request` into memory and waits: the requested bytes (exactly
// request.length of them), or the fetch's failure. `started`, if set, is
// given the transfer's ticket (null if it finished in line) before the
// wait, so that another thread can cancel it. REQUIRES: not called on a
// source's transfer thread.
using TicketHolder = std::function<void(std::shared_ptr<FetchTicket>)>;
Result<std::vector<uint8_t>> FetchBytes(ObjectSource& source,
                                        const FetchRequest& request,
                                        const TicketHolder& started = nullptr);

// Opens "http://...", "https://..." as an HTTP source,
// "docker://HOST/REPO:TAG" as the packs of that image in an OCI registry,
// anything else as a local store directory. Other URL schemes (ftp://,
// file://, ...) are EPROTONOSUPPORT.
Result<std::unique_ptr<ObjectSource>> OpenObjectSource(
    const std::string& spec, const SourceOptions& options);

// Whether `spec` names an HTTP(S) source.
bool IsHttpSource(std::string_view spec);

// Opens `spec` as OpenObjectSource does; for a registry, also returns the
// image file the reference names (unchecked) in `*image` if not null.
Result<std::unique_ptr<ObjectSource>> OpenObjectSourceAndImage(
    const std::string& spec, const SourceOptions& options,
    std::vector<uint8_t>* image);

// Image (tag) names: [A-Za-z0-9._-]{1,128}, not starting with '.' and not
// containing ".tmp-" (docs/FORMAT.md), so a name is always one plain file in
// images/ and never a hidden or temp file.
bool IsValidImageName(std::string_view name);

// "object sha256:..." or "tree of sha256:...", for messages.
std::string PartName(const FetchRequest& request);

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_OBJECT_SOURCE_H_
