// SPDX-License-Identifier: Apache-2.0
// An ObjectSource over HTTP(S): a base URL serving a store's layout
// (URL/objects/XX/<62 hex>, URL/trees/XX/<62 hex>, URL/images/NAME),
// fetched on an HttpEngine of its own (fs/remote/http_engine.h), so many
// transfers share a few kept-alive connections. Every transfer is bounded
// (connect, stall and overall time-outs) and never reads more than the
// manifest's size; only http and https are spoken, redirects included.
// Thread-safe.
#ifndef SEALFS_FS_REMOTE_HTTP_SOURCE_H_
#define SEALFS_FS_REMOTE_HTTP_SOURCE_H_

#include <memory>
#include <string>

#include "fs/remote/object_source.h"

namespace sealfs::remote {

// `url` starts with http:// or https:// (EPROTONOSUPPORT otherwise). Makes
// no connection and starts no thread yet. Initialises libcurl once per
// process: call it before starting threads.
Result<std::unique_ptr<ObjectSource>> OpenHttpSource(
    const std::string& url, const SourceOptions& options);

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_HTTP_SOURCE_H_
