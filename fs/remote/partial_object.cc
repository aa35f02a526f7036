// SPDX-License-Identifier: Apache-2.0
// PartialObject: one state byte per data block (missing, coming, present)
// under a mutex. Runs of blocks are fetched by range; RangeSink cuts what
// arrives into whole blocks, which Deliver verifies and writes.
#include "fs/remote/partial_object.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "fs/util/io.h"

namespace sealfs::remote {

// Cuts one run's bytes into whole blocks for Deliver. The bytes start at
// the run's first block, or at 0 when the source ignored the range.
class PartialObject::RangeSink : public FetchSink {
 public:
  RangeSink(std::shared_ptr<PartialObject> object, const Run& run)
      : object_(std::move(object)), run_(run) {}

  Status OnData(uint64_t offset, std::span<const uint8_t> data) override {
    if (!started_) {
      if (offset % kBlockSize != 0) {
        return Status::FromErrno(EIO, "range starts inside a block");
      }
      block_ = offset / kBlockSize;
      started_ = true;
    } else if (offset != block_ * kBlockSize + carry_.size()) {
      return Status::FromErrno(EIO, "range bytes out of order");
    }
    const bool at_end = offset + data.size() == object_->size_;
    if (!carry_.empty()) {
      const size_t take = std::min(data.size(), kBlockSize - carry_.size());
      carry_.insert(carry_.end(), data.begin(),
                    data.begin() + static_cast<ptrdiff_t>(take));
      data = data.subspan(take);
      if (carry_.size() == kBlockSize || (at_end && data.empty())) {
        SEALFS_RETURN_IF_ERROR(object_->Deliver(block_, carry_));
        ++block_;
        carry_.clear();
      }
    }
    size_t whole = data.size() / kBlockSize * kBlockSize;
    if (at_end) whole = data.size();  // the object's short tail goes too
    if (whole > 0) {
      SEALFS_RETURN_IF_ERROR(object_->Deliver(block_, data.first(whole)));
      block_ += (whole + kBlockSize - 1) / kBlockSize;
    }
    carry_.assign(data.begin() + static_cast<ptrdiff_t>(whole), data.end());
    return {};
  }

  void OnDone(const Status& status) override { object_->RunDone(run_, status); }

