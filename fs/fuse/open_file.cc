// SPDX-License-Identifier: Apache-2.0
// Reference-counted open state per store object.
#include "fs/fuse/open_file.h"

#include <utility>

namespace sealfs::fuse {

Result<OpenObject*> OpenObjectTable::Acquire(const Digest& digest,
                                             const Factory& make) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = open_.find(digest);
    if (it != open_.end()) {
      ++it->second->refs;
      return it->second.get();
    }
  }
  // Opening may rebuild a missing tree (a full read of the object), so it
  // runs unlocked; a concurrent open of the same digest may win the race, in
  // which case ours is discarded.
  SEALFS_ASSIGN_OR_RETURN(std::unique_ptr<OpenObject> fresh, make());
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = open_.try_emplace(digest, std::move(fresh));
  ++it->second->refs;
  return it->second.get();
}

bool OpenObjectTable::Release(OpenObject* obj) {
  std::unique_ptr<OpenObject> doomed;  // destroyed after the lock is dropped
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (--obj->refs > 0) return false;
    auto it = open_.find(obj->digest);
    if (it == open_.end() || it->second.get() != obj) {
      auto ev = evicted_.find(obj);
      if (ev == evicted_.end()) return false;
      doomed = std::move(ev->second);
      evicted_.erase(ev);
      return true;
    }
    doomed = std::move(it->second);
    open_.erase(it);
  }
  return true;
}

void OpenObjectTable::Evict(OpenObject* obj) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(obj->digest);
  if (it == open_.end() || it->second.get() != obj) return;  // done already
  evicted_.emplace(obj, std::move(it->second));
  open_.erase(it);
}

size_t OpenObjectTable::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_.size();
}

}  // namespace sealfs::fuse
