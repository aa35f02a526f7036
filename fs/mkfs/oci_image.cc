// SPDX-License-Identifier: Apache-2.0
// OCI and Docker image JSON through nlohmann-json with exceptions off.
#include "fs/mkfs/oci_image.h"

#include <sys/utsname.h>

#include <cerrno>
#include <utility>

#include "sealfs/format.h"

namespace sealfs::mkfs {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kOciLayerPrefix = "application/vnd.oci.image.layer.";
constexpr std::string_view kDockerSchema1Prefix =
    "application/vnd.docker.distribution.manifest.v1+";

// How many entries an index may list in a message about what it has.
constexpr size_t kMaxNamed = 16;

// Parses `bytes` (at most `max` bytes) as a JSON object into *out.
Status ParseObject(std::span<const uint8_t> bytes, uint64_t max, Json* out) {
  if (bytes.size() > max) {
    return Status::Corrupt("larger than " + std::to_string(max) + " bytes");
  }
  SEALFS_RETURN_IF_ERROR(ParseJson(bytes, out));
  if (!out->is_object()) return Status::Corrupt("not a JSON object");
  return {};
}

// schemaVersion 2, and a mediaType field, if any, equal to what the
// document was fetched as (so that a manifest cannot pass for an index).
Status CheckHeader(const Json& j, std::string_view media_type) {
  auto version = j.find("schemaVersion");
  if (version == j.end() || !version->is_number_unsigned() ||
      version->get<uint64_t>() != 2) {
    return Status::Corrupt("schemaVersion is not 2");
  }
  auto media = j.find("mediaType");
  if (media != j.end()) {
    if (!media->is_string() ||
        media->get_ref<const std::string&>() != media_type) {
      return Status::Corrupt("mediaType " +
                             (media->is_string()
                                  ? Quote(media->get_ref<const std::string&>())
                                  : std::string("of the wrong type")) +
                             " differs from " + Quote(media_type));
    }
  }
  return {};
}

Result<Platform> ParsePlatformObject(const Json& j) {
  if (!j.is_object()) return Status::Corrupt("platform is not an object");
  const std::string* os = JsonStringAt(j, "os");
  const std::string* arch = JsonStringAt(j, "architecture");
  if (os == nullptr || arch == nullptr) {
    return Status::Corrupt("platform lacks os or architecture");
  }
  Platform p{*os, *arch, ""};
  if (j.contains("variant")) {
    const std::string* variant = JsonStringAt(j, "variant");
    if (variant == nullptr) {
      return Status::Corrupt("platform variant is not a string");
    }
    p.variant = *variant;
  }
  return p;
}

// arm64's variant is v8 whether it says so or not.
std::string NormalVariant(const Platform& p) {
  if (p.architecture == "arm64" && p.variant.empty()) return "v8";
  return p.variant;
}

}  // namespace

bool IsIndexMediaType(std::string_view media_type) {
  return media_type == kOciIndexMediaType ||
         media_type == kDockerManifestListMediaType;
}

bool IsManifestMediaType(std::string_view media_type) {
  return media_type == kOciManifestMediaType ||
         media_type == kDockerManifestMediaType;
}

Status UnsupportedManifestType(std::string_view media_type) {
  if (media_type.starts_with(kDockerSchema1Prefix)) {
    return Status::FromErrno(EMEDIUMTYPE,
                             "Docker schema 1 manifests are not supported "
                             "(media type " +
                                 Quote(media_type) + ")");
  }
  return Status::FromErrno(EMEDIUMTYPE, "media type " + Quote(media_type) +
                                            " is not an image manifest or "
                                            "index");
}

std::string Platform::ToString() const {
  std::string out = os;
  out.append("/").append(architecture);
  if (!variant.empty()) out.append("/").append(variant);
  return out;
}

Result<Platform> ParsePlatform(std::string_view text) {
  Platform p;
  std::string* parts[] = {&p.os, &p.architecture, &p.variant};
  size_t n = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t slash = text.find('/', pos);
    if (slash == std::string_view::npos) slash = text.size();
    if (n == 3 || slash == pos) {
      return Status::FromErrno(
          EINVAL, "platform " + Quote(text) + " is not OS/ARCH[/VARIANT]");
    }
    *parts[n++] = std::string(text.substr(pos, slash - pos));
    pos = slash + 1;
  }
  if (n < 2) {
    return Status::FromErrno(
        EINVAL, "platform " + Quote(text) + " is not OS/ARCH[/VARIANT]");
  }
  return p;
}

