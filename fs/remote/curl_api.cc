// SPDX-License-Identifier: Apache-2.0
#include "fs/remote/curl_api.h"

#include <cstdlib>
#include <memory>
#include <string>

#include "fs/util/shared_library.h"

namespace sealfs::remote {
namespace {

constexpr char kSoname[] = "libcurl.so.4";

Result<const CurlApi*> Load() {
  SEALFS_ASSIGN_OR_RETURN(void* lib,
                          OpenSharedLibrary(kSoname, "http(s) sources"));
  auto api = std::make_unique<CurlApi>();
#define SEALFS_CURL_RESOLVE(name)                                        \
  {                                                                      \
    SEALFS_ASSIGN_OR_RETURN(                                             \
        void* symbol, SharedLibrarySymbol(lib, kSoname, "curl_" #name)); \
    api->name = reinterpret_cast<decltype(api->name)>(symbol);           \
  }
  SEALFS_CURL_FUNCTIONS(SEALFS_CURL_RESOLVE)
#undef SEALFS_CURL_RESOLVE
  if (CURLcode rc = api->global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
    return Status::FromErrno(
        EIO, std::string("libcurl: ") + api->easy_strerror(rc));
  }
  return api.release();  // lives as long as the process
}

}  // namespace

const Result<const CurlApi*>& LoadCurl() {
  static const Result<const CurlApi*> loaded = Load();
  return loaded;
}

const CurlApi& Curl() {
  const Result<const CurlApi*>& loaded = LoadCurl();
  if (!loaded.ok()) std::abort();  // a caller skipped LoadCurl()
  return **loaded;
}

}  // namespace sealfs::remote
