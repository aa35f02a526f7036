// SPDX-License-Identifier: Apache-2.0
// BackgroundFetch: a loop that keeps kWindow fetches in flight.
#include "fs/remote/background_fetch.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <utility>

namespace sealfs::remote {
namespace {

constexpr auto kSyncInterval = std::chrono::seconds(5);

}  // namespace

struct BackgroundFetch::State {
  std::mutex mu;  // guards the members below
  std::condition_variable cv;
  unsigned in_flight = 0;
  uint64_t failed = 0;
  Status first_failure;
  bool stop = false;
  std::atomic<uint64_t> left{0};
};

BackgroundFetch::BackgroundFetch(std::shared_ptr<ObjectFetcher> fetcher,
                                 std::vector<PullItem> items, Logger log,
                                 Whole whole)
    : fetcher_(std::move(fetcher)),
      items_(std::move(items)),
      log_(std::move(log)),
      whole_(std::move(whole)),
      state_(std::make_shared<State>()) {
  state_->left.store(items_.size());
}

BackgroundFetch::~BackgroundFetch() { Stop(); }

void BackgroundFetch::Stop() {
  {
    std::lock_guard lock(state_->mu);
    state_->stop = true;
  }
  state_->cv.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool BackgroundFetch::Start() {
  try {
    thread_ = std::thread([this] { Run(); });
    return true;
  } catch (const std::system_error&) {
    return false;
  }
}

uint64_t BackgroundFetch::left() const { return state_->left.load(); }

void BackgroundFetch::Run() {
  const auto start = std::chrono::steady_clock::now();
  auto last_sync = start;
  uint64_t unsynced = 0;
  std::shared_ptr<State> state = state_;
  // Objects go in batches, so that a source can serve neighbours in one
  // transfer (a registry's packs).
  const ObjectSource::Batching batching = fetcher_->batching();
  const size_t window = std::max(kWindow, 4 * batching.objects);
  std::vector<PullItem> batch;
  uint64_t batch_bytes = 0;
  auto send = [&]() -> bool {
    if (batch.empty()) return true;
    {
      std::unique_lock lock(state->mu);
      state->cv.wait(lock, [&] {
        return state->stop || state->in_flight + batch.size() <= window;
      });
      if (state->stop) return false;
      state->in_flight += static_cast<unsigned>(batch.size());
    }
    fetcher_->FetchManyAsync(batch, Priority::kBackground,
                             [state](const PullItem&, const Status& st) {
                               {
                                 std::lock_guard lock(state->mu);
                                 --state->in_flight;
                                 if (!st.ok() && state->failed++ == 0)
                                   state->first_failure = st;
                               }
                               state->left.fetch_sub(1);
                               state->cv.notify_all();
                             });
    unsynced += batch_bytes;
    batch.clear();
    batch_bytes = 0;
    return true;
  };
  for (const PullItem& item : items_) {
    batch.push_back(item);
    batch_bytes += item.size;
    if (batch.size() < batching.objects && batch_bytes < batching.bytes) {
      continue;
    }
    if (!send()) return;
    const auto now = std::chrono::steady_clock::now();
    if (unsynced >= kSyncBytes || now - last_sync >= kSyncInterval) {
      // Bounds what a crash can tear (docs/DESIGN.md#lazy-fetch).
      (void)fetcher_->Commit();
      unsynced = 0;
      last_sync = now;
    }
  }
  if (!send()) return;
  {
    std::unique_lock lock(state->mu);
    state->cv.wait(lock, [&] { return state->stop || state->in_flight == 0; });
    if (state->stop) return;
  }
  Status synced = fetcher_->Commit();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::lock_guard lock(state->mu);
  std::string summary = "prefetch: " + std::to_string(items_.size()) +
                        " objects in " + std::to_string(seconds) + " s";
  if (state->failed > 0) {
    summary += "; " + std::to_string(state->failed) +
               " not fetched (readers will retry), first: " +
               state->first_failure.ToString();
  }
  if (!synced.ok()) summary += "; " + synced.ToString();
  log_(summary);
  if (whole_ && state->failed == 0 && synced.ok()) whole_();
}

}  // namespace sealfs::remote
