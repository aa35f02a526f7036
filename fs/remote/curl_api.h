// SPDX-License-Identifier: Apache-2.0
// libcurl, loaded on first use (see fs/util/shared_library.h): the functions
// sealfs calls, as a table. LoadCurl() loads the library and runs
// curl_global_init once per process; call it before starting threads.
#ifndef SEALFS_FS_REMOTE_CURL_API_H_
#define SEALFS_FS_REMOTE_CURL_API_H_

#include <curl/curl.h>

#include "sealfs/status.h"

namespace sealfs::remote {

// X(name) for each curl_<name> used.
#define SEALFS_CURL_FUNCTIONS(X)                                            \
  X(global_init)                                                            \
  X(easy_init) X(easy_cleanup) X(easy_reset) X(easy_setopt) X(easy_getinfo) \
      X(easy_pause) X(easy_strerror) X(multi_init) X(multi_cleanup)         \
          X(multi_add_handle) X(multi_remove_handle) X(multi_perform)       \
              X(multi_poll) X(multi_info_read) X(multi_strerror)            \
                  X(multi_setopt) X(multi_wakeup) X(slist_append)           \
                      X(slist_free_all)

struct CurlApi {
#define SEALFS_CURL_POINTER(name) decltype(&::curl_##name) name = nullptr;
  SEALFS_CURL_FUNCTIONS(SEALFS_CURL_POINTER)
#undef SEALFS_CURL_POINTER
};

// The loaded, initialised library; the same answer on every call.
const Result<const CurlApi*>& LoadCurl();

// The table, once LoadCurl() has succeeded (which every HTTP object's
// creation implies).
const CurlApi& Curl();

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_CURL_API_H_
