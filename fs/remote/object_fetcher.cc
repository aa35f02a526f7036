// SPDX-License-Identifier: Apache-2.0
// ObjectFetcher: flights keyed by digest. A sink collects a small object's
// bytes in memory, or streams a large one into a temp file of the store;
// when the transfer ends the flight waits in a queue by priority until a
// worker hashes it and adds it through the StoreWriter.
#include "fs/remote/object_fetcher.h"

#include <algorithm>
#include <cerrno>
#include <future>
#include <system_error>
#include <utility>

#include "fs/util/io.h"

namespace sealfs::remote {
namespace {

// Objects up to this size are collected in memory; larger ones are
// streamed into the store as they arrive.
constexpr uint64_t kMemoryBytes = uint64_t{4} << 20;
// Capacity of the buffers kept for reuse, and the smallest kept: malloc
// serves smaller ones from memory it already has, larger ones with fresh
// pages that each cost a fault.
constexpr uint64_t kPoolBytes = uint64_t{32} << 20;
constexpr uint64_t kPooledMinBytes = uint64_t{128} << 10;

}  // namespace

struct ObjectFetcher::Flight {
  explicit Flight(const PullItem& i, Priority p) : item(i), priority(p) {}

  const PullItem item;
  Priority priority;                    // guarded by mu_
  std::vector<Callback> callbacks;      // guarded by mu_
  std::shared_ptr<FetchTicket> ticket;  // guarded by mu_
  bool ready = false;  // arrived, queued for a worker; guarded by mu_
  bool taken = false;  // by a worker; guarded by mu_
  // Written by the sink before Verify(), then read by one worker.
  bool opening = false;  // a partial's tree is being fetched; guarded by mu_
  std::shared_ptr<PartialObject> partial;  // read by range; guarded by mu_
  std::vector<uint8_t> body;               // a small object
  std::shared_ptr<StoreWriter> writer;     // a large one: the
  std::unique_ptr<StoreWriter::ObjectFile> file;  // file and its writer
};

class ObjectFetcher::MemorySink : public FetchSink {
 public:
  MemorySink(ObjectFetcher* fetcher, std::shared_ptr<Flight> flight)
      : fetcher_(fetcher), flight_(std::move(flight)) {}
  Status OnData(uint64_t offset, std::span<const uint8_t> data) override {
    // Taken when the first bytes come, not when asked for: a batch may be
    // queued behind others, and fresh memory costs a fault per page.
    if (flight_->body.capacity() == 0) {
      flight_->body = fetcher_->TakeBuffer(flight_->item.size);
    }
    if (offset != flight_->body.size()) {
      return Status::FromErrno(
          EIO,
          "object " + flight_->item.digest.ToString() + ": bytes out of order");
    }
    flight_->body.insert(flight_->body.end(), data.begin(), data.end());
    return {};
  }
  void OnDone(const Status& status) override {
    if (status.ok()) {
      fetcher_->Verify(flight_);
    } else {
      fetcher_->Complete(flight_, status);
    }
  }

 private:
  ObjectFetcher* const fetcher_;
  const std::shared_ptr<Flight> flight_;
};

class ObjectFetcher::FileSink : public FetchSink {
 public:
  FileSink(ObjectFetcher* fetcher, std::shared_ptr<Flight> flight)
      : fetcher_(fetcher), flight_(std::move(flight)) {}
  Status OnData(uint64_t offset, std::span<const uint8_t> data) override {
    return PwriteFull(flight_->file->fd(), data, offset);
  }
  void OnDone(const Status& status) override {
    if (status.ok()) {
      fetcher_->Verify(flight_);
    } else {
      fetcher_->Complete(flight_, status);
    }
  }

