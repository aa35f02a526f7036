// SPDX-License-Identifier: Apache-2.0
#include "fs/mkfs/archive_api.h"

#include <cstdlib>
#include <memory>

#include "fs/util/shared_library.h"

namespace sealfs::mkfs {
namespace {

constexpr char kSoname[] = "libarchive.so.13";

Result<const ArchiveApi*> Load() {
  SEALFS_ASSIGN_OR_RETURN(void* lib, OpenSharedLibrary(kSoname, "tar layers"));
  auto api = std::make_unique<ArchiveApi>();
#define SEALFS_ARCHIVE_RESOLVE(name)                                        \
  {                                                                         \
    SEALFS_ASSIGN_OR_RETURN(                                                \
        void* symbol, SharedLibrarySymbol(lib, kSoname, "archive_" #name)); \
    api->name = reinterpret_cast<decltype(api->name)>(symbol);              \
  }
  SEALFS_ARCHIVE_FUNCTIONS(SEALFS_ARCHIVE_RESOLVE)
#undef SEALFS_ARCHIVE_RESOLVE
  return api.release();  // lives as long as the process
}

}  // namespace

const Result<const ArchiveApi*>& LoadArchive() {
  static const Result<const ArchiveApi*> loaded = Load();
  return loaded;
}

const ArchiveApi& Archive() {
  const Result<const ArchiveApi*>& loaded = LoadArchive();
  if (!loaded.ok()) std::abort();  // a caller skipped LoadArchive()
  return **loaded;
}

}  // namespace sealfs::mkfs
