// SPDX-License-Identifier: Apache-2.0
// Quarantine: moves a bad store entry (corrupt object, bad tree, junk) into
// STORE/quarantine/ with one renameat, next to a small record file saying
// where it came from and why. Nothing is ever deleted. Thread-safe.
#ifndef SEALFS_FS_STORE_QUARANTINE_H_
#define SEALFS_FS_STORE_QUARANTINE_H_

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "sealfs/status.h"
#include "sealfs/unique_fd.h"

namespace sealfs::store {

struct QuarantineRecord {
  std::string original;        // "objects/ab/<62 hex>", from the store
  std::string reason;          // "digest mismatch", "a symlink", ...
  std::string expected;        // "sha256:..." or empty
  std::string actual;          // "sha256:..." or empty
  int64_t time = 0;            // unix seconds
  std::string quarantined_as;  // "quarantine/<name>"
};

// Serialises a record (the tools pass a JSON writer; the library has none).
using RecordFormatter = std::function<std::string(const QuarantineRecord&)>;

class Quarantine {
 public:
  Quarantine(int store_fd, RecordFormatter format)
      : store_fd_(store_fd), format_(std::move(format)) {}

  // Renames `name` in `dir_fd` to quarantine/<stem>.<unix time>[.N] (never
  // replacing anything) and writes <that>.json. `stem` is sanitised to
  // [A-Za-z0-9._-]. Returns "quarantine/<name>". The record is best effort
  // once the rename succeeded; its failure is reported in the returned path.
  Result<std::string> Move(int dir_fd, const std::string& name,
                           const std::string& stem, QuarantineRecord record);

 private:
  Result<int> Dir();

  const int store_fd_;
  const RecordFormatter format_;
  std::mutex mu_;
  UniqueFd dir_;  // guarded by mu_
};

}  // namespace sealfs::store

#endif  // SEALFS_FS_STORE_QUARANTINE_H_
