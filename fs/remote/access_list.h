// SPDX-License-Identifier: Apache-2.0
// Access lists: the order in which a workload first opened an image's files
// (record=), replayed as a prefetch order (prefetch=FILE), as Nydus and
// eStargz prefetch lists are. One absolute path per line; a backslash and a
// newline in a name are written as "\\" and "\n", every other byte as is.
// Reentrant.
#ifndef SEALFS_FS_REMOTE_ACCESS_LIST_H_
#define SEALFS_FS_REMOTE_ACCESS_LIST_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fs/remote/object_fetcher.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/status.h"

namespace sealfs::remote {

// The largest list prefetch= reads.
inline constexpr uint64_t kMaxAccessListBytes = uint64_t{16} << 20;

// `path` ("/usr/bin/env") as one line of a list, newline included.
std::string FormatAccessLine(std::string_view path);

// The objects to prefetch, in order: those of the regular files `list`
// names (skipping lines that name nothing in `manifest`, counted in
// `*unknown`, and files stored inline), then every other object of the
// image in inode order. Each object once. kErrCorrupt for a line that does
// not start with '/' or has a bad escape; the manifest's errors.
Result<std::vector<PullItem>> PrefetchOrder(const Manifest& manifest,
                                            std::string_view list,
                                            uint64_t* unknown);

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_ACCESS_LIST_H_
