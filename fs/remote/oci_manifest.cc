// SPDX-License-Identifier: Apache-2.0
// OCI manifests through nlohmann-json, with exceptions off: every value is
// checked for its type before it is read.
#include "fs/remote/oci_manifest.h"

#include <cerrno>

#include "sealfs/format.h"
#include <nlohmann/json.hpp>

namespace sealfs::remote {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr char kEmptyConfig[] = "{}";

Status Bad(const std::string& why) {
  return Status::Corrupt("OCI manifest: " + why);
}

Result<OciDescriptor> ParseDescriptor(const Json& j, const std::string& what) {
  Result<OciDescriptor> d = ParseOciDescriptor(j, what);
  if (!d.ok()) return Bad(d.status().context());
  return d;
}

OrderedJson DescriptorJson(const OciDescriptor& d) {
  OrderedJson j;
  j["mediaType"] = d.media_type;
  j["digest"] = OciDigest(d.digest);
  j["size"] = d.size;
  return j;
}

}  // namespace

const OciDescriptor* SealfsArtifact::FindPack(const Digest& digest) const {
  for (const OciDescriptor& p : packs) {
    if (p.digest == digest) return &p;
  }
  return nullptr;
}

std::span<const uint8_t> OciEmptyConfig() {
  return {reinterpret_cast<const uint8_t*>(kEmptyConfig), 2};
}

OciDescriptor OciEmptyConfigDescriptor() {
  return {kOciEmptyMediaType, BlobDigest(OciEmptyConfig()), 2};
}

std::string BuildOciManifest(const SealfsArtifact& artifact) {
  OrderedJson m;
  m["schemaVersion"] = 2;
  m["mediaType"] = kOciManifestMediaType;
  m["artifactType"] = kOciArtifactType;
  m["config"] = DescriptorJson(OciEmptyConfigDescriptor());
  OrderedJson layers = OrderedJson::array();
  OrderedJson image = DescriptorJson(artifact.image);
  image["annotations"][kOciIdentityAnnotation] = artifact.identity.ToString();
  layers.push_back(image);
  for (size_t i = 0; i < artifact.indexes.size(); ++i) {
    layers.push_back(DescriptorJson(artifact.indexes[i]));
    layers.push_back(DescriptorJson(artifact.packs[i]));
  }
  m["layers"] = layers;
  m["annotations"][kOciIdentityAnnotation] = artifact.identity.ToString();
  return m.dump();
}

Result<SealfsArtifact> ParseOciManifest(std::span<const uint8_t> bytes) {
  if (bytes.size() > kMaxOciManifestBytes) {
    return Bad("larger than " + std::to_string(kMaxOciManifestBytes) +
               " bytes");
  }
  Json m;
  if (Status st = ParseJson(bytes, &m); !st.ok()) return Bad(st.context());
  if (!m.is_object()) return Bad("not a JSON object");
  auto version = m.find("schemaVersion");
  if (version == m.end() || !version->is_number_unsigned() ||
      version->get<uint64_t>() != 2) {
    return Bad("schemaVersion is not 2");
  }
  const std::string* media = JsonStringAt(m, "mediaType");
  if (media == nullptr || *media != kOciManifestMediaType) {
    return Status::FromErrno(
        EMEDIUMTYPE,
        "not an OCI image manifest (mediaType " +
            (media == nullptr ? "missing" : "'" + media->substr(0, 100) + "'") +
            ")");
  }
  const std::string* type = JsonStringAt(m, "artifactType");
  if (type == nullptr || *type != kOciArtifactType) {
    return Status::FromErrno(
        EMEDIUMTYPE,
        "not a sealfs image (artifactType " +
            (type == nullptr ? "missing" : "'" + type->substr(0, 100) + "'") +
            ", want " + kOciArtifactType + ")");
  }
  auto layers = m.find("layers");
  if (layers == m.end() || !layers->is_array()) return Bad("no layers array");
  SealfsArtifact a;
  bool have_image = false;
  size_t i = 0;
  for (const Json& layer : *layers) {
    const std::string what = "layer " + std::to_string(i++);
    SEALFS_ASSIGN_OR_RETURN(OciDescriptor d, ParseDescriptor(layer, what));
    if (d.media_type == kOciImageMediaType) {
      if (have_image) return Bad("two image layers");
      if (d.size > kMaxOciImageBytes) return Bad(what + ": image too large");
      a.image = d;
      have_image = true;
      auto ann = layer.find("annotations");
      const std::string* id = ann != layer.end() && ann->is_object()
                                  ? JsonStringAt(*ann, kOciIdentityAnnotation)
                                  : nullptr;
      if (id != nullptr) {
        Result<Digest> parsed = Digest::Parse(*id);
        if (!parsed.ok()) return Bad(what + ": bad identity annotation");
        a.identity = *parsed;
      }
    } else if (d.media_type == kOciPackIndexMediaType) {
      if (d.size > kMaxPackIndexBytes) return Bad(what + ": index too large");
      a.indexes.push_back(d);
    } else if (d.media_type == kOciPackMediaType) {
      if (a.FindPack(d.digest) != nullptr) return Bad(what + ": a pack twice");
      a.packs.push_back(d);
    } else {
      return Bad(what + ": unknown media type '" + d.media_type.substr(0, 100) +
                 "'");
    }
  }
  if (!have_image) return Bad("no image layer");
  if (a.indexes.size() != a.packs.size()) {
    return Bad(std::to_string(a.indexes.size()) + " pack indexes for " +
               std::to_string(a.packs.size()) + " packs");
  }
  return a;
}

}  // namespace sealfs::remote
