// SPDX-License-Identifier: Apache-2.0
// Pulling an image's objects from a source into a store: only the objects
// the store lacks (or, with verify, holds corrupt copies of), many
// transfers at a time through an ObjectFetcher, each verified before it gets
// a name, committed in batches so an interrupted pull keeps what it
// finished. Not thread-safe itself (one pull per call); it runs its own
// worker threads.
#ifndef SEALFS_FS_REMOTE_PULL_H_
#define SEALFS_FS_REMOTE_PULL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fs/remote/object_fetcher.h"
#include "fs/remote/object_source.h"
#include "fs/store/quarantine.h"
#include "fs/util/progress.h"
#include "sealfs/digest.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/status.h"
#include "sealfs/store.h"

namespace sealfs::remote {

// Every store object `manifest` references, once each (hard links and equal
// files share one). kErrCorrupt if two inodes give one digest two sizes.
Result<std::vector<PullItem>> ObjectsOf(const Manifest& manifest);

struct PullOptions {
  Priority priority = Priority::kNormal;
  bool verify = false;  // re-hash objects already present; replace bad ones
  store::RecordFormatter format_record;  // quarantine records (with verify)
};

struct PullFailure {
  Digest digest;
  std::string reason;  // one line
};

struct PullReport {
  uint64_t objects = 0;  // distinct objects the image references
  uint64_t fetched = 0;
  uint64_t fetched_bytes = 0;
  uint64_t skipped = 0;  // already present (and, with verify, good)
  uint64_t skipped_bytes = 0;
  uint64_t repaired = 0;     // corrupt local copies quarantined and fetched
  uint64_t trees_fixed = 0;  // with verify: tree files rewritten
  std::vector<PullFailure> failures;  // sorted by digest
};

// Pulls `items` from `source` into `store` (writable). `progress` (may be
// null) is advanced by each object's size. Per-object failures are listed
// in the report, never stop the others, and leave nothing in the store;
// a non-OK Status means the store itself failed (a commit).
Result<PullReport> PullObjects(const std::shared_ptr<ObjectSource>& source,
                               const std::shared_ptr<Store>& store,
                               const std::vector<PullItem>& items,
                               const PullOptions& options, Progress* progress);

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_PULL_H_
