// SPDX-License-Identifier: Apache-2.0
// Names of the descriptors the service keeps in systemd's file-descriptor
// store (FDNAME=), and the parser of $LISTEN_FDNAMES, which hands them
// back. The environment is input like any other: a name this file did not
// make is reported, never guessed at. Reentrant.
#ifndef SEALFS_FS_SERVE_FD_NAMES_H_
#define SEALFS_FS_SERVE_FD_NAMES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sealfs/status.h"

namespace sealfs::serve {

// What one stored descriptor of a session is.
enum class FdKind : uint8_t {
  kFuse = 0,    // the /dev/fuse connection
  kImage = 1,   // the image file the caller opened
  kStore = 2,   // the store directory the caller opened
  kRecord = 3,  // a sealed memfd holding the session's record
};
inline constexpr size_t kFdKinds = 4;

// systemd refuses more; the store of a service is bounded by
// FileDescriptorStoreMax= anyway.
inline constexpr size_t kMaxListenFds = 65536;

// "sealfs-<id>-<kind>", e.g. "sealfs-7-fuse": at most 38 characters of
// [a-z0-9-], within FDNAME='s rules (printable, no ':', < 256).
std::string FdName(uint64_t id, FdKind kind);

struct NamedFd {
  bool ours = false;  // false: a name FdName does not make
  uint64_t id = 0;
  FdKind kind = FdKind::kFuse;
};

// Splits $LISTEN_FDNAMES (names joined by ':') into exactly `count`
// entries, one per descriptor from fd 3 on. EINVAL if the number of names
// is not `count` or `count` is over kMaxListenFds. A name that is not
// FdName's (another program's, "unknown", a bad number) is kept with
// ours = false.
Result<std::vector<NamedFd>> ParseListenFdNames(std::string_view names,
                                                size_t count);

}  // namespace sealfs::serve

#endif  // SEALFS_FS_SERVE_FD_NAMES_H_
