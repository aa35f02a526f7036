// SPDX-License-Identifier: Apache-2.0
// fsck of a whole store: re-hash every object on several threads and compare
// with its name, check every tree against its object, check every tag parses
// and that its objects exist, and flag junk. Corrupt objects and junk are
// quarantined (never deleted); with `repair`, missing or bad trees are
// rebuilt from good objects. Reentrant.
#ifndef SEALFS_FS_STORE_FSCK_H_
#define SEALFS_FS_STORE_FSCK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "fs/store/quarantine.h"
#include "sealfs/status.h"
#include "sealfs/store.h"

namespace sealfs::store {

struct FsckOptions {
  bool repair = false;            // rebuild missing or bad trees
  int threads = 1;                // hashing threads, >= 1
  uint64_t max_rate = 0;          // total read bytes per second; 0: unlimited
  bool progress = false;          // progress bar (drawn only on a terminal)
  RecordFormatter format_record;  // quarantine record contents
};

struct FsckProblem {
  // "corrupt object", "unreadable object", "not a regular file", "junk",
  // "missing tree", "bad tree", "broken tag", "missing object".
  std::string kind;
  std::string path;    // relative to the store
  std::string detail;  // why, in words
  std::string digest;  // "sha256:..." of the object concerned, or empty
  std::string tag;     // tag concerned, or empty
  std::string action;  // what was done ("quarantined as ...", "rebuilt"),
                       // or empty when nothing was
  bool failed_action = false;  // the action was attempted and failed

  // "corrupt object objects/ab/... (digest mismatch: ...) -> quarantined as
  // quarantine/..."
  std::string Line() const;
};

struct FsckReport {
  uint64_t objects = 0;       // objects hashed
  uint64_t object_bytes = 0;  // their bytes
  uint64_t trees = 0;         // tree files checked
  uint64_t tags = 0;          // tags checked
  uint64_t temp_files = 0;    // partial writes seen (left to gc)
  uint64_t orphan_trees = 0;  // trees whose object is absent (left to gc)
  uint64_t quarantined = 0;
  uint64_t repaired = 0;
  std::vector<FsckProblem> problems;  // sorted by path
};

// Fails only when the store cannot be examined at all; every problem found
// is in the report.
Result<FsckReport> RunFsck(const Store& store, const FsckOptions& options);

}  // namespace sealfs::store

#endif  // SEALFS_FS_STORE_FSCK_H_
