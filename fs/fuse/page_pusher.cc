// SPDX-License-Identifier: Apache-2.0
// PagePusher: a queue of inodes and one thread that verifies and pushes
// their objects. The thread and its state outlive the PagePusher when the
// kernel holds the thread in a store (see the header).
#include "fs/fuse/page_pusher.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/fuse.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_set>
#include <utility>

#include "fs/fuse/read_buffer.h"
#include "fs/util/io.h"

namespace sealfs::fuse {
namespace {

// Pushed objects: those verified whole, in one tree block.
constexpr uint64_t kMaxPushBytes = kWholeObjectBytes;
// Inodes waiting; beyond this a listing's tail is read the usual way.
constexpr size_t kMaxQueue = 4096;
// How long the destructor waits for the thread to leave.
constexpr auto kStopWait = std::chrono::seconds(1);
// The kernel learns a listed inode only once the lister has parsed the
// READDIRPLUS reply, just after the daemon sent it: a store that comes
// first finds no inode (ENOENT) and is tried again later, after 2, 4, 8,
// 16 and 32 ms (a lister slow to run on a busy machine).
constexpr auto kFirstRetryAfter = std::chrono::milliseconds(2);
constexpr int kMaxTries = 6;
// How recent a read of a small file must be for listed files to be pushed.
constexpr auto kWalkWindow = std::chrono::seconds(1);

// The fs-verity digest of `data`, at most one tree block's worth.
Digest WholeDigest(std::span<const uint8_t> data) {
  Digest leaves[kHashesPerBlock];
  HashDataBlocks(data, leaves);
  const size_t blocks = (data.size() + kBlockSize - 1) / kBlockSize;
  return DigestFromLeaves(data.size(), {leaves, blocks});
}

// Closes every descriptor of this thread's (private) table but `a` and `b`.
void CloseAllBut(int a, int b) {
  if (a > b) std::swap(a, b);
  if (a > 0) ::close_range(0, static_cast<unsigned>(a) - 1, 0);
  if (b > a + 1) ::close_range(a + 1, static_cast<unsigned>(b) - 1, 0);
  ::close_range(static_cast<unsigned>(b) + 1, ~0U, 0);
}

}  // namespace

struct PagePusher::State {
  using Clock = std::chrono::steady_clock;
  struct Item {
    uint64_t ino;
    Digest digest;
    uint64_t size;
    int tries = 0;
    Clock::time_point not_before{};  // for retries
  };
  enum class Outcome { kDone, kUnknownInode, kConnectionGone };
  enum class Phase { kIdle, kStarting, kRunning, kDone };

  std::shared_ptr<const Store> store;
  // The same number in both tables: the owner closes its copy, the thread
  // its own.
  int device = -1;
  std::mutex mu;
  std::condition_variable work;     // an item, or stop
  std::condition_variable changed;  // phase changed
  Phase phase = Phase::kIdle;       // guarded by mu
  bool stop = false;                // guarded by mu
  std::deque<Item> queue;           // guarded by mu
  std::deque<Item> retries;         // by not_before; guarded by mu
  // Queued inodes no read has reached the daemon for. Guarded by mu.
  std::unordered_set<uint64_t> unread;
  // When a small file was last read, in Clock ticks since its epoch.
  std::atomic<int64_t> last_small_read{0};
  std::atomic<uint64_t> pushed{0};

  // Whether a small file was read within kWalkWindow.
  bool Walking() const {
    const Clock::time_point last{
        Clock::duration(last_small_read.load(std::memory_order_relaxed))};
    return Clock::now() - last < kWalkWindow;
  }
  // Waits for the next item to push; false once stopped.
  bool Next(Item* item);
  // Verifies and pushes one object.
  Outcome Push(const Item& item, std::span<uint8_t> data);

