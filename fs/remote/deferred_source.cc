// SPDX-License-Identifier: Apache-2.0
// DeferredSource: fetches wait for the source to open on the opener thread,
// then go to it; a failed open fails them and is tried again by the next.
#include "fs/remote/deferred_source.h"

#include <algorithm>
#include <cerrno>
#include <utility>

namespace sealfs::remote {

// One fetch asked before the source was open. Claimed exactly once: by
// the opener (handed to the source, or failed) or by a cancel.
struct DeferredSource::Waiting {
  FetchRequest request;
  std::shared_ptr<FetchSink> sink;
  std::mutex mu;  // guards the members below
  bool claimed = false;
  bool cancel = false;  // asked while the opener was handing it over
  std::shared_ptr<FetchTicket> inner;
};

class DeferredSource::Ticket : public FetchTicket {
 public:
  Ticket(DeferredSource* owner, std::shared_ptr<Waiting> w)
      : owner_(owner), w_(std::move(w)) {}

  void Promote(Priority priority) override {
    std::shared_ptr<FetchTicket> inner;
    {
      std::lock_guard lock(w_->mu);
      if (!w_->claimed) {
        w_->request.priority = std::min(w_->request.priority, priority);
      }
      inner = w_->inner;
    }
    if (inner != nullptr) inner->Promote(priority);
  }

  void Cancel() override {
    std::shared_ptr<FetchTicket> inner;
    bool mine = false;
    {
      std::lock_guard lock(w_->mu);
      inner = w_->inner;
      if (inner == nullptr && !w_->claimed) {
        w_->claimed = true;
        mine = true;
      } else if (inner == nullptr) {
        w_->cancel = true;  // the opener cancels it once handed over
      }
    }
    if (inner != nullptr) inner->Cancel();
    if (mine) owner_->CancelWaiting(w_);
  }

 private:
  DeferredSource* const owner_;  // outlives its tickets (held by the fetcher)
  const std::shared_ptr<Waiting> w_;
};

DeferredSource::DeferredSource(std::string location, Opener open,
                               Batching batching)
    : location_(std::move(location)),
      open_(std::move(open)),
      batching_(batching) {}

DeferredSource::~DeferredSource() {
  std::vector<std::shared_ptr<Waiting>> left;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    left.swap(waiting_);
  }
  cv_.notify_all();
  if (opener_.joinable()) opener_.join();
  if (canceller_.joinable()) canceller_.join();
  Deliver(std::move(left), nullptr,
          Status::FromErrno(ECANCELED, location_ + ": source closed"));
}

bool DeferredSource::opened() const {
  std::lock_guard lock(mu_);
  return source_ != nullptr;
}

std::shared_ptr<FetchTicket> DeferredSource::Fetch(
    const FetchRequest& request, std::shared_ptr<FetchSink> sink) {
  return FetchMany({request}, {std::move(sink)}).front();
}

std::vector<std::shared_ptr<FetchTicket>> DeferredSource::FetchMany(
    const std::vector<FetchRequest>& requests,
    const std::vector<std::shared_ptr<FetchSink>>& sinks) {
  std::shared_ptr<ObjectSource> source;
  std::vector<std::shared_ptr<FetchTicket>> tickets;
  {
    std::lock_guard lock(mu_);
    source = source_;
    if (source == nullptr && !stopping_) {
      for (size_t i = 0; i < requests.size(); ++i) {
        auto w = std::make_shared<Waiting>();
        w->request = requests[i];
        w->sink = sinks[i];
        waiting_.push_back(w);
        tickets.push_back(std::make_shared<Ticket>(this, std::move(w)));
      }
      StartOpenerLocked();
      cv_.notify_all();
      return tickets;
    }
  }
  if (source != nullptr) return source->FetchMany(requests, sinks);
  for (const auto& sink : sinks) {
    sink->OnDone(Status::FromErrno(ECANCELED, location_ + ": source closed"));
  }
  return std::vector<std::shared_ptr<FetchTicket>>(requests.size());
}

Result<std::vector<uint8_t>> DeferredSource::ReadImage(
    const std::string& name) {
  std::shared_ptr<ObjectSource> source;
  {
    std::lock_guard lock(mu_);
    source = source_;
  }
  if (source == nullptr) {
    Result<std::unique_ptr<ObjectSource>> opened = open_();
    if (!opened.ok()) return opened.status().WithPrefix(location_);
    source = std::move(*opened);
  }
  return source->ReadImage(name);
}

void DeferredSource::StartOpenerLocked() {
  if (!opener_.joinable()) opener_ = std::thread([this] { RunOpener(); });
}

void DeferredSource::RunOpener() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
    if (stopping_) return;
    lock.unlock();
    Result<std::unique_ptr<ObjectSource>> opened = open_();
    lock.lock();
    std::vector<std::shared_ptr<Waiting>> ready;
    ready.swap(waiting_);
    if (opened.ok()) source_ = std::move(*opened);
    std::shared_ptr<ObjectSource> source = source_;
    lock.unlock();
    // Outside the lock: a sink's OnDone may fetch again.
    Deliver(std::move(ready), source.get(),
            opened.ok() ? Status() : opened.status().WithPrefix(location_));
    if (source != nullptr) return;  // open for good: nothing left to do
    lock.lock();
  }
}

void DeferredSource::Deliver(std::vector<std::shared_ptr<Waiting>> waiting,
                             ObjectSource* source, const Status& status) {
  std::vector<std::shared_ptr<Waiting>> mine;
  for (auto& w : waiting) {
    std::lock_guard lock(w->mu);
    if (w->claimed) continue;  // cancelled meanwhile
    w->claimed = true;
    mine.push_back(std::move(w));
  }
  if (mine.empty()) return;
  if (source == nullptr) {
    for (const auto& w : mine) w->sink->OnDone(status);
    return;
  }
  std::vector<FetchRequest> requests;
  std::vector<std::shared_ptr<FetchSink>> sinks;
  for (const auto& w : mine) {
    std::lock_guard lock(w->mu);
    requests.push_back(w->request);
    sinks.push_back(w->sink);
  }
  std::vector<std::shared_ptr<FetchTicket>> tickets =
      source->FetchMany(requests, sinks);
  for (size_t i = 0; i < mine.size(); ++i) {
    if (tickets[i] == nullptr) continue;
    bool cancel;
    {
      std::lock_guard lock(mine[i]->mu);
      mine[i]->inner = tickets[i];
      cancel = mine[i]->cancel;
    }
    if (cancel) tickets[i]->Cancel();
  }
}

void DeferredSource::CancelWaiting(const std::shared_ptr<Waiting>& w) {
  std::lock_guard lock(mu_);
  std::erase(waiting_, w);
  cancelled_.push_back(w);
  if (!canceller_.joinable())
    canceller_ = std::thread([this] { RunCanceller(); });
  cv_.notify_all();
}

void DeferredSource::RunCanceller() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !cancelled_.empty(); });
    std::vector<std::shared_ptr<Waiting>> done;
    done.swap(cancelled_);
    const bool stop = stopping_;
    lock.unlock();
    for (const auto& w : done) {
      w->sink->OnDone(
          Status::FromErrno(ECANCELED, PartName(w->request) + " cancelled"));
    }
    if (stop) return;
    lock.lock();
  }
}

}  // namespace sealfs::remote
