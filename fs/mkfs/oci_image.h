// SPDX-License-Identifier: Apache-2.0
// The JSON documents of an OCI image (image-spec v1.1) and of a Docker
// schema 2 image, parsed as hostile input for `mkfs --from-oci`: the
// `oci-layout` file, an image index (or Docker manifest list), an image
// manifest and an image config; the choice of a manifest by tag or by
// platform; and the layer media types with their compression. Every value's
// type is checked before it is read, every size bounded, and an unknown
// media type is refused by name: nothing is guessed. Reentrant.
#ifndef SEALFS_FS_MKFS_OCI_IMAGE_H_
#define SEALFS_FS_MKFS_OCI_IMAGE_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fs/core/oci.h"
#include "sealfs/digest.h"
#include "sealfs/status.h"

namespace sealfs::mkfs {

inline constexpr char kDockerManifestMediaType[] =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr char kDockerManifestListMediaType[] =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr char kOciConfigMediaType[] =
    "application/vnd.oci.image.config.v1+json";
inline constexpr char kDockerConfigMediaType[] =
    "application/vnd.docker.container.image.v1+json";
// The annotation of an `oci:` layout's index.json that names an image.
inline constexpr char kOciRefNameAnnotation[] =
    "org.opencontainers.image.ref.name";

// Whether `media_type` is an image index / Docker manifest list, or an
// image manifest / Docker schema 2 manifest.
bool IsIndexMediaType(std::string_view media_type);
bool IsManifestMediaType(std::string_view media_type);
// What to say about a manifest or index media type that is neither:
// EMEDIUMTYPE naming it ("Docker schema 1 is not supported" for those).
Status UnsupportedManifestType(std::string_view media_type);

struct Platform {
  std::string os;            // "linux"
  std::string architecture;  // GOARCH: "amd64", "arm64", "arm", ...
  std::string variant;       // "v7", "v8", or empty

  // "os/architecture[/variant]".
  std::string ToString() const;
};

// Parses "OS/ARCH[/VARIANT]" (--platform). EINVAL otherwise.
Result<Platform> ParsePlatform(std::string_view text);
// linux and this machine's architecture in Go's names (uname -m x86_64 is
// amd64, aarch64 arm64, armv7l arm/v7, ...).
Platform HostPlatform();
// Whether an image for `have` runs where `want` is asked for: same os and
// architecture, and the same variant if `want` names one (arm64's variant
// "v8" and none are the same).
bool PlatformMatches(const Platform& want, const Platform& have);

// `oci-layout`: {"imageLayoutVersion": "1.0.0"}. kErrCorrupt otherwise.
Status ParseOciLayoutFile(std::span<const uint8_t> bytes);

struct IndexEntry {
  OciDescriptor descriptor;
  std::optional<Platform> platform;
  std::string ref_name;  // the kOciRefNameAnnotation, or empty
};

// An image index (OCI) or manifest list (Docker), fetched as `media_type`.
// kErrCorrupt naming what is wrong: not JSON, over kMaxOciManifestBytes,
// schemaVersion not 2, a mediaType field other than `media_type`, no
// manifests array, a bad descriptor or platform.
Result<std::vector<IndexEntry>> ParseImageIndex(std::span<const uint8_t> bytes,
                                                std::string_view media_type);

struct ImageManifest {
  OciDescriptor config;
  std::vector<OciDescriptor> layers;  // lowest first
};

// An image manifest (OCI) or schema 2 manifest (Docker), fetched as
// `media_type`. kErrCorrupt as ParseImageIndex, and for a config over
// kMaxOciConfigSize; EMEDIUMTYPE naming a config media type that is not an
// image config (an artifact) or a layer media type LayerCompressionOf
// refuses.
Result<ImageManifest> ParseImageManifest(std::span<const uint8_t> bytes,
                                         std::string_view media_type);

struct ImageConfig {
  Platform platform;
  std::vector<Digest> diff_ids;  // SHA-256 of each uncompressed layer
};

// An image config. kErrCorrupt naming what is wrong: not a JSON object,
// over kMaxOciConfigSize, no os or architecture, rootfs.type not "layers",
// diff_ids not an array of sha256 digests.
Result<ImageConfig> ParseImageConfig(std::span<const uint8_t> bytes);

enum class Compression { kNone, kGzip, kZstd };

// The compression a layer media type says: OCI tar, tar+gzip, tar+zstd
// (also their nondistributable forms) and Docker's rootfs.diff.tar.gzip
// (also foreign) and rootfs.diff.tar. EMEDIUMTYPE naming any other.
Result<Compression> LayerCompressionOf(std::string_view media_type);

// For an `oci:` layout's index.json: the entry whose ref name is `tag`
// (several: the one for `platform`), or with an empty tag the only entry.
// ENOENT naming the tags there are.
Result<OciDescriptor> SelectByTag(const std::vector<IndexEntry>& entries,
                                  std::string_view tag,
                                  const Platform& platform);
// For a multi-platform index: the first entry for `platform`. ENOENT
// naming the platforms there are.
Result<OciDescriptor> SelectByPlatform(const std::vector<IndexEntry>& entries,
                                       const Platform& platform);

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_OCI_IMAGE_H_