 private:
  ObjectFetcher* const fetcher_;
  const std::shared_ptr<Flight> flight_;
};

ObjectFetcher::ObjectFetcher(std::shared_ptr<Store> store,
                             std::shared_ptr<ObjectSource> source,
                             const FetcherOptions& options)
    : store_(std::move(store)),
      source_(std::move(source)),
      options_(options),
      // Asked once: glibc reads /sys for it on every call.
      worker_count_(std::max(1u, options.workers == 0
                                     ? std::thread::hardware_concurrency()
                                     : options.workers)) {}

ObjectFetcher::~ObjectFetcher() { Stop(); }

void ObjectFetcher::Stop() {
  std::vector<std::shared_ptr<FetchTicket>> tickets;
  std::vector<std::shared_ptr<PartialObject>> partials;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    for (auto& [digest, flight] : flights_) {
      if (flight->ticket != nullptr) tickets.push_back(flight->ticket);
      if (flight->partial != nullptr) partials.push_back(flight->partial);
    }
  }
  cv_.notify_all();
  for (const auto& ticket : tickets) ticket->Cancel();
  for (const auto& partial : partials) partial->Cancel();
  // No worker is added once stop_ is set; a second Stop finds them joined.
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  // Transfers that were running end with ECANCELED; wait for them, as
  // their sinks point at this object.
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return flights_.empty(); });
}

std::shared_ptr<ObjectFetcher::Flight> ObjectFetcher::JoinOrCreateLocked(
    const PullItem& item, Priority priority, Callback done, bool* created) {
  *created = false;
  if (auto it = flights_.find(item.digest); it != flights_.end()) {
    Flight& f = *it->second;
    if (done) f.callbacks.push_back(std::move(done));
    if (priority < f.priority) {
      f.priority = priority;
      if (f.ticket != nullptr) f.ticket->Promote(priority);
      if (f.ready && !f.taken) {
        ready_[static_cast<int>(priority)].push_back(it->second);
      }
    }
    return it->second;
  }
  auto flight = std::make_shared<Flight>(item, priority);
  flight->opening = options_.range_reads && item.size > kRangeReadMinBytes;
  if (done) flight->callbacks.push_back(std::move(done));
  flights_.emplace(item.digest, flight);
  *created = true;
  while (workers_.size() < worker_count_) {
    try {
      workers_.emplace_back([this] { Work(); });
    } catch (const std::system_error&) {
      break;  // fewer workers; with none, Verify works in line
    }
  }
  return flight;
}

void ObjectFetcher::FetchAsync(const PullItem& item, Priority priority,
                               Callback done) {
  if (options_.probe_store && store_->HasObject(item.digest)) {
    done(Status());
    return;
  }
  std::shared_ptr<Flight> flight;
  bool created = false;
  {
    std::lock_guard lock(mu_);
    if (!stop_) {
      flight = JoinOrCreateLocked(item, priority, std::move(done), &created);
    }
  }
  if (flight == nullptr) {
    done(Status::FromErrno(
        ECANCELED, "object " + item.digest.ToString() + ": fetcher stopping"));
    return;
  }
  if (created) Start(flight, priority);
}

void ObjectFetcher::Start(const std::shared_ptr<Flight>& flight,
                          Priority priority) {
  StartMany({flight}, priority);
}

std::shared_ptr<FetchSink> ObjectFetcher::Prepare(
    const std::shared_ptr<Flight>& flight, Priority priority) {
  const PullItem& item = flight->item;
  const std::string what = "object " + item.digest.ToString();
  if (options_.range_reads && item.size > kRangeReadMinBytes) {
    Status st = StartPartial(flight, priority);
    if (st.ok()) return nullptr;
    if (st.err() != ENOENT) {
      Complete(flight, st);
      return nullptr;
    }
    // No tree at the source: the whole object, in one piece.
  }
  if (item.size <= kMemoryBytes) {
    return std::make_shared<MemorySink>(this, flight);
  }
  Result<std::shared_ptr<StoreWriter>> writer = Writer();
  Result<std::unique_ptr<StoreWriter::ObjectFile>> file =
      writer.ok()
          ? (*writer)->CreateObjectFile(item.size)
          : Result<std::unique_ptr<StoreWriter::ObjectFile>>(writer.status());
  if (!file.ok()) {
    Complete(flight, file.status().WithPrefix(what));
    return nullptr;
  }
  flight->writer = std::move(*writer);
  flight->file = std::move(*file);
  return std::make_shared<FileSink>(this, flight);
}

