// SPDX-License-Identifier: Apache-2.0
#include "tests/remote/remote_test_util.h"

#include <gtest/gtest.h>

namespace sealfs::testing {

std::shared_ptr<Store> OpenStore(const std::string& path) {
  Result<std::shared_ptr<Store>> store =
      Store::Open(path, Store::Mode::kCreate);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? *store : nullptr;
}

std::vector<remote::PullItem> MakeStore(
    const std::string& path,
    const std::vector<std::vector<uint8_t>>& contents) {
  std::vector<remote::PullItem> items;
  StoreWriter writer(OpenStore(path));
  for (const std::vector<uint8_t>& data : contents) {
    MerkleTree tree = ComputeMerkleTree(data);
    EXPECT_TRUE(writer.AddFromBytes(data, tree).ok());
    items.push_back({tree.digest, data.size()});
  }
  EXPECT_TRUE(writer.Commit().ok());
  return items;
}

}  // namespace sealfs::testing