 private:
  const std::shared_ptr<PartialObject> object_;
  const Run run_;
  bool started_ = false;
  uint64_t block_ = 0;          // the block carry_ belongs to
  std::vector<uint8_t> carry_;  // the start of a block split between calls
};

PartialObject::PartialObject(std::shared_ptr<ObjectSource> source,
                             std::shared_ptr<StoreWriter> writer,
                             const Digest& digest, uint64_t size,
                             std::shared_ptr<const std::vector<uint8_t>> tree,
                             std::unique_ptr<StoreWriter::ObjectFile> file,
                             UniqueFd read_fd)
    : source_(std::move(source)),
      writer_(std::move(writer)),
      digest_(digest),
      size_(size),
      tree_(std::move(tree)),
      verifier_(digest, size, TreeReader()),
      file_(std::move(file)),
      fd_(std::move(read_fd)),
      blocks_(static_cast<size_t>((size + kBlockSize - 1) / kBlockSize),
              kMissing) {}

PartialObject::~PartialObject() = default;

Result<std::shared_ptr<PartialObject>> PartialObject::Open(
    std::shared_ptr<ObjectSource> source, std::shared_ptr<StoreWriter> writer,
    const Digest& digest, uint64_t size, Priority priority,
    const TicketHolder& started) {
  FetchRequest request;
  request.digest = digest;
  request.object_size = size;
  request.part = ObjectPart::kTree;
  request.length = PartSize(ObjectPart::kTree, size);
  request.priority = priority;
  SEALFS_ASSIGN_OR_RETURN(std::vector<uint8_t> tree,
                          FetchBytes(*source, request, started));
  SEALFS_ASSIGN_OR_RETURN(std::unique_ptr<StoreWriter::ObjectFile> file,
                          writer->CreateObjectFile(size));
  UniqueFd read_fd(::fcntl(file->fd(), F_DUPFD_CLOEXEC, 0));
  if (!read_fd.valid()) return ErrnoStatus("object " + digest.ToString());
  return std::shared_ptr<PartialObject>(new PartialObject(
      std::move(source), std::move(writer), digest, size,
      std::make_shared<const std::vector<uint8_t>>(std::move(tree)),
      std::move(file), std::move(read_fd)));
}

TreeBlockReader PartialObject::TreeReader() const {
  return [tree = tree_](uint64_t index, std::span<uint8_t> out) -> Status {
    if (!TreeBlocksInRange(index, out.size(), tree->size() / kBlockSize)) {
      return Status::Corrupt("tree block " + std::to_string(index) +
                             " out of range");
    }
    std::memcpy(out.data(), tree->data() + index * kBlockSize, out.size());
    return {};
  };
}

Result<UniqueFd> PartialObject::Dup() const {
  UniqueFd fd(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus("object " + digest_.ToString() + ": dup");
  return fd;
}

bool PartialObject::whole() const {
  std::lock_guard lock(mu_);
  return present_ == blocks_.size();
}

uint64_t PartialObject::bytes_fetched() const {
  std::lock_guard lock(mu_);
  return bytes_fetched_;
}

void PartialObject::MarkComingLocked(const Run& run) {
  for (uint64_t b = run.first; b <= run.last; ++b) blocks_[b] = kComing;
  if (run.background) ++chunks_running_;
}

void PartialObject::Start(const Run& run) {
  FetchRequest request;
  request.digest = digest_;
  request.object_size = size_;
  request.offset = run.first * kBlockSize;
  request.length =
      std::min(size_, (run.last + 1) * kBlockSize) - request.offset;
  request.priority = run.priority;
  std::shared_ptr<FetchTicket> ticket = source_->Fetch(
      request, std::make_shared<RangeSink>(shared_from_this(), run));
  if (ticket == nullptr) return;
  std::lock_guard lock(mu_);
  if (cancelled_) {
    ticket->Cancel();
  } else if (blocks_[run.first] == kComing) {
    tickets_[run.first] = std::move(ticket);
  }
}

Status PartialObject::Ensure(uint64_t first, uint64_t last) {
  std::unique_lock lock(mu_);
  if (last >= blocks_.size() || first > last) {
    return Status::FromErrno(EINVAL, "blocks out of range");
  }
  const uint64_t min_run = kMinRunBytes / kBlockSize;
  bool started = false;
  for (;;) {
    if (!started) {
      std::vector<Run> runs;
      for (uint64_t b = first; b <= last;) {
        if (blocks_[b] != kMissing) {
          ++b;
          continue;
        }
        Run run{b, b, Priority::kUrgent, false};
        while (run.last + 1 < blocks_.size() &&
               blocks_[run.last + 1] == kMissing &&
               (run.last < last || run.last - run.first + 1 < min_run)) {
          ++run.last;
        }
        MarkComingLocked(run);
        runs.push_back(run);
        b = run.last + 1;
      }
      started = true;
      if (!runs.empty()) {
        lock.unlock();
        for (const Run& run : runs) Start(run);
        lock.lock();
      }
    }
    bool coming = false;
    bool missing = false;
    for (uint64_t b = first; b <= last; ++b) {
      coming |= blocks_[b] == kComing;
      missing |= blocks_[b] == kMissing;
    }
    if (!coming && !missing) return {};
    if (!coming) {
      // The fetch that should have brought them failed (or was another
      // reader's, which failed): say why.
      return last_failure_.ok()
                 ? Status::FromErrno(
                       EIO, "object " + digest_.ToString() + ": blocks missing")
                 : last_failure_;
    }
    cv_.wait(lock);
  }
}

Status PartialObject::Deliver(uint64_t first, std::span<const uint8_t> data) {
  const uint64_t count = (data.size() + kBlockSize - 1) / kBlockSize;
  if (first + count > blocks_.size()) {
    return Status::Corrupt("object " + digest_.ToString() +
                           ": bytes past the end");
  }
  // Blocks that fail are left missing; the rest are kept. The common case
  // (all good) is one batched check.
  std::vector<bool> good(count, true);
  Status bad;
  if (Status all = verifier_.VerifyBlocks(first, data); !all.ok()) {
    for (uint64_t i = 0; i < count; ++i) {
      const size_t from = static_cast<size_t>(i * kBlockSize);
      const size_t len = std::min<size_t>(kBlockSize, data.size() - from);
      Status st = verifier_.VerifyBlock(first + i, data.subspan(from, len));
      if (!st.ok()) {
        good[i] = false;
        bad = st.WithPrefix("object " + digest_.ToString() + " from " +
                            source_->location());
      }
    }
  }
  // Blocks already present are not written again (the object may be named
  // by now); the rest go in runs.
  std::vector<bool> write = good;
  {
    std::lock_guard lock(mu_);
    for (uint64_t i = 0; i < count; ++i) {
      if (blocks_[first + i] == kPresent) write[i] = false;
    }
  }
  for (uint64_t i = 0; i < count;) {
    if (!write[i]) {
      ++i;
      continue;
    }
    uint64_t j = i;
    while (j < count && write[j]) ++j;
    const size_t from = static_cast<size_t>(i * kBlockSize);
    const size_t to =
        std::min<size_t>(data.size(), static_cast<size_t>(j * kBlockSize));
    SEALFS_RETURN_IF_ERROR(PwriteFull(fd_.get(), data.subspan(from, to - from),
                                      (first + i) * kBlockSize));
    i = j;
  }
  {
    std::lock_guard lock(mu_);
    for (uint64_t i = 0; i < count; ++i) {
      BlockState& state = blocks_[first + i];
      if (good[i] && state != kPresent) {
        state = kPresent;
        ++present_;
        bytes_fetched_ += std::min<uint64_t>(
            kBlockSize, data.size() - static_cast<size_t>(i * kBlockSize));
      }
    }
    if (!bad.ok()) last_failure_ = bad;
  }
  cv_.notify_all();
  return {};
}

void PartialObject::RunDone(const Run& run, const Status& status) {
  std::vector<Run> next;
  {
    std::lock_guard lock(mu_);
    tickets_.erase(run.first);
    bool short_run = false;
    for (uint64_t b = run.first; b <= run.last; ++b) {
      if (blocks_[b] == kComing) {
        blocks_[b] = kMissing;
        short_run = true;
      }
    }
    if (!status.ok()) {
      last_failure_ = status;
    } else if (short_run && last_failure_.ok()) {
      last_failure_ = Status::FromErrno(
          EIO, "object " + digest_.ToString() + ": range incomplete");
    }
    if (run.background) {
      --chunks_running_;
      if (short_run) ++background_failures_;
    }
    if (whole_ && !whole_called_ && background_failures_ > 3) {
      gave_up_ = last_failure_;
    }
    // A source that delivers in line is pumped by FetchRest's loop, not
    // from here: that would nest one call per chunk.
    if (whole_ && !source_->synchronous()) next = PumpLocked();
  }
  cv_.notify_all();
  for (const Run& r : next) Start(r);
  MaybeWhole();
}

std::vector<PartialObject::Run> PartialObject::PumpLocked() {
  std::vector<Run> runs;
  if (whole_called_ || cancelled_ || !gave_up_.ok()) return runs;
  const uint64_t chunk = kChunkBytes / kBlockSize;
  uint64_t scanned = 0;
  while (chunks_running_ < kChunksInFlight && scanned < blocks_.size()) {
    if (next_chunk_ >= blocks_.size()) next_chunk_ = 0;
    if (blocks_[next_chunk_] != kMissing) {
      ++next_chunk_;
      ++scanned;
      continue;
    }
    Run run{next_chunk_, next_chunk_, Priority::kBackground, true};
    while (run.last + 1 < blocks_.size() && blocks_[run.last + 1] == kMissing &&
           run.last - run.first + 1 < chunk) {
      ++run.last;
    }
    MarkComingLocked(run);
    runs.push_back(run);
    scanned += run.last - run.first + 1;
    next_chunk_ = run.last + 1;
  }
  return runs;
}

void PartialObject::FetchRest(std::function<void(const Status&)> whole) {
  {
    std::lock_guard lock(mu_);
    whole_ = std::move(whole);
  }
  for (;;) {
    std::vector<Run> runs;
    {
      std::lock_guard lock(mu_);
      runs = PumpLocked();
    }
    for (const Run& run : runs) Start(run);
    if (runs.empty() || !source_->synchronous()) break;
  }
  MaybeWhole();
}

void PartialObject::MaybeWhole() {
  std::function<void(const Status&)> call;
  Status outcome;
  {
    std::lock_guard lock(mu_);
    if (!whole_ || whole_called_) return;
    if (present_ == blocks_.size()) {
      outcome = Status();
    } else if (!gave_up_.ok()) {
      outcome = gave_up_;
    } else if (cancelled_ && chunks_running_ == 0) {
      outcome = Status::FromErrno(
          ECANCELED, "object " + digest_.ToString() + ": cancelled");
    } else {
      return;
    }
    whole_called_ = true;
    call = std::move(whole_);
  }
  call(outcome);
}

Status PartialObject::AddToStore() {
  std::unique_ptr<StoreWriter::ObjectFile> file;
  {
    std::lock_guard lock(mu_);
    file = std::move(file_);
  }
  if (file == nullptr) {
    return Status::FromErrno(
        EINVAL, "object " + digest_.ToString() + ": already added");
  }
  return writer_->AddObjectFile(std::move(file), digest_);
}

void PartialObject::Cancel() {
  std::unordered_map<uint64_t, std::shared_ptr<FetchTicket>> tickets;
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    tickets.swap(tickets_);
  }
  for (auto& [first, ticket] : tickets) ticket->Cancel();
  MaybeWhole();
}

}  // namespace sealfs::remote