void ObjectFetcher::StartMany(
    const std::vector<std::shared_ptr<Flight>>& flights, Priority priority) {
  // Runs of whole objects go to the source together; an object read by
  // range starts where it stands, so the order asked for is kept.
  std::vector<std::shared_ptr<Flight>> run;
  std::vector<FetchRequest> requests;
  std::vector<std::shared_ptr<FetchSink>> sinks;
  auto submit = [&] {
    if (run.empty()) return;
    transfers_.fetch_add(run.size(), std::memory_order_relaxed);
    std::vector<std::shared_ptr<FetchTicket>> tickets =
        source_->FetchMany(requests, sinks);
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < run.size(); ++i) {
      if (tickets[i] == nullptr) continue;
      Flight& flight = *run[i];
      flight.ticket = std::move(tickets[i]);
      if (flight.priority < priority) flight.ticket->Promote(flight.priority);
    }
    run.clear();
    requests.clear();
    sinks.clear();
  };
  for (const std::shared_ptr<Flight>& flight : flights) {
    if (options_.range_reads && flight->item.size > kRangeReadMinBytes) {
      submit();
    }
    std::shared_ptr<FetchSink> sink = Prepare(flight, priority);
    if (sink == nullptr) continue;
    FetchRequest request;
    request.digest = flight->item.digest;
    request.object_size = flight->item.size;
    request.offset = 0;
    request.length = flight->item.size;
    request.priority = priority;
    run.push_back(flight);
    requests.push_back(request);
    sinks.push_back(std::move(sink));
  }
  submit();
}

void ObjectFetcher::FetchManyAsync(const std::vector<PullItem>& items,
                                   Priority priority, ItemCallback done) {
  std::vector<std::shared_ptr<Flight>> created;
  std::vector<const PullItem*> refused;
  std::vector<const PullItem*> missing;
  for (const PullItem& item : items) {
    if (options_.probe_store && store_->HasObject(item.digest)) {
      done(item, Status());
    } else {
      missing.push_back(&item);
    }
  }
  {
    std::lock_guard lock(mu_);
    for (const PullItem* each : missing) {
      const PullItem& item = *each;
      if (stop_) {
        refused.push_back(&item);
        continue;
      }
      bool fresh = false;
      std::shared_ptr<Flight> flight = JoinOrCreateLocked(
          item, priority, [done, item](const Status& st) { done(item, st); },
          &fresh);
      if (fresh) created.push_back(std::move(flight));
    }
  }
  for (const PullItem* item : refused) {
    done(*item,
         Status::FromErrno(ECANCELED, "object " + item->digest.ToString() +
                                          ": fetcher stopping"));
  }
  StartMany(created, priority);
}

Status ObjectFetcher::StartPartial(const std::shared_ptr<Flight>& flight,
                                   Priority priority) {
  const PullItem& item = flight->item;
  SEALFS_ASSIGN_OR_RETURN(std::shared_ptr<StoreWriter> writer, Writer());
  transfers_.fetch_add(1, std::memory_order_relaxed);
  // The tree's transfer is the flight's until it is open, so that Stop
  // cancels it: its reader, and those waiting for it, get ECANCELED
  // instead of waiting out the transfer's time-out.
  const TicketHolder started = [this,
                                flight](std::shared_ptr<FetchTicket> ticket) {
    if (ticket == nullptr) return;
    bool stopping = false;
    {
      std::lock_guard lock(mu_);
      flight->ticket = ticket;
      stopping = stop_;
    }
    if (stopping) ticket->Cancel();  // Stop came before the ticket
  };
  Result<std::shared_ptr<PartialObject>> partial = PartialObject::Open(
      source_, std::move(writer), item.digest, item.size, priority, started);
  {
    std::lock_guard lock(mu_);
    flight->ticket = nullptr;
    flight->opening = false;
    if (partial.ok()) flight->partial = *partial;
  }
  cv_.notify_all();  // OpenPartial callers wait for `opening` to clear
  if (!partial.ok()) return partial.status();
  (*partial)->FetchRest([this, flight](const Status& st) {
    if (st.ok()) {
      Verify(flight);
    } else {
      Complete(flight, st);
    }
  });
  return {};
}

