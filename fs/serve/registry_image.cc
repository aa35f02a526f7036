// SPDX-License-Identifier: Apache-2.0
// Reading an image from a registry into a sealed memfd; deferred sources.
#include "fs/serve/registry_image.h"

#include <fcntl.h>
#include <sys/mman.h>

#include <utility>
#include <vector>

#include "fs/fuse/lazy_mount.h"
#include "fs/remote/deferred_source.h"

namespace sealfs::serve {
namespace {

Result<UniqueFd> SealedCopy(std::span<const uint8_t> bytes) {
  UniqueFd fd(
      memfd_create("sealfs-registry-image", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) return ErrnoStatus("memfd_create");
  SEALFS_RETURN_IF_ERROR(WriteFull(fd.get(), bytes));
  if (fcntl(fd.get(), F_ADD_SEALS,
            F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    return ErrnoStatus("sealing the image's memfd");
  }
  return fd;
}

}  // namespace

Result<RegistryRead> ReadImageFromRegistry(const std::string& ref,
                                           const fuse::MountOptions& options) {
  std::vector<uint8_t> image;
  SEALFS_ASSIGN_OR_RETURN(
      std::unique_ptr<remote::RegistrySource> source,
      remote::OpenRegistrySource(
          ref, remote::RegistryOptionsFor(fuse::SourceOptionsFor(options)),
          &image));
  RegistryRead read;
  read.pinned = source->pinned();
  SEALFS_ASSIGN_OR_RETURN(read.image, SealedCopy(image));
  read.source = std::move(source);
  return read;
}

Result<std::unique_ptr<remote::RegistrySource>> OpenRegistryNow(
    const std::string& ref, const fuse::MountOptions& options) {
  return remote::OpenRegistrySource(
      ref, remote::RegistryOptionsFor(fuse::SourceOptionsFor(options)),
      nullptr);
}

std::unique_ptr<remote::ObjectSource> DeferredRegistrySource(
    const std::string& pinned, const fuse::MountOptions& options) {
  const remote::RegistryOptions registry =
      remote::RegistryOptionsFor(fuse::SourceOptionsFor(options));
  return std::make_unique<remote::DeferredSource>(
      pinned,
      [pinned, registry]() -> Result<std::unique_ptr<remote::ObjectSource>> {
        SEALFS_ASSIGN_OR_RETURN(
            std::unique_ptr<remote::RegistrySource> source,
            remote::OpenRegistrySource(pinned, registry, nullptr));
        return std::unique_ptr<remote::ObjectSource>(std::move(source));
      },
      remote::RegistrySource::kBatching);
}

}  // namespace sealfs::serve
