// SPDX-License-Identifier: Apache-2.0
// OCI content descriptors and digests (image-spec descriptor.md), shared by
// the registry client (fs/remote), which carries sealfs images in
// registries, and the OCI image importer (fs/mkfs), which builds images from
// container images. JSON is read through nlohmann-json with exceptions off:
// every value's type is checked before it is read. Reentrant.
#ifndef SEALFS_FS_CORE_OCI_H_
#define SEALFS_FS_CORE_OCI_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "sealfs/digest.h"
#include "sealfs/status.h"

namespace sealfs {

inline constexpr char kOciManifestMediaType[] =
    "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kOciIndexMediaType[] =
    "application/vnd.oci.image.index.v1+json";
inline constexpr char kOciEmptyMediaType[] =
    "application/vnd.oci.empty.v1+json";
// A manifest or an index is at most this large (containers/image's limit).
inline constexpr uint64_t kMaxOciManifestBytes = uint64_t{4} << 20;

// A content descriptor: what, which (SHA-256 of the blob) and how large.
struct OciDescriptor {
  std::string media_type;
  Digest digest;  // raw SHA-256 of the blob
  uint64_t size = 0;
};

// "sha256:<64 hex>".
std::string OciDigest(const Digest& digest);
// Parses "sha256:<64 lowercase hex>". EINVAL otherwise, naming another
// algorithm ("sha512") as unsupported. Only a digest that passed this is
// ever used to build a path or a URL.
Result<Digest> ParseOciDigest(std::string_view text);
// SHA-256 of `bytes`, as an OCI digest computes it.
Digest BlobDigest(std::span<const uint8_t> bytes);

// Parses `bytes` as one JSON value into *out. kErrCorrupt "not JSON" (with
// the parser's position) otherwise. Nothing is allocated beyond what the
// bytes hold; the caller bounds their size.
Status ParseJson(std::span<const uint8_t> bytes, nlohmann::json* out);

// The string at `key` of object `j`, or null if absent or not a string.
const std::string* JsonStringAt(const nlohmann::json& j, const char* key);

// Parses a descriptor object (mediaType, digest, size). kErrCorrupt naming
// `what` if a field is missing, of the wrong type, or the digest is not
// sha256:<64 lowercase hex>.
Result<OciDescriptor> ParseOciDescriptor(const nlohmann::json& j,
                                         const std::string& what);

// kErrCorrupt if `desc` names a manifest or index over
// kMaxOciManifestBytes, before any of it is read.
Status CheckManifestSize(const OciDescriptor& desc);

// `text` cut to at most `max` bytes with control bytes escaped, for quoting
// an untrusted string in a one-line message.
std::string Quote(std::string_view text, size_t max = 100);

}  // namespace sealfs

#endif  // SEALFS_FS_CORE_OCI_H_
