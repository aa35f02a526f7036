// SPDX-License-Identifier: Apache-2.0
// BackgroundFetch: after a lazy mount is ready, brings the image's objects
// into the store on a thread of its own, a window of them at a time at
// Priority::kBackground, so that readers' fetches overtake it. Objects a
// reader already brought are skipped; a failure is logged and left for a
// reader to retry. What it fetched is made durable every few seconds (one
// syncfs) and at the end. Thread-safe.
#ifndef SEALFS_FS_REMOTE_BACKGROUND_FETCH_H_
#define SEALFS_FS_REMOTE_BACKGROUND_FETCH_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fs/remote/object_fetcher.h"

namespace sealfs::remote {

class BackgroundFetch {
 public:
  // Receives one line: a failure, then a summary at the end.
  using Logger = std::function<void(const std::string&)>;
  // Runs at the end, on the fetch's thread, if every object is in the
  // store (and synced); not if one failed or the fetch was stopped.
  using Whole = std::function<void()>;

  BackgroundFetch(std::shared_ptr<ObjectFetcher> fetcher,
                  std::vector<PullItem> items, Logger log,
                  Whole whole = nullptr);
  // Stop().
  ~BackgroundFetch();
  BackgroundFetch(const BackgroundFetch&) = delete;
  BackgroundFetch& operator=(const BackgroundFetch&) = delete;

  // Starts the thread. False if none could be started (nothing is then
  // fetched in the background; readers still fetch what they need).
  bool Start();
  // Stops after the objects in flight have been handed to the fetcher
  // (whose Stop or destructor cancels them) and joins the thread.
  // Idempotent; REQUIRES: not called on two threads at once.
  void Stop();

  // Objects not yet known to be in the store (0 once done).
  uint64_t left() const;

  // Objects in flight at once (at least four of the source's batches,
  // ObjectSource::batching()), as many as a pull keeps; how often the
  // fetched ones are synced.
  static constexpr size_t kWindow = 256;
  static constexpr uint64_t kSyncBytes = uint64_t{256} << 20;

 private:
  struct State;
  void Run();

  const std::shared_ptr<ObjectFetcher> fetcher_;
  const std::vector<PullItem> items_;
  const Logger log_;
  const Whole whole_;
  // Shared with the fetcher's callbacks, which may outlive this object.
  const std::shared_ptr<State> state_;
  std::thread thread_;
};

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_BACKGROUND_FETCH_H_