Platform HostPlatform() {
  Platform p{"linux", "", ""};
  struct utsname u;
  std::string machine = uname(&u) == 0 ? u.machine : "";
  static const std::pair<const char*, const char*> kGoArch[] = {
      {"x86_64", "amd64"},    {"aarch64", "arm64"},   {"i386", "386"},
      {"i686", "386"},        {"ppc64le", "ppc64le"}, {"s390x", "s390x"},
      {"riscv64", "riscv64"}, {"mips64", "mips64"},
  };
  for (const auto& [uname_name, go_name] : kGoArch) {
    if (machine == uname_name) {
      p.architecture = go_name;
      return p;
    }
  }
  if (machine.starts_with("armv")) {
    p.architecture = "arm";
    p.variant = machine.substr(3, 2);  // "armv7l" -> "v7"
    return p;
  }
  p.architecture = machine;
  return p;
}

bool PlatformMatches(const Platform& want, const Platform& have) {
  if (want.os != have.os || want.architecture != have.architecture) {
    return false;
  }
  return want.variant.empty() || NormalVariant(want) == NormalVariant(have);
}

Status ParseOciLayoutFile(std::span<const uint8_t> bytes) {
  Json j;
  Status st = ParseObject(bytes, 4096, &j);
  if (!st.ok()) return st.WithPrefix("oci-layout");
  const std::string* version = JsonStringAt(j, "imageLayoutVersion");
  if (version == nullptr || *version != "1.0.0") {
    return Status::Corrupt(
        "oci-layout: imageLayoutVersion " +
        (version != nullptr ? Quote(*version) : std::string("missing")) +
        ", not 1.0.0");
  }
  return {};
}

Result<std::vector<IndexEntry>> ParseImageIndex(std::span<const uint8_t> bytes,
                                                std::string_view media_type) {
  Json j;
  SEALFS_RETURN_IF_ERROR(ParseObject(bytes, kMaxOciManifestBytes, &j));
  SEALFS_RETURN_IF_ERROR(CheckHeader(j, media_type));
  auto manifests = j.find("manifests");
  if (manifests == j.end() || !manifests->is_array()) {
    return Status::Corrupt("no manifests array");
  }
  std::vector<IndexEntry> entries;
  for (const Json& m : *manifests) {
    const std::string what = "manifest " + std::to_string(entries.size());
    IndexEntry e;
    SEALFS_ASSIGN_OR_RETURN(e.descriptor, ParseOciDescriptor(m, what));
    if (auto p = m.find("platform"); p != m.end()) {
      Result<Platform> platform = ParsePlatformObject(*p);
      if (!platform.ok()) return platform.status().WithPrefix(what);
      e.platform = std::move(*platform);
    }
    if (auto a = m.find("annotations"); a != m.end()) {
      if (!a->is_object()) {
        return Status::Corrupt(what + ": annotations is not an object");
      }
      if (a->contains(kOciRefNameAnnotation)) {
        const std::string* name = JsonStringAt(*a, kOciRefNameAnnotation);
        if (name == nullptr) {
          return Status::Corrupt(what + ": ref name is not a string");
        }
        e.ref_name = *name;
      }
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

Result<ImageManifest> ParseImageManifest(std::span<const uint8_t> bytes,
                                         std::string_view media_type) {
  Json j;
  SEALFS_RETURN_IF_ERROR(ParseObject(bytes, kMaxOciManifestBytes, &j));
  SEALFS_RETURN_IF_ERROR(CheckHeader(j, media_type));
  auto config = j.find("config");
  if (config == j.end()) return Status::Corrupt("no config");
  ImageManifest m;
  SEALFS_ASSIGN_OR_RETURN(m.config, ParseOciDescriptor(*config, "config"));
  if (m.config.media_type != kOciConfigMediaType &&
      m.config.media_type != kDockerConfigMediaType) {
    return Status::FromErrno(EMEDIUMTYPE,
                             "config media type " + Quote(m.config.media_type) +
                                 " is not an image config (an artifact, not "
                                 "a container image?)");
  }
  if (m.config.size > kMaxOciConfigSize) {
    return Status::Corrupt("config of " + std::to_string(m.config.size) +
                           " bytes, over " + std::to_string(kMaxOciConfigSize));
  }
  auto layers = j.find("layers");
  if (layers == j.end() || !layers->is_array()) {
    return Status::Corrupt("no layers array");
  }
  for (const Json& layer : *layers) {
    const std::string what = "layer " + std::to_string(m.layers.size() + 1);
    SEALFS_ASSIGN_OR_RETURN(OciDescriptor d, ParseOciDescriptor(layer, what));
    if (Result<Compression> c = LayerCompressionOf(d.media_type); !c.ok()) {
      return c.status().WithPrefix(what);
    }
    m.layers.push_back(std::move(d));
  }
  return m;
}

Result<ImageConfig> ParseImageConfig(std::span<const uint8_t> bytes) {
  Json j;
  SEALFS_RETURN_IF_ERROR(ParseObject(bytes, kMaxOciConfigSize, &j));
  ImageConfig c;
  const std::string* os = JsonStringAt(j, "os");
  const std::string* arch = JsonStringAt(j, "architecture");
  if (os == nullptr || arch == nullptr) {
    return Status::Corrupt("no os or architecture");
  }
  c.platform = {*os, *arch, ""};
  if (const std::string* variant = JsonStringAt(j, "variant")) {
    c.platform.variant = *variant;
  }
  auto rootfs = j.find("rootfs");
  if (rootfs == j.end() || !rootfs->is_object()) {
    return Status::Corrupt("no rootfs object");
  }
  const std::string* type = JsonStringAt(*rootfs, "type");
  if (type == nullptr || *type != "layers") {
    return Status::Corrupt("rootfs.type is not \"layers\"");
  }
  auto ids = rootfs->find("diff_ids");
  if (ids == rootfs->end() || !ids->is_array()) {
    return Status::Corrupt("no rootfs.diff_ids array");
  }
  for (const Json& id : *ids) {
    const std::string what = "diff_id " + std::to_string(c.diff_ids.size() + 1);
    if (!id.is_string()) return Status::Corrupt(what + " is not a string");
    Result<Digest> d = ParseOciDigest(id.get_ref<const std::string&>());
    if (!d.ok()) {
      return Status::Corrupt(what + " " +
                             Quote(id.get_ref<const std::string&>(), 80) +
                             ": " + d.status().context());
    }
    c.diff_ids.push_back(*d);
  }
  return c;
}

Result<Compression> LayerCompressionOf(std::string_view media_type) {
  static const std::pair<std::string_view, Compression> kTypes[] = {
      {"application/vnd.oci.image.layer.v1.tar", Compression::kNone},
      {"application/vnd.oci.image.layer.v1.tar+gzip", Compression::kGzip},
      {"application/vnd.oci.image.layer.v1.tar+zstd", Compression::kZstd},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar",
       Compression::kNone},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
       Compression::kGzip},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
       Compression::kZstd},
      {"application/vnd.docker.image.rootfs.diff.tar.gzip", Compression::kGzip},
      {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
       Compression::kGzip},
      {"application/vnd.docker.image.rootfs.diff.tar", Compression::kNone},
  };
  for (const auto& [name, compression] : kTypes) {
    if (media_type == name) return compression;
  }
  std::string why = "media type " + Quote(media_type) + " is not supported";
  if (media_type.starts_with(kOciLayerPrefix)) {
    why += " (layers: tar, tar+gzip, tar+zstd)";
  }
  return Status::FromErrno(EMEDIUMTYPE, why);
}

