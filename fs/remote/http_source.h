// SPDX-License-Identifier: Apache-2.0
// An ObjectSource over HTTP(S): a base URL serving a store's layout
// (URL/objects/XX/<62 hex>, URL/images/NAME), fetched with libcurl. Every
// transfer is bounded (connect, stall and overall time-outs from
// FetchLimits) and never reads more than the expected size; only http and
// https are spoken, redirects included. Thread-safe: idle connections are
// pooled and each stream owns one while it lives.
#ifndef SEALFS_FS_REMOTE_HTTP_SOURCE_H_
#define SEALFS_FS_REMOTE_HTTP_SOURCE_H_

#include <memory>
#include <string>

#include "fs/remote/object_source.h"

namespace sealfs::remote {

// `url` starts with http:// or https:// (EPROTONOSUPPORT otherwise). Makes
// no connection yet. Initialises libcurl once per process: call it before
// starting threads (or forking a daemon that will start them).
Result<std::unique_ptr<ObjectSource>> OpenHttpSource(const std::string& url,
                                                     const FetchLimits& limits);

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_HTTP_SOURCE_H_
