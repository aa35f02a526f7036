// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the tar layer importer: any bytes, fed as one layer
// (plain or compressed: libarchive picks the filter), must be imported or
// refused with a Status, never crash or hang; whatever is imported must
// serialise into a manifest the reader accepts. Content goes to a store in a
// private temporary directory, never committed (nothing gets a name).
// Run: scripts/fuzz.sh tar SECONDS.
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fs/mkfs/layer_apply.h"
#include "fs/mkfs/tar_import.h"
#include "fs/util/byte_stream.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/manifest_writer.h"
#include "sealfs/store.h"

namespace {

std::shared_ptr<sealfs::Store> TheStore() {
  static std::shared_ptr<sealfs::Store>* store = [] {
    char dir[] = "/tmp/sealfs-tar-fuzz.XXXXXX";
    if (mkdtemp(dir) == nullptr) abort();
    auto opened = sealfs::Store::Open(std::string(dir) + "/store",
                                      sealfs::Store::Mode::kCreate);
    if (!opened.ok()) abort();
    return new std::shared_ptr<sealfs::Store>(*opened);  // never destroyed
  }();
  return *store;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fd = memfd_create("layer", MFD_CLOEXEC);
  if (fd < 0) abort();
  if (size > 0 && write(fd, data, size) != static_cast<ssize_t>(size)) abort();
  if (lseek(fd, 0, SEEK_SET) != 0) abort();
  sealfs::ImageTree tree(sealfs::mkfs::ImplicitDirSpec());
  sealfs::mkfs::LayerApplier applier(tree);
  applier.BeginLayer();
  // Uncommitted: its temp files are discarded when it goes.
  sealfs::StoreWriter writer(TheStore());
  sealfs::mkfs::TarLayerOptions options;
  std::unique_ptr<sealfs::ByteStream> in = sealfs::FdStream(fd);
  sealfs::Status imported =
      sealfs::mkfs::ImportTarLayer(*in, applier, writer, options);
  close(fd);
  if (!imported.ok()) return 0;
  auto bytes = sealfs::WriteManifest(tree);
  if (bytes.ok() && !sealfs::Manifest::FromBytes(std::move(*bytes)).ok()) {
    __builtin_trap();  // the builder produced a manifest the reader refuses
  }
  return 0;
}
