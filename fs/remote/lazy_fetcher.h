// SPDX-License-Identifier: Apache-2.0
// LazyFetcher: fetches a missing object into the store on first use (the
// mount's remote= option). Concurrent requests for one object share one
// transfer: the first caller fetches, the others wait for its outcome. A
// failure is returned to everyone waiting and then forgotten, so the next
// request tries again. Thread-safe.
#ifndef SEALFS_FS_REMOTE_LAZY_FETCHER_H_
#define SEALFS_FS_REMOTE_LAZY_FETCHER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "fs/remote/object_source.h"
#include "sealfs/digest.h"
#include "sealfs/status.h"
#include "sealfs/store.h"

namespace sealfs::remote {

class LazyFetcher {
 public:
  // REQUIRES: `store` is writable.
  LazyFetcher(std::shared_ptr<Store> store,
              std::unique_ptr<ObjectSource> source);
  LazyFetcher(const LazyFetcher&) = delete;
  LazyFetcher& operator=(const LazyFetcher&) = delete;

  // Makes object `digest` (`size` bytes per the manifest) present in the
  // store: fetched, verified against `digest`, durable and linked. OK if it
  // is there afterwards (also when someone else put it there). Otherwise
  // the fetch's Status (see FetchObject); bounded by the source's limits.
  Status Fetch(const Digest& digest, uint64_t size);

  const std::string& location() const { return source_->location(); }
  // Transfers started (not counting callers that joined one in flight).
  uint64_t transfers() const { return transfers_.load(); }

 private:
  struct Flight {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;  // guarded by mu
    Status status;      // guarded by mu; valid once done
  };

  Status FetchNow(const Digest& digest, uint64_t size);

  const std::shared_ptr<Store> store_;
  const std::unique_ptr<ObjectSource> source_;
  std::atomic<uint64_t> transfers_{0};
  std::mutex mu_;  // taken before any Flight::mu, never the other way
  std::unordered_map<Digest, std::shared_ptr<Flight>, DigestHash>
      flights_;  // guarded by mu_
};

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_LAZY_FETCHER_H_
