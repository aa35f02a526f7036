// SPDX-License-Identifier: Apache-2.0
// What the store commands (tag, images, fsck, gc, pull) share: the default
// store location, byte counts for people, quarantine records.
#ifndef SEALFS_TOOLS_STORE_CLI_H_
#define SEALFS_TOOLS_STORE_CLI_H_

#include <cstdint>
#include <string>

#include "fs/store/quarantine.h"

namespace sealfs::tools {

// Where commands look for the store unless told (--store, $SEALFS_STORE).
inline constexpr char kDefaultStore[] = "/var/lib/sealfs/store";

// $SEALFS_STORE when set and not empty, else kDefaultStore.
std::string DefaultStore();

// "512 B", "1.5 KiB", "3.2 MiB", "1.10 GiB".
std::string HumanBytes(uint64_t bytes);

// The JSON record kept next to a quarantined entry (docs/FORMAT.md#store);
// `by` names the command ("sealfs fsck").
std::string QuarantineRecordJson(const store::QuarantineRecord& record,
                                 const char* by);

}  // namespace sealfs::tools

#endif  // SEALFS_TOOLS_STORE_CLI_H_
