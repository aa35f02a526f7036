// SPDX-License-Identifier: Apache-2.0
// Moving a corrupt object out of the way: STORE/quarantine/<64 hex>.<unix
// time> plus a <same name>.json record of why, the layout `sealfs fsck`
// uses (docs/FORMAT.md#store), so a later fetch can put a good copy in
// place. Minimal version for pull --verify until the fsck helper's shared
// code lands; it writes the same layout. Reentrant.
#ifndef SEALFS_FS_REMOTE_QUARANTINE_H_
#define SEALFS_FS_REMOTE_QUARANTINE_H_

#include <optional>
#include <string>

#include "sealfs/digest.h"
#include "sealfs/status.h"
#include "sealfs/store.h"

namespace sealfs::remote {

inline constexpr char kQuarantineDir[] = "quarantine";

// Renames objects/XX/<62 hex> of `digest` into quarantine/ (created 0700 if
// missing) as <64 hex>.<unix time> (plus ".N" if that name is taken) and
// writes the fsck record {"original", "reason", "expected", "actual"
// (what the bytes hash to, or null), "time", "quarantined_as", "by"}.
// Returns the name inside quarantine/. ENOENT if the object is gone already
// (a concurrent quarantine). Its tree, if any, is removed: trees are
// rebuilt from a good object.
Result<std::string> QuarantineObject(const Store& store, const Digest& digest,
                                     const std::string& reason,
                                     const std::optional<Digest>& actual);

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_QUARANTINE_H_
