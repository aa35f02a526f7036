// SPDX-License-Identifier: Apache-2.0
// Stores with known objects, for the fs/remote tests.
#ifndef SEALFS_TESTS_REMOTE_REMOTE_TEST_UTIL_H_
#define SEALFS_TESTS_REMOTE_REMOTE_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fs/remote/object_fetcher.h"
#include "sealfs/store.h"

namespace sealfs::testing {

// Creates a store at `path` holding `contents` (objects and trees), and
// returns an item for each, in order.
std::vector<remote::PullItem> MakeStore(
    const std::string& path, const std::vector<std::vector<uint8_t>>& contents);

// Opens (creating) a store for writing; fails the test if it cannot.
std::shared_ptr<Store> OpenStore(const std::string& path);

}  // namespace sealfs::testing

#endif  // SEALFS_TESTS_REMOTE_REMOTE_TEST_UTIL_H_
