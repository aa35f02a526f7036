// SPDX-License-Identifier: Apache-2.0
// Lowercase hex encoding and strict decoding. Reentrant.
#ifndef SEALFS_FS_UTIL_HEX_H_
#define SEALFS_FS_UTIL_HEX_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sealfs {

std::string HexEncode(std::span<const uint8_t> bytes);
// Decodes an even number of hex digits (either case); nullopt otherwise.
std::optional<std::vector<uint8_t>> HexDecode(std::string_view text);

}  // namespace sealfs

#endif  // SEALFS_FS_UTIL_HEX_H_
