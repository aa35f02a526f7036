// SPDX-License-Identifier: Apache-2.0
#include "tools/oci_source_cli.h"

#include <cerrno>
#include <string_view>
#include <utility>

#include "fs/mkfs/oci_archive.h"
#include "fs/mkfs/oci_layout.h"
#include "fs/remote/oci_registry_source.h"
#include "fs/remote/registry_ref.h"

namespace sealfs::tools {
namespace {

constexpr std::string_view kOci = "oci:";
constexpr std::string_view kOciArchive = "oci-archive:";

// "PATH[:TAG]" split at the first ':'.
std::pair<std::string, std::string> SplitPathTag(std::string_view rest) {
  const size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return {std::string(rest), ""};
  return {std::string(rest.substr(0, colon)),
          std::string(rest.substr(colon + 1))};
}

}  // namespace

Result<std::shared_ptr<OciImageSource>> OpenOciSource(
    const std::string& spec, const mkfs::Platform& platform,
    const remote::RegistryOptions& registry) {
  std::string_view text = spec;
  if (remote::IsDockerRef(text)) {
    SEALFS_ASSIGN_OR_RETURN(remote::RegistryRef ref,
                            remote::ParseRegistryRef(text, false));
    if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
    SEALFS_ASSIGN_OR_RETURN(std::unique_ptr<OciImageSource> source,
                            remote::OpenRegistryImageSource(ref, registry));
    return std::shared_ptr<OciImageSource>(std::move(source));
  }
  const bool archive = text.starts_with(kOciArchive);
  if (!archive && !text.starts_with(kOci)) {
    return Status::FromErrno(EINVAL,
                             "--from-oci takes oci:DIR[:TAG], "
                             "oci-archive:FILE[:TAG] or "
                             "docker://HOST/REPO[:TAG]");
  }
  text.remove_prefix(archive ? kOciArchive.size() : kOci.size());
  auto [path, tag] = SplitPathTag(text);
  if (path.empty()) return Status::FromErrno(EINVAL, spec + ": no path");
  Result<std::unique_ptr<mkfs::LayoutFiles>> files =
      archive ? mkfs::OpenLayoutArchive(path) : mkfs::OpenLayoutDirectory(path);
  if (!files.ok()) return files.status().WithPrefix(path);
  Result<std::unique_ptr<OciImageSource>> source =
      mkfs::OpenOciLayout(std::move(*files), tag, platform);
  if (!source.ok()) return source.status().WithPrefix(path);
  return std::shared_ptr<OciImageSource>(std::move(*source));
}

}  // namespace sealfs::tools