Result<std::shared_ptr<PartialObject>> ObjectFetcher::OpenPartial(
    const PullItem& item) {
  if (store_->HasObject(item.digest)) return std::shared_ptr<PartialObject>();
  std::shared_ptr<Flight> flight;
  bool created = false;
  {
    std::unique_lock lock(mu_);
    if (stop_) {
      return Status::FromErrno(
          ECANCELED, "object " + item.digest.ToString() + ": fetcher stopping");
    }
    flight = JoinOrCreateLocked(item, Priority::kUrgent, nullptr, &created);
    if (!created) {
      // Another reader is opening it: wait for its tree.
      cv_.wait(lock, [&] { return !flight->opening; });
      if (flight->partial != nullptr) return flight->partial;
    }
  }
  if (created) {
    Status st = StartPartial(flight, Priority::kUrgent);
    if (st.ok()) {
      std::lock_guard lock(mu_);
      return flight->partial;
    }
    if (st.err() != ENOENT) {
      Complete(flight, st);
      return st;
    }
    Start(flight, Priority::kUrgent);  // no tree: the whole object
  }
  // A whole-object fetch (no tree at the source): wait for it.
  SEALFS_RETURN_IF_ERROR(Fetch(item, Priority::kUrgent));
  return std::shared_ptr<PartialObject>();
}

Status ObjectFetcher::Fetch(const PullItem& item, Priority priority) {
  std::promise<Status> outcome;
  std::future<Status> done = outcome.get_future();
  FetchAsync(item, priority,
             [&outcome](const Status& st) { outcome.set_value(st); });
  return done.get();
}

void ObjectFetcher::Verify(std::shared_ptr<Flight> flight) {
  {
    std::lock_guard lock(mu_);
    if (!stop_ && !workers_.empty()) {
      flight->ready = true;
      ready_[static_cast<int>(flight->priority)].push_back(std::move(flight));
      cv_.notify_one();
      return;
    }
  }
  // No worker to hand it to: stopping, or none could be started.
  bool stopping = false;
  {
    std::lock_guard lock(mu_);
    stopping = stop_;
  }
  Status st = stopping
                  ? Status::FromErrno(
                        ECANCELED, "object " + flight->item.digest.ToString() +
                                       ": fetcher stopping")
                  : AddToStore(*flight);
  Complete(flight, st);
}

void ObjectFetcher::Work() {
  for (;;) {
    std::shared_ptr<Flight> flight;
    bool stopping = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] {
        if (stop_) return true;
        for (const auto& queue : ready_) {
          if (!queue.empty()) return true;
        }
        return false;
      });
      for (auto& queue : ready_) {
        while (flight == nullptr && !queue.empty()) {
          std::shared_ptr<Flight> next = std::move(queue.front());
          queue.pop_front();
          if (!next->taken) flight = std::move(next);  // else: promoted twice
        }
      }
      if (flight == nullptr) {
        if (stop_) return;
        continue;
      }
      flight->taken = true;
      stopping = stop_;
    }
    Status st = stopping ? Status::FromErrno(ECANCELED, "fetcher stopping")
                         : AddToStore(*flight);
    Complete(flight, st);
  }
}

