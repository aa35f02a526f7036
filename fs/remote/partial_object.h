// SPDX-License-Identifier: Apache-2.0
// PartialObject: a large object that a mount reads before it is whole. Its
// Merkle tree comes first, from the source, and is trusted only through a
// BlockVerifier, which checks each tree block top-down against the digest
// the signed manifest names before using it. Then the data blocks a reader
// needs are fetched by range, each verified against that tree before it is
// written into a temp file of the store and marked present; the rest
// follows in the background. Once every block is present, the file is
// hashed again and becomes an ordinary store object. A source that ignores
// Range still works: its whole-file answer fills every block as it streams.
// Thread-safe.
#ifndef SEALFS_FS_REMOTE_PARTIAL_OBJECT_H_
#define SEALFS_FS_REMOTE_PARTIAL_OBJECT_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "fs/remote/object_source.h"
#include "sealfs/digest.h"
#include "sealfs/status.h"
#include "sealfs/store.h"
#include "sealfs/unique_fd.h"

namespace sealfs::remote {

// Objects larger than this are read by range before they are whole.
inline constexpr uint64_t kRangeReadMinBytes = uint64_t{4} << 20;

class PartialObject : public std::enable_shared_from_this<PartialObject> {
 public:
  // Fetches the tree of object `digest` (`size` bytes) from `source` at
  // `priority` and creates the temp file through `writer`. ENOENT if the
  // source has no tree (the caller fetches the whole object instead);
  // kErrCorrupt if the tree has the wrong size; the source's errors
  // (ECANCELED if the tree's transfer, whose ticket `started` is given,
  // is cancelled). REQUIRES: size > kBlockSize.
  static Result<std::shared_ptr<PartialObject>> Open(
      std::shared_ptr<ObjectSource> source, std::shared_ptr<StoreWriter> writer,
      const Digest& digest, uint64_t size, Priority priority,
      const TicketHolder& started = nullptr);
  ~PartialObject();
  PartialObject(const PartialObject&) = delete;
  PartialObject& operator=(const PartialObject&) = delete;

  // A descriptor of the temp file (read-only use), valid after the object
  // is named and its temp file is gone. Only blocks Ensure() vouched for
  // hold the object's bytes.
  Result<UniqueFd> Dup() const;
  // Reads blocks of the tree as the source sent it, for a BlockVerifier of
  // the caller's (which checks them, as this object's own does). Keeps the
  // tree alive as long as the reader lives.
  TreeBlockReader TreeReader() const;

  // Makes data blocks [first, last] present, fetching those missing at
  // kUrgent (a reader is waiting) in runs of at least kMinRunBytes. OK once
  // all are present. Otherwise the failure of the fetch that should have
  // brought one (kErrDigest if the source's bytes did not verify, ETIMEDOUT,
  // EIO...); the blocks stay missing, and a later call tries again.
  Status Ensure(uint64_t first, uint64_t last);

  // Fetches every missing block in the background (kBackground, a few
  // chunks at a time). `whole` runs once, on a transfer thread, when every
  // block is present (OK), or with the failure that stopped it. Call once.
  void FetchRest(std::function<void(const Status&)> whole);

  // Gives the temp file to the writer, which hashes it and names it. Call
  // once `whole` said OK; not on a transfer thread (it hashes the file).
  Status AddToStore();

  // Stops the fetches still running (their blocks stay missing).
  void Cancel();

  const Digest& digest() const { return digest_; }
  uint64_t size() const { return size_; }
  bool whole() const;
  // Data bytes verified and kept so far.
  uint64_t bytes_fetched() const;

  // A run fetched for a reader is at least this long (kernel readahead asks
  // for 128 KiB; a bit more saves round trips for sequential readers).
  static constexpr uint64_t kMinRunBytes = 512 * 1024;
  // Background chunks, and how many of them run at once.
  static constexpr uint64_t kChunkBytes = uint64_t{4} << 20;
  static constexpr int kChunksInFlight = 2;

 private:
  class RangeSink;
  enum BlockState : uint8_t { kMissing, kComing, kPresent };

  struct Run {
    uint64_t first = 0;  // blocks
    uint64_t last = 0;
    Priority priority = Priority::kUrgent;
    bool background = false;
  };

  PartialObject(std::shared_ptr<ObjectSource> source,
                std::shared_ptr<StoreWriter> writer, const Digest& digest,
                uint64_t size, std::shared_ptr<const std::vector<uint8_t>> tree,
                std::unique_ptr<StoreWriter::ObjectFile> file, UniqueFd fd);
  // Marks the run's blocks coming. REQUIRES: mu_ held, each block missing.
  void MarkComingLocked(const Run& run);
  // Fetches `run`. REQUIRES: mu_ not held (a local source delivers in line).
  void Start(const Run& run);
  // Verifies and stores `data`, whole blocks from `first` (the last may be
  // the object's short tail). Called by a sink, on a transfer thread.
  Status Deliver(uint64_t first, std::span<const uint8_t> data);
  // A run's fetch ended: blocks still coming become missing again.
  void RunDone(const Run& run, const Status& status);
  // Picks background chunks while fewer than kChunksInFlight run, marking
  // them coming; the caller starts them after unlocking. REQUIRES: mu_ held.
  std::vector<Run> PumpLocked();
  // Calls whole_ once if every block is present or the background gave up.
  // REQUIRES: mu_ not held.
  void MaybeWhole();
  uint64_t blocks() const { return blocks_.size(); }

  const std::shared_ptr<ObjectSource> source_;
  const std::shared_ptr<StoreWriter> writer_;
  const Digest digest_;
  const uint64_t size_;
  // As the source sent it: trusted only through verifier_.
  const std::shared_ptr<const std::vector<uint8_t>> tree_;
  BlockVerifier verifier_;
  std::unique_ptr<StoreWriter::ObjectFile> file_;  // gone after AddToStore
  // The temp file, read-write: verified blocks are written through it, and
  // Dup() hands it to readers. Outlives file_, which AddToStore consumes.
  UniqueFd fd_;

  mutable std::mutex mu_;  // guards the members below
  std::condition_variable cv_;
  std::vector<BlockState> blocks_;
  uint64_t present_ = 0;
  uint64_t bytes_fetched_ = 0;
  Status last_failure_;                       // of the last run that failed
  std::function<void(const Status&)> whole_;  // set by FetchRest
  bool whole_called_ = false;
  Status gave_up_;  // why the background stopped, if it did
  int chunks_running_ = 0;
  uint64_t next_chunk_ = 0;  // block from which to look for missing ones
  int background_failures_ = 0;
  // Tickets of running fetches, by their run's first block, for Cancel().
  std::unordered_map<uint64_t, std::shared_ptr<FetchTicket>> tickets_;
  bool cancelled_ = false;
};

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_PARTIAL_OBJECT_H_
