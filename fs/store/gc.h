// SPDX-License-Identifier: Apache-2.0
// Garbage collection: removes objects no tagged image references, once they
// are older than a grace period, with their trees; and trees whose object is
// gone. The sweep runs under the exclusive store lock, so it never overlaps
// a build (docs/DESIGN.md#store-lifecycle). Every removal is one unlinkat:
// an interrupted gc leaves a consistent store. Reentrant.
#ifndef SEALFS_FS_STORE_GC_H_
#define SEALFS_FS_STORE_GC_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fs/core/store_lock.h"
#include "sealfs/status.h"
#include "sealfs/store.h"

namespace sealfs::store {

inline constexpr int64_t kDefaultGraceSeconds = 3600;

// "0", "45" or "45s", "10m", "2h", "7d" to seconds. EINVAL otherwise or past
// 100 years.
Result<int64_t> ParseDuration(std::string_view text);

struct GcOptions {
  int64_t grace_s = kDefaultGraceSeconds;
  bool dry_run = false;  // report only; takes the lock shared, removes nothing
  bool wait = true;      // false: EWOULDBLOCK while writers hold the lock
  StoreLock::WaitCallback on_wait;
};

struct GcReport {
  uint64_t tags = 0;
  uint64_t live_objects = 0;  // referenced and present
  uint64_t live_bytes = 0;
  uint64_t recent_objects = 0;  // unreferenced, kept by the grace period
  uint64_t recent_bytes = 0;
  uint64_t removed_objects = 0;  // (or, dry run, that would be removed)
  uint64_t removed_object_bytes = 0;
  uint64_t removed_trees = 0;
  uint64_t removed_tree_bytes = 0;
  uint64_t removed_temps = 0;  // stale ".tmp-" partial writes
  uint64_t removed_temp_bytes = 0;
  std::vector<std::string> removed;  // paths, in order (dry run: would be)
  std::vector<std::string> errors;   // removals that failed (left in place)
};

// Refuses (kErrCorrupt, naming the tag) when any tag is broken: the live set
// would be partial. EWOULDBLOCK with !wait when the store is in use.
Result<GcReport> RunGc(const Store& store, const GcOptions& options);

}  // namespace sealfs::store

#endif  // SEALFS_FS_STORE_GC_H_
