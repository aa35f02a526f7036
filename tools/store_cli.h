// SPDX-License-Identifier: Apache-2.0
// What the store lifecycle commands (tag, images, fsck, gc) share: the
// default store location and byte counts for people.
#ifndef SEALFS_TOOLS_STORE_CLI_H_
#define SEALFS_TOOLS_STORE_CLI_H_

#include <cstdint>
#include <string>

namespace sealfs::tools {

// $SEALFS_STORE when set and not empty, else /var/lib/sealfs/store (as mkfs).
std::string DefaultStore();

// "512 B", "1.5 KiB", "3.2 MiB", "1.10 GiB".
std::string HumanBytes(uint64_t bytes);

}  // namespace sealfs::tools

#endif  // SEALFS_TOOLS_STORE_CLI_H_