  void SetPhase(Phase p) {
    {
      std::lock_guard<std::mutex> lock(mu);
      phase = p;
      if (p == Phase::kDone) stop = true;
    }
    changed.notify_all();
  }
};

PagePusher::PagePusher(std::shared_ptr<const Store> store, UniqueFd device)
    : state_(std::make_shared<State>()) {
  state_->store = std::move(store);
  state_->device = device.release();
}

PagePusher::~PagePusher() {
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->stop = true;
  state_->queue.clear();
  state_->retries.clear();
  state_->work.notify_all();
  // Enqueue waits out kStarting, so the thread has its own table by now
  // (closing our copy cannot free a number it will take for the device).
  state_->changed.wait_for(lock, kStopWait, [this] {
    return state_->phase == State::Phase::kIdle ||
           state_->phase == State::Phase::kDone;
  });
  lock.unlock();
  ::close(state_->device);
}

bool PagePusher::Wants(uint64_t size) {
  return size > 0 && size <= kMaxPushBytes;
}

void PagePusher::Enqueue(uint64_t ino, const Digest& digest, uint64_t size) {
  State& s = *state_;
  if (!Wants(size) || !s.Walking()) return;
  std::unique_lock<std::mutex> lock(s.mu);
  if (s.stop || s.queue.size() >= kMaxQueue) return;
  if (s.phase == State::Phase::kIdle) {
    s.phase = State::Phase::kStarting;
    try {
      std::thread(Run, state_).detach();
    } catch (const std::exception&) {
      s.phase = State::Phase::kDone;  // pushing is only an optimisation
      s.stop = true;
      return;
    }
    s.changed.wait(lock, [&s] { return s.phase != State::Phase::kStarting; });
    if (s.phase != State::Phase::kRunning) return;
  }
  if (!s.unread.insert(ino).second) return;  // queued already
  s.queue.push_back({ino, digest, size});
  if (s.queue.size() == 1) s.work.notify_one();
}

void PagePusher::NoteRead(uint64_t ino, uint64_t size) {
  if (Wants(size)) {
    state_->last_small_read.store(
        State::Clock::now().time_since_epoch().count(),
        std::memory_order_relaxed);
  }
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->unread.erase(ino);
}

uint64_t PagePusher::pushed() const {
  return state_->pushed.load(std::memory_order_relaxed);
}

void PagePusher::Run(std::shared_ptr<State> state) {
  State& s = *state;
  // A table of our own (see the header), or no pushing at all.
  if (::unshare(CLONE_FILES) != 0) {
    s.SetPhase(State::Phase::kDone);
    return;
  }
  CloseAllBut(s.store->dir_fd(), s.device);
  s.SetPhase(State::Phase::kRunning);
  const std::unique_ptr<uint8_t[]> buffer(new uint8_t[kMaxPushBytes]);
  State::Item item;
  while (s.Next(&item)) {
    const State::Outcome done = s.Push(item, {buffer.get(), item.size});
    if (done == State::Outcome::kConnectionGone) break;
    if (done == State::Outcome::kUnknownInode && ++item.tries < kMaxTries) {
      item.not_before =
          State::Clock::now() + kFirstRetryAfter * (1 << (item.tries - 1));
      std::lock_guard<std::mutex> lock(s.mu);
      if (s.unread.insert(item.ino).second) {
        auto at = std::upper_bound(
            s.retries.begin(), s.retries.end(), item.not_before,
            [](auto t, const State::Item& i) { return t < i.not_before; });
        s.retries.insert(at, item);
      }
    }
  }
  ::close(s.device);
  s.SetPhase(State::Phase::kDone);
}

bool PagePusher::State::Next(Item* item) {
  std::unique_lock<std::mutex> lock(mu);
  for (;;) {
    if (stop) return false;
    std::deque<Item>* from = nullptr;
    if (!retries.empty() && retries.front().not_before <= Clock::now()) {
      from = &retries;
    } else if (!queue.empty()) {
      from = &queue;
    } else if (!retries.empty()) {
      work.wait_until(lock, retries.front().not_before);
      continue;
    } else {
      work.wait(lock);
      continue;
    }
    *item = from->front();
    from->pop_front();
    if (unread.erase(item->ino) == 1) return true;  // else read meanwhile
  }
}

PagePusher::State::Outcome PagePusher::State::Push(const Item& item,
                                                   std::span<uint8_t> data) {
  // Anything wrong with the object is for the read to find and report.
  struct stat st;
  Result<UniqueFd> fd = store->OpenObject(item.digest, &st);
  if (!fd.ok() || static_cast<uint64_t>(st.st_size) != item.size) {
    return Outcome::kDone;
  }
  Result<size_t> got = PreadFull(fd->get(), data, 0);
  fd->reset();
  if (!got.ok() || *got != data.size() || WholeDigest(data) != item.digest) {
    return Outcome::kDone;
  }
  fuse_out_header header{};
  fuse_notify_store_out out{};
  header.len = static_cast<uint32_t>(sizeof(header) + sizeof(out) +
                                     data.size());
  header.error = FUSE_NOTIFY_STORE;
  out.nodeid = item.ino;
  out.size = static_cast<uint32_t>(data.size());
  iovec iov[] = {{&header, sizeof(header)},
                 {&out, sizeof(out)},
                 {data.data(), data.size()}};
  if (::writev(device, iov, 3) == static_cast<ssize_t>(header.len)) {
    pushed.fetch_add(1, std::memory_order_relaxed);
    return Outcome::kDone;
  }
  if (errno == ENOENT) return Outcome::kUnknownInode;
  if (errno == ENODEV || errno == ECONNABORTED || errno == EBADF) {
    return Outcome::kConnectionGone;
  }
  return Outcome::kDone;
}

}  // namespace sealfs::fuse
