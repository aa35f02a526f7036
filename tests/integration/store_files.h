// SPDX-License-Identifier: Apache-2.0
// Helpers for tests that damage a store under a mount: where a source file's
// object and tree live, flipping a byte, and reading one block so the request
// reaches the daemon as exactly that block.
#ifndef SEALFS_TESTS_INTEGRATION_STORE_FILES_H_
#define SEALFS_TESTS_INTEGRATION_STORE_FILES_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sealfs::testing {

inline constexpr size_t kTestBlock = 4096;

// STORE/objects/XX/<62 hex> and STORE/trees/XX/<62 hex> of the content of
// the file at `path`, found with the independent `fsverity digest`.
std::string ObjectPathFor(const std::string& store, const std::string& path);
std::string TreePathFor(const std::string& store, const std::string& path);

// XORs the byte at `offset` of `path` with 1 (the file must be writable).
void FlipByte(const std::string& path, off_t offset);

// Reads block `index` of `path` with O_DIRECT (no readahead of neighbours).
// Returns 0 or the errno; the bytes go to `out`.
int ReadBlock(const std::string& path, size_t index, std::vector<uint8_t>* out);

// Reads the whole file; returns 0 and the bytes, or the errno of the
// failing open or read.
int ReadAll(const std::string& path, std::vector<uint8_t>* out);

}  // namespace sealfs::testing

#endif  // SEALFS_TESTS_INTEGRATION_STORE_FILES_H_
