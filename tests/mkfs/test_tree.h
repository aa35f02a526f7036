// SPDX-License-Identifier: Apache-2.0
// Builds a source tree holding every kind of file mkfs must record (devices,
// fifo, socket, hard links, xattrs, non-UTF-8 names, sparse, empty, deep),
// and compares a walked/built tree with lstat of the source. Root only.
#ifndef SEALFS_TESTS_MKFS_TEST_TREE_H_
#define SEALFS_TESTS_MKFS_TEST_TREE_H_

#include <string>
#include <vector>

namespace sealfs::testing {

// Creates the full tree under `root` (which must exist and be empty).
// `reverse` creates entries in the opposite order (same resulting tree).
void MakeFullTree(const std::string& root, bool reverse = false);

// Sets every mtime under `root` (and root itself) to a fixed value, so a
// copy made afterwards carries the same metadata.
void SetAllMtimes(const std::string& root, int64_t sec, long nsec);

// Names (relative to the root) of entries MakeFullTree creates, for checks.
inline constexpr char kNonUtf8Name[] = "bad-\xff\xfe-name";
inline constexpr int kDeepLevels = 40;

}  // namespace sealfs::testing

#endif  // SEALFS_TESTS_MKFS_TEST_TREE_H_