Status ObjectFetcher::AddToStore(Flight& flight) {
  const PullItem& item = flight.item;
  const std::string what = "object " + item.digest.ToString();
  Status st;
  if (flight.partial != nullptr) {
    st = flight.partial->AddToStore();
  } else if (flight.file != nullptr) {
    st = flight.writer->AddObjectFile(std::move(flight.file), item.digest);
    flight.writer.reset();
  } else {
    Result<std::shared_ptr<StoreWriter>> writer = Writer();
    if (!writer.ok()) return writer.status().WithPrefix(what);
    st = (*writer)->AddFetched(flight.body, item.digest);
    GiveBuffer(std::move(flight.body));
  }
  if (st.ok()) {
    bytes_.fetch_add(item.size, std::memory_order_relaxed);
    return st;
  }
  if (st.err() == kErrDigest) {
    // The writer says "object objects/..: content hashes to sha256:..".
    const std::string& ctx = st.context();
    const size_t at = ctx.rfind("sha256:");
    const std::string got =
        at == std::string::npos ? "something else" : ctx.substr(at);
    return Status::FromErrno(kErrDigest, what + ": " + source_->location() +
                                             " served wrong bytes (hashes to " +
                                             got + ")");
  }
  if (st.context().find(item.digest.ToString()) != std::string::npos) {
    return st;
  }
  return st.WithPrefix(what);
}

void ObjectFetcher::Complete(const std::shared_ptr<Flight>& flight,
                             const Status& status) {
  std::vector<Callback> callbacks;
  {
    std::lock_guard lock(mu_);
    auto it = flights_.find(flight->item.digest);
    if (it != flights_.end() && it->second == flight) flights_.erase(it);
    callbacks = std::move(flight->callbacks);
    flight->callbacks.clear();
    flight->ticket.reset();
    if (status.ok()) written_ = true;
    if (flights_.empty() && options_.durability == Durability::kUnsynced) {
      writer_.reset();
    }
  }
  cv_.notify_all();  // the destructor waits for the last flight
  for (const Callback& callback : callbacks) callback(status);
}

std::vector<uint8_t> ObjectFetcher::TakeBuffer(uint64_t size) {
  std::vector<uint8_t> buffer;
  if (size >= kPooledMinBytes) {
    // The smallest that fits: a buffer that must grow is fresh memory.
    std::lock_guard lock(pool_mu_);
    auto best = pool_.end();
    for (auto it = pool_.begin(); it != pool_.end(); ++it) {
      if (it->capacity() >= size &&
          (best == pool_.end() || it->capacity() < best->capacity())) {
        best = it;
      }
    }
    if (best != pool_.end()) {
      buffer = std::move(*best);
      pool_.erase(best);
      pooled_bytes_ -= buffer.capacity();
    }
  }
  buffer.clear();
  buffer.reserve(static_cast<size_t>(size));
  return buffer;
}

void ObjectFetcher::GiveBuffer(std::vector<uint8_t> buffer) {
  std::lock_guard lock(pool_mu_);
  if (buffer.capacity() < kPooledMinBytes ||
      pooled_bytes_ + buffer.capacity() > kPoolBytes) {
    return;
  }
  pooled_bytes_ += buffer.capacity();
  pool_.push_back(std::move(buffer));
}

Result<std::shared_ptr<StoreWriter>> ObjectFetcher::Writer() {
  {
    std::lock_guard lock(mu_);
    if (writer_ != nullptr) return writer_;
  }
  // Made outside the lock: it waits for the store's lock if gc holds it.
  auto writer = std::make_shared<StoreWriter>(store_, options_.durability);
  std::lock_guard lock(mu_);
  if (writer_ == nullptr) writer_ = std::move(writer);
  return writer_;
}

Status ObjectFetcher::Commit() {
  std::shared_ptr<StoreWriter> writer;
  bool written = false;
  {
    std::lock_guard lock(mu_);
    writer = writer_;
    written = written_;
    written_ = false;
  }
  if (writer != nullptr) return writer->Commit();
  return written ? store_->Sync() : Status();
}

}  // namespace sealfs::remote
