// SPDX-License-Identifier: Apache-2.0
// An ObjectSource opened on its first fetch, on a thread of its own, so
// that whoever sets a mount up (a service taking a session over after a
// hand-over or a crash) waits on no network: a registry that is down costs
// the fetches that need it, never the mount. Thread-safe.
#ifndef SEALFS_FS_REMOTE_DEFERRED_SOURCE_H_
#define SEALFS_FS_REMOTE_DEFERRED_SOURCE_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fs/remote/object_source.h"

namespace sealfs::remote {

class DeferredSource : public ObjectSource {
 public:
  using Opener = std::function<Result<std::unique_ptr<ObjectSource>>()>;

  // `open` makes the real source; it runs on the opener thread, once per
  // attempt. Fetches asked while it runs wait for it and then go to the
  // source, or get its failure (prefixed with `location`); the next fetch
  // after a failure tries again. `batching` stands for the real source's
  // until it is open.
  DeferredSource(std::string location, Opener open, Batching batching);
  // Fails what still waits (ECANCELED) and joins the opener, which may be
  // inside `open` until that gives up (its own time-outs bound it).
  ~DeferredSource() override;

  std::shared_ptr<FetchTicket> Fetch(const FetchRequest& request,
                                     std::shared_ptr<FetchSink> sink) override;
  std::vector<std::shared_ptr<FetchTicket>> FetchMany(
      const std::vector<FetchRequest>& requests,
      const std::vector<std::shared_ptr<FetchSink>>& sinks) override;
  Batching batching() const override { return batching_; }
  // Opens the source in line (the caller waits) if it is not open yet.
  Result<std::vector<uint8_t>> ReadImage(const std::string& name) override;
  bool synchronous() const override { return false; }
  const std::string& location() const override { return location_; }

  // Whether the real source is open (tests, stats).
  bool opened() const;

 private:
  struct Waiting;
  class Ticket;

  // Starts the opener thread unless it runs. REQUIRES: mu_ held.
  void StartOpenerLocked();
  void RunOpener();
  // Hands `waiting` to the source, or fails each with `status`.
  static void Deliver(std::vector<std::shared_ptr<Waiting>> waiting,
                      ObjectSource* source, const Status& status);
  // A cancelled fetch is failed on the canceller thread, never inside
  // Cancel(): a caller may cancel while holding the lock its sink takes.
  void CancelWaiting(const std::shared_ptr<Waiting>& w);
  void RunCanceller();

  const std::string location_;
  const Opener open_;
  const Batching batching_;

  mutable std::mutex mu_;  // guards the members below
  std::condition_variable cv_;
  std::shared_ptr<ObjectSource> source_;  // null until open
  bool stopping_ = false;
  std::vector<std::shared_ptr<Waiting>> waiting_;    // for the opener
  std::vector<std::shared_ptr<Waiting>> cancelled_;  // for the canceller
  std::thread opener_;
  std::thread canceller_;
};

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_DEFERRED_SOURCE_H_