Result<OciDescriptor> SelectByTag(const std::vector<IndexEntry>& entries,
                                  std::string_view tag,
                                  const Platform& platform) {
  if (tag.empty()) {
    if (entries.size() == 1) return entries[0].descriptor;
    return Status::FromErrno(ENOENT, "the layout holds " +
                                         std::to_string(entries.size()) +
                                         " images: name one (oci:DIR:TAG)");
  }
  std::vector<IndexEntry> tagged;
  for (const IndexEntry& e : entries) {
    if (e.ref_name == tag) tagged.push_back(e);
  }
  if (tagged.size() == 1) return tagged[0].descriptor;
  if (tagged.size() > 1) return SelectByPlatform(tagged, platform);
  std::string names;
  size_t named = 0;
  for (const IndexEntry& e : entries) {
    if (e.ref_name.empty() || named == kMaxNamed) continue;
    names += (named++ == 0 ? "" : ", ") + Quote(e.ref_name, 60);
  }
  return Status::FromErrno(ENOENT,
                           "no image tagged " + Quote(tag, 60) +
                               (names.empty() ? " (the layout has no "
                                                "tags)"
                                              : " (tags: " + names + ")"));
}

Result<OciDescriptor> SelectByPlatform(const std::vector<IndexEntry>& entries,
                                       const Platform& platform) {
  std::string have;
  size_t named = 0;
  for (const IndexEntry& e : entries) {
    if (!IsManifestMediaType(e.descriptor.media_type) &&
        !IsIndexMediaType(e.descriptor.media_type)) {
      continue;  // not an image (an attestation, a signature, ...)
    }
    if (e.platform.has_value() && PlatformMatches(platform, *e.platform)) {
      return e.descriptor;
    }
    if (named < kMaxNamed) {
      have += (named++ == 0 ? "" : ", ") +
              (e.platform.has_value() ? Quote(e.platform->ToString(), 60)
                                      : std::string("(no platform)"));
    }
  }
  return Status::FromErrno(
      ENOENT, "no image for " + platform.ToString() +
                  " in the index (it has: " + (have.empty() ? "none" : have) +
                  "); choose one with --platform");
}

}  // namespace sealfs::mkfs
