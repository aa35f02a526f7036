// SPDX-License-Identifier: Apache-2.0
// LazyTreeReader: Store::OpenTree() deferred to the first tree read.
#include "fs/fuse/lazy_tree.h"

#include <mutex>
#include <optional>
#include <utility>

namespace sealfs::fuse {
namespace {

struct LazyTree {
  std::shared_ptr<const Store> store;
  Digest digest;
  uint64_t data_size = 0;
  int object_fd = -1;
  std::once_flag once;
  std::optional<Result<TreeBlockReader>> reader;  // set once, under `once`
};

}  // namespace

TreeBlockReader LazyTreeReader(std::shared_ptr<const Store> store,
                               const Digest& digest, uint64_t data_size,
                               int object_fd) {
  auto lazy = std::make_shared<LazyTree>();
  lazy->store = std::move(store);
  lazy->digest = digest;
  lazy->data_size = data_size;
  lazy->object_fd = object_fd;
  return [lazy](uint64_t index, std::span<uint8_t> out) -> Status {
    std::call_once(lazy->once, [&] {
      lazy->reader.emplace(lazy->store->OpenTree(
          lazy->digest, lazy->data_size, lazy->object_fd));
    });
    const Result<TreeBlockReader>& reader = *lazy->reader;
    if (!reader.ok()) return reader.status();
    return (*reader)(index, out);
  };
}

}  // namespace sealfs::fuse
