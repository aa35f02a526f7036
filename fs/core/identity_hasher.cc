// SPDX-License-Identifier: Apache-2.0
#include "fs/core/identity_hasher.h"

#include <algorithm>
#include <system_error>

#include "fs/core/manifest_validate.h"
#include "sealfs/format.h"

namespace sealfs {
namespace {

// Below this a thread costs more than it saves: measured with `sealfs
// inspect`, +0.8 ms at 137 KB, +0.4 ms at 369 KB, even at 740 KB.
constexpr size_t kThreadMinSize = size_t{1} << 20;

// From this size on the multi-buffer hasher repays its set-up (a few ms,
// once per process). Below it, the bytes arrive no faster than one block at
// a time hashes them, and setting up only held mounts up (3.5 ms for a
// 6.4 MB image). At 10 MB the identity was ready 0.6 ms sooner with it, at
// 32 MB 8.9 ms sooner (medians of 21 mounts).
constexpr size_t kMultiBufferMinSize = size_t{8} << 20;

// The unit of work the two hashing threads take turns at: small enough that
// neither waits long for the other at the end, large enough to keep the
// multi-buffer lanes full and the lock rarely taken.
constexpr uint64_t kChunkBlocks = 64;
constexpr uint64_t kChunkBytes = kChunkBlocks * kBlockSize;

}  // namespace

IdentityHasher::~IdentityHasher() { Stop(/*failed=*/true); }

void IdentityHasher::Started(size_t size) {
  const bool hash = size >= kThreadMinSize;
  if (!hash && !alongside_) return;
  file_size_ = size;
  how_ = size >= kMultiBufferMinSize ? BlockHashing::kFastest
                                     : BlockHashing::kOneAtATime;
  hashing_ = hash;
  try {
    thread_ = std::thread([this] {
      if (alongside_) alongside_();
      if (!hashing_) return;
      // Faults in the hashing code (and resolves its symbols) while the
      // first bytes are read.
      (void)Sha256({});
      HashChunks(/*wait=*/true);
    });
  } catch (const std::system_error&) {
    // No thread to be had (a limit on threads or memory): Finish() then
    // gives nothing, and the caller hashes in line.
    hashing_ = false;
    if (alongside_) alongside_();
  }
}

void IdentityHasher::Ready(std::span<const uint8_t> ready) {
  if (!hashing_) return;
  {
    std::lock_guard lock(mu_);
    ready_ = ready;
  }
  more_.notify_one();
}

void IdentityHasher::Failed() { Stop(/*failed=*/true); }

void IdentityHasher::Stop(bool failed) {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    failed_ = failed_ || failed;
    closed_ = true;
  }
  more_.notify_one();
  thread_.join();
}

bool IdentityHasher::PlanLocked() {
  if (failed_) return false;
  if (planned_) return true;
  Result<ManifestHeader> header = ReadAt<ManifestHeader>(ready_, 0);
  if (!header.ok()) return false;  // not all of it read yet
  planned_ = true;
  end_ = header->manifest_size.value();
  // Beyond the file the bytes would stop short (and validation refuses the
  // image); the bound also keeps a hostile size from sizing leaves_.
  if (end_ == 0 || end_ > file_size_) {
    failed_ = true;
    return false;
  }
  chunks_ = (end_ + kChunkBytes - 1) / kChunkBytes;
  leaves_.resize((end_ + kBlockSize - 1) / kBlockSize);
  return true;
}

void IdentityHasher::HashChunks(bool wait) {
  for (;;) {
    uint64_t chunk;
    std::span<const uint8_t> bytes;
    {
      std::unique_lock lock(mu_);
      if (wait) {
        more_.wait(lock, [&] { return closed_ || PlanLocked() || failed_; });
      }
      if (!PlanLocked() || next_chunk_ >= chunks_) return;
      chunk = next_chunk_++;
      const uint64_t begin = chunk * kChunkBytes;
      const uint64_t end = std::min(end_, begin + kChunkBytes);
      if (wait) {
        more_.wait(lock,
                   [&] { return closed_ || failed_ || ready_.size() >= end; });
      }
      if (failed_) return;
      if (ready_.size() < end) {  // the file ended first
        failed_ = true;
        return;
      }
      bytes = ready_.subspan(begin, end - begin);
    }
    // Only the thread may set up the multi-buffer hasher: for the caller's
    // share of the tail, a set-up of its own would cost more than it saves.
    HashDataBlocks(bytes, leaves_.data() + chunk * kChunkBlocks,
                   wait ? how_ : BlockHashing::kOneAtATime);
  }
}

std::optional<Digest> IdentityHasher::Finish(uint64_t manifest_size) {
  if (!hashing_ || !thread_.joinable()) {    // no hashing, or stopped
    if (thread_.joinable()) thread_.join();  // alongside_ only
    return std::nullopt;
  }
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    if (!PlanLocked() || end_ != manifest_size) failed_ = true;
  }
  more_.notify_one();
  HashChunks(/*wait=*/false);
  thread_.join();
  if (failed_) return std::nullopt;
  return DigestFromLeaves(end_, leaves_, how_);
}

}  // namespace sealfs
