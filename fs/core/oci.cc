// SPDX-License-Identifier: Apache-2.0
// OCI descriptors and digests; JSON with nlohmann-json, exceptions off.
#include "fs/core/oci.h"

#include <cerrno>

#include "fs/core/manifest_validate.h"

namespace sealfs {

std::string OciDigest(const Digest& digest) { return digest.ToString(); }

Result<Digest> ParseOciDigest(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon != std::string_view::npos && text.substr(0, colon) != "sha256") {
    return Status::FromErrno(EINVAL, "digest algorithm " +
                                         Quote(text.substr(0, colon), 20) +
                                         " is not supported (only sha256)");
  }
  if (!text.starts_with("sha256:") || text.size() != 7 + 64) {
    return Status::FromErrno(EINVAL, "not sha256:<64 hex>");
  }
  for (char c : text.substr(7)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return Status::FromErrno(EINVAL, "not sha256:<64 lowercase hex>");
    }
  }
  return Digest::Parse(text);
}

Digest BlobDigest(std::span<const uint8_t> bytes) { return Sha256(bytes); }

Status ParseJson(std::span<const uint8_t> bytes, nlohmann::json* out) {
  *out = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr,
                               /*allow_exceptions=*/false);
  if (out->is_discarded()) return Status::Corrupt("not JSON");
  return {};
}

const std::string* JsonStringAt(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return nullptr;
  return it->get_ptr<const std::string*>();
}

Result<OciDescriptor> ParseOciDescriptor(const nlohmann::json& j,
                                         const std::string& what) {
  if (!j.is_object()) return Status::Corrupt(what + " is not an object");
  const std::string* media = JsonStringAt(j, "mediaType");
  const std::string* digest = JsonStringAt(j, "digest");
  auto size = j.find("size");
  if (media == nullptr || digest == nullptr || size == j.end() ||
      !size->is_number_unsigned()) {
    return Status::Corrupt(what + " lacks mediaType, digest or size");
  }
  OciDescriptor d;
  d.media_type = *media;
  Result<Digest> parsed = ParseOciDigest(*digest);
  if (!parsed.ok()) {
    return Status::Corrupt(what + ": digest " + Quote(*digest, 80) + ": " +
                           parsed.status().context());
  }
  d.digest = *parsed;
  d.size = size->get<uint64_t>();
  return d;
}

Status CheckManifestSize(const OciDescriptor& desc) {
  if (desc.size <= kMaxOciManifestBytes) return {};
  return Status::Corrupt("manifest " + OciDigest(desc.digest) + " of " +
                         std::to_string(desc.size) + " bytes, over " +
                         std::to_string(kMaxOciManifestBytes));
}

std::string Quote(std::string_view text, size_t max) {
  std::string out(1, '\'');
  out.append(Printable(text.substr(0, max)));
  if (text.size() > max) out.append("...");
  out.push_back('\'');
  return out;
}

}  // namespace sealfs
