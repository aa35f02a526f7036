// SPDX-License-Identifier: Apache-2.0
// ObjectFetcher: brings whole objects from an ObjectSource into a store,
// verified, many at once. Transfers run on the source (asynchronously, for
// HTTP); the bytes that arrive are hashed and written by a small pool of
// workers, so every CPU verifies while the network delivers. Each object is
// fetched once however many callers want it at the same time, and a more
// urgent caller promotes a fetch that is still queued. Nothing gets a name
// in the store unless it hashes to the digest asked for. Thread-safe.
#ifndef SEALFS_FS_REMOTE_OBJECT_FETCHER_H_
#define SEALFS_FS_REMOTE_OBJECT_FETCHER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "fs/remote/object_source.h"
#include "fs/remote/partial_object.h"
#include "fs/remote/transfer.h"
#include "sealfs/digest.h"
#include "sealfs/status.h"
#include "sealfs/store.h"

namespace sealfs::remote {

// One object an image references.
struct PullItem {
  Digest digest;
  uint64_t size = 0;  // bytes, from the manifest
};

struct FetcherOptions {
  // kSynced (pull): objects are named in durable batches, at Commit() or
  // as the writer's batches fill. kUnsynced (mount): named as soon as they
  // are verified, made durable by Commit() later.
  Durability durability = Durability::kSynced;
  unsigned workers = 0;  // hashing threads; 0: one per CPU
  // FetchAsync first looks for the object in the store. A caller that has
  // just looked (a pull) turns this off and saves the lookups.
  bool probe_store = true;
  // Objects larger than kRangeReadMinBytes come through a PartialObject, so
  // that a reader can open one before it is whole (OpenPartial); for a
  // mount.
  bool range_reads = false;
};

class ObjectFetcher {
 public:
  using Callback = std::function<void(const Status&)>;

  // REQUIRES: `store` is writable.
  ObjectFetcher(std::shared_ptr<Store> store,
                std::shared_ptr<ObjectSource> source,
                const FetcherOptions& options);
  // Stop(). Does not commit.
  ~ObjectFetcher();
  ObjectFetcher(const ObjectFetcher&) = delete;
  ObjectFetcher& operator=(const ObjectFetcher&) = delete;

  // Cancels what is in flight (its callbacks get ECANCELED), refuses what
  // comes later (ECANCELED at once), and waits for every callback to have
  // returned. A reader blocked in OpenPartial while the object's tree is
  // fetched gets ECANCELED, as do those waiting for the same tree. Idempotent;
  // REQUIRES: not called from a callback, nor on two threads at once.
  void Stop();

  // Fetches `item` into the store unless it is there already. `done` runs
  // once with the outcome: at once (on this thread) when the object is
  // present, otherwise on a worker or transfer thread, so it must not
  // block. OK means the object is verified and added (named, or in the
  // writer's batch with kSynced). Errors name the object and the source:
  // kErrDigest for wrong bytes, ENOENT, ETIMEDOUT, kErrCorrupt for a size
  // mismatch, ... A failure is not remembered: the next call tries again.
  void FetchAsync(const PullItem& item, Priority priority, Callback done);
  // FetchAsync for several objects at once, so that a source can serve
  // neighbours in one transfer (a registry's packs). `done` runs once per
  // item, as FetchAsync's.
  using ItemCallback = std::function<void(const PullItem&, const Status&)>;
  void FetchManyAsync(const std::vector<PullItem>& items, Priority priority,
                      ItemCallback done);

  // FetchAsync, waiting for the outcome. REQUIRES: not called from a
  // callback.
  Status Fetch(const PullItem& item, Priority priority);

  // For a reader opening a large object (REQUIRES: range_reads, item.size >
  // kRangeReadMinBytes): the object as it is being fetched, joining the
  // fetch in flight or starting one (which also brings the rest in the
  // background, and names the object once whole). Null if the object is in
  // the store: present, or fetched whole meanwhile because the source had
  // no tree for it. Blocks while the tree is fetched. Errors as Fetch.
  Result<std::shared_ptr<PartialObject>> OpenPartial(const PullItem& item);

  // Makes what was added so far durable (and, with kSynced, named). A
  // failure is the store's (a full disk, an I/O error).
  Status Commit();

  const std::string& location() const { return source_->location(); }
  ObjectSource::Batching batching() const { return source_->batching(); }
  // Fetches started (joined and present ones not counted), and their bytes.
  uint64_t transfers() const { return transfers_.load(); }
  uint64_t bytes_fetched() const { return bytes_.load(); }

 private:
  struct Flight;
  class MemorySink;
  class FileSink;

  // The flight for `item`, joined (promoted to `priority` if that is more
  // urgent; `done`, if any, added to its callbacks) or created (`*created`).
  // REQUIRES: mu_ held, not stopping.
  std::shared_ptr<Flight> JoinOrCreateLocked(const PullItem& item,
                                             Priority priority, Callback done,
                                             bool* created);
  // Starts a created flight's transfer.
  void Start(const std::shared_ptr<Flight>& flight, Priority priority);
  // Starts created flights' transfers, together where the source can.
  void StartMany(const std::vector<std::shared_ptr<Flight>>& flights,
                 Priority priority);
  // The sink for a created flight's whole-object transfer, or null if the
  // flight took another road (a partial object) or already ended.
  std::shared_ptr<FetchSink> Prepare(const std::shared_ptr<Flight>& flight,
                                     Priority priority);
  // Opens `flight` as a PartialObject and fetches the rest in the
  // background. ENOENT: the source has no tree for it.
  Status StartPartial(const std::shared_ptr<Flight>& flight, Priority priority);
  // Queues `flight`'s verification for a worker.
  void Verify(std::shared_ptr<Flight> flight);
  void Work();
  // Verifies and adds what `flight` received.
  Status AddToStore(Flight& flight);
  // Ends `flight` with `status`: forgets it, then runs its callbacks.
  void Complete(const std::shared_ptr<Flight>& flight, const Status& status);
  // Buffers for small objects' bytes, kept for reuse: a fresh one per
  // object costs page faults (and an mmap and munmap past 128 KiB).
  std::vector<uint8_t> TakeBuffer(uint64_t size);
  void GiveBuffer(std::vector<uint8_t> buffer);
  // The writer for the flights in progress; created on demand and dropped
  // (with kUnsynced) once none is left, so the store's shared lock is held
  // only while objects are coming in.
  Result<std::shared_ptr<StoreWriter>> Writer();

  const std::shared_ptr<Store> store_;
  const std::shared_ptr<ObjectSource> source_;
  const FetcherOptions options_;
  const unsigned worker_count_;
  std::atomic<uint64_t> transfers_{0};
  std::atomic<uint64_t> bytes_{0};

  std::mutex mu_;  // guards the members below; never held during callbacks
  std::condition_variable cv_;
  std::unordered_map<Digest, std::shared_ptr<Flight>, DigestHash> flights_;
  std::deque<std::shared_ptr<Flight>> ready_[kPriorityLevels];  // to verify
  std::vector<std::thread> workers_;  // started with the first flight
  bool stop_ = false;
  std::shared_ptr<StoreWriter> writer_;
  bool written_ = false;  // something was added since the last Commit

  std::mutex pool_mu_;  // guards the members below
  std::vector<std::vector<uint8_t>> pool_;
  uint64_t pooled_bytes_ = 0;  // capacity of the buffers in pool_
};

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_OBJECT_FETCHER_H_
