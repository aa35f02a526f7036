// SPDX-License-Identifier: Apache-2.0
// OCI image -> layers -> image, every byte checked against a digest.
#include "fs/mkfs/oci_import.h"

#include <cerrno>
#include <optional>
#include <utility>

#include "fs/mkfs/blob_stream.h"
#include "fs/mkfs/layer_build.h"
#include "fs/mkfs/tar_import.h"
#include "sealfs/format.h"

namespace sealfs::mkfs {
namespace {

// An index may name an index (buildkit's layouts do), no deeper.
constexpr int kMaxIndexDepth = 2;

Status CheckBytes(const std::vector<uint8_t>& bytes, const OciDescriptor& desc,
                  const std::string& what) {
  if (bytes.size() != desc.size) {
    return Status::Corrupt(what + ": " + std::to_string(bytes.size()) +
                           " bytes, its descriptor says " +
                           std::to_string(desc.size));
  }
  const Digest got = BlobDigest(bytes);
  if (got != desc.digest) {
    return Status::FromErrno(kErrDigest, what + ": sha256 " + got.ToString() +
                                             ", expected " +
                                             desc.digest.ToString());
  }
  return {};
}

std::string Short(const Digest& digest) {
  return digest.ToString().substr(0, 7 + 12);
}

// Reads a whole small blob (the config) through a CheckedStream.
Result<std::vector<uint8_t>> ReadSmallBlob(OciImageSource& source,
                                           const OciDescriptor& desc,
                                           const std::string& what) {
  SEALFS_ASSIGN_OR_RETURN(std::unique_ptr<ByteStream> blob,
                          source.OpenBlob(desc));
  std::unique_ptr<ByteStream> checked =
      CheckedStream(*blob, desc.digest, desc.size, what);
  std::vector<uint8_t> bytes;
  for (;;) {
    SEALFS_ASSIGN_OR_RETURN(std::span<const uint8_t> piece, checked->Next());
    if (piece.empty()) break;
    bytes.insert(bytes.end(), piece.begin(), piece.end());
  }
  return bytes;
}

// One layer: fetched, checked, decompressed, checked again, applied.
Status DecodeLayer(OciImageSource& source, const OciDescriptor& desc,
                   const Digest& diff_id, const LayerContext& context,
                   RecordedLayer* out) {
  SEALFS_ASSIGN_OR_RETURN(Compression compression,
                          LayerCompressionOf(desc.media_type));
  SEALFS_ASSIGN_OR_RETURN(std::unique_ptr<ByteStream> blob,
                          source.OpenBlob(desc));
  std::unique_ptr<ByteStream> watched = context.Watch(*blob);
  std::unique_ptr<ByteStream> checked =
      CheckedStream(*watched, desc.digest, desc.size, "blob");
  Result<std::unique_ptr<ByteStream>> plain =
      DecompressStream(*checked, compression);
  if (!plain.ok()) {
    // Bytes that are not what the manifest names explain any failure to
    // decode them better than the decoder does.
    if (Status d = Drain(*checked); !d.ok() && d.err() != ECANCELED) return d;
    return plain.status();
  }
  std::unique_ptr<ByteStream> diffed =
      CheckedStream(**plain, diff_id, std::nullopt, "uncompressed (diff_id)");
  TarLayerOptions tar_options;
  tar_options.inline_max = context.inline_max;
  tar_options.detect_compression = false;
  Status imported = ImportTarLayer(*diffed, *out, context.writer, tar_options);
  if (!imported.ok()) {
    if (Status d = Drain(*checked); !d.ok() && d.err() != ECANCELED) return d;
    return imported;
  }
  // The tar reader stops at the end marker; the digests cover the rest.
  SEALFS_RETURN_IF_ERROR(Drain(*diffed));
  return Drain(*checked);
}

}  // namespace

Result<ResolvedOciImage> ResolveOciImage(OciImageSource& source,
                                         const OciImportOptions& options) {
  SEALFS_ASSIGN_OR_RETURN(OciDocument top, source.ReadTop());
  OciDescriptor desc = top.descriptor;
  std::vector<uint8_t> bytes = std::move(top.bytes);
  bool from_index = false;
  for (int depth = 0;; ++depth) {
    const std::string what = "manifest " + Short(desc.digest);
    SEALFS_RETURN_IF_ERROR(CheckBytes(bytes, desc, what));
    if (IsManifestMediaType(desc.media_type)) break;
    if (!IsIndexMediaType(desc.media_type)) {
      return UnsupportedManifestType(desc.media_type);
    }
    if (depth == kMaxIndexDepth) {
      return Status::Corrupt(what + ": indexes nested deeper than " +
                             std::to_string(kMaxIndexDepth));
    }
    Result<std::vector<IndexEntry>> entries =
        ParseImageIndex(bytes, desc.media_type);
    if (!entries.ok())
      return entries.status().WithPrefix("index " + Short(desc.digest));
    SEALFS_ASSIGN_OR_RETURN(desc, SelectByPlatform(*entries, options.platform));
    SEALFS_ASSIGN_OR_RETURN(bytes, source.ReadManifest(desc));
    from_index = true;
  }
  ResolvedOciImage image;
  image.manifest_descriptor = desc;
  const std::string what = "manifest " + Short(desc.digest);
  Result<ImageManifest> manifest = ParseImageManifest(bytes, desc.media_type);
  if (!manifest.ok()) return manifest.status().WithPrefix(what);
  image.manifest = std::move(*manifest);
  const OciDescriptor& config = image.manifest.config;
  const std::string config_what = "config " + Short(config.digest);
  SEALFS_ASSIGN_OR_RETURN(image.config_bytes,
                          ReadSmallBlob(source, config, config_what));
  Result<ImageConfig> parsed = ParseImageConfig(image.config_bytes);
  if (!parsed.ok()) return parsed.status().WithPrefix(config_what);
  image.config = std::move(*parsed);
  if (image.config.diff_ids.size() != image.manifest.layers.size()) {
    return Status::Corrupt(
        config_what + ": " + std::to_string(image.config.diff_ids.size()) +
        " diff_ids for " + std::to_string(image.manifest.layers.size()) +
        " layers");
  }
  if (!from_index && options.platform_given &&
      !PlatformMatches(options.platform, image.config.platform)) {
    return Status::FromErrno(
        ENOENT, "the image is for " + image.config.platform.ToString() +
                    ", not " + options.platform.ToString());
  }
  return image;
}

Result<MkfsReport> BuildImageFromOci(std::shared_ptr<OciImageSource> source,
                                     const OciImportOptions& import_options,
                                     const MkfsOptions& options) {
  SEALFS_RETURN_IF_ERROR(CheckMkfsOptions(options));
  SEALFS_ASSIGN_OR_RETURN(std::optional<SigningKey> key,
                          PrepareImageOutput(options));
  SEALFS_ASSIGN_OR_RETURN(ResolvedOciImage image,
                          ResolveOciImage(*source, import_options));
  if (image.manifest.layers.empty()) {
    return Status::FromErrno(EINVAL, "the image has no layers");
  }
  std::vector<LayerInput> inputs;
  for (size_t i = 0; i < image.manifest.layers.size(); ++i) {
    const OciDescriptor& desc = image.manifest.layers[i];
    const Digest diff_id = image.config.diff_ids[i];
    LayerInput input;
    input.name = std::to_string(i + 1) + " (" + Short(desc.digest) + ")";
    input.bytes = desc.size;
    input.decode = [source, desc, diff_id](const LayerContext& context,
                                           RecordedLayer* out) {
      return DecodeLayer(*source, desc, diff_id, context, out);
    };
    inputs.push_back(std::move(input));
  }
  return BuildImageFromLayers(
      std::move(inputs), options, key,
      std::string(image.config_bytes.begin(), image.config_bytes.end()));
}

}  // namespace sealfs::mkfs
