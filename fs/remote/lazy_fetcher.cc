// SPDX-License-Identifier: Apache-2.0
// LazyFetcher: single-flight fetches keyed by digest.
#include "fs/remote/lazy_fetcher.h"

#include <utility>

#include "fs/remote/fetch.h"

namespace sealfs::remote {

LazyFetcher::LazyFetcher(std::shared_ptr<Store> store,
                         std::unique_ptr<ObjectSource> source)
    : store_(std::move(store)), source_(std::move(source)) {}

Status LazyFetcher::Fetch(const Digest& digest, uint64_t size) {
  std::shared_ptr<Flight> flight;
  bool owner = false;
  {
    std::lock_guard lock(mu_);
    auto [it, inserted] =
        flights_.try_emplace(digest, std::make_shared<Flight>());
    flight = it->second;
    owner = inserted;
  }
  if (!owner) {
    std::unique_lock lock(flight->mu);
    flight->cv.wait(lock, [&] { return flight->done; });
    return flight->status;
  }
  Status status = FetchNow(digest, size);
  {
    // Forget the flight first: a request arriving after this starts afresh
    // (and finds the object, or retries a failed fetch).
    std::lock_guard lock(mu_);
    flights_.erase(digest);
  }
  {
    std::lock_guard lock(flight->mu);
    flight->done = true;
    flight->status = status;
  }
  flight->cv.notify_all();
  return status;
}

Status LazyFetcher::FetchNow(const Digest& digest, uint64_t size) {
  // A flight that ended just before ours began may have brought it.
  if (store_->HasObject(digest)) return {};
  transfers_.fetch_add(1);
  StoreWriter writer(store_);
  SEALFS_RETURN_IF_ERROR(FetchObject(*source_, writer, digest, size));
  return writer.Commit();
}

}  // namespace sealfs::remote
