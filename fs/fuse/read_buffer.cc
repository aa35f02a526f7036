// SPDX-License-Identifier: Apache-2.0
// ReadBuffer: per-thread small buffers and a small pool of large ones. Large
// buffers are mapped directly rather than taken from malloc, whose arenas
// would keep freed megabytes resident.
#include "fs/fuse/read_buffer.h"

#include <sys/mman.h>

#include <memory>
#include <mutex>
#include <new>
#include <vector>

namespace sealfs::fuse {
namespace {

// The largest read the kernel sends, widened to whole blocks on both ends.
constexpr size_t kLargeBufferBytes = kMaxRequestBytes + 2 * 4096;
// Large buffers kept for reuse: one per default worker thread, as a 4 MiB
// readahead window keeps many requests in flight (2 MiB in all); more
// concurrent large reads map and unmap their own, which costs page faults.
constexpr size_t kPooledLargeBuffers = 8;

uint8_t* MapBytes(size_t n) {
  void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();  // caught by the op handler
  return static_cast<uint8_t*>(p);
}

class LargeBufferPool {
 public:
  uint8_t* Take() {
    {
      std::lock_guard lock(mu_);
      if (!free_.empty()) {
        uint8_t* p = free_.back();
        free_.pop_back();
        return p;
      }
    }
    return MapBytes(kLargeBufferBytes);
  }

  void Give(uint8_t* p) {
    {
      std::lock_guard lock(mu_);
      if (free_.size() < kPooledLargeBuffers) {
        free_.push_back(p);
        return;
      }
    }
    ::munmap(p, kLargeBufferBytes);
  }

 private:
  std::mutex mu_;
  std::vector<uint8_t*> free_;
};

LargeBufferPool& Pool() {
  static LargeBufferPool* pool = new LargeBufferPool();  // never destroyed
  return *pool;
}

thread_local std::unique_ptr<uint8_t[]> thread_buffer;

}  // namespace

ReadBuffer::~ReadBuffer() {
  if (large_ == nullptr) return;
  if (large_bytes_ == kLargeBufferBytes) {
    Pool().Give(large_);
  } else {
    ::munmap(large_, large_bytes_);
  }
}

uint8_t* ReadBuffer::Reserve(size_t n) {
  if (n <= kThreadBufferBytes) {
    // Not value-initialised: every byte handed out is overwritten first.
    if (thread_buffer == nullptr) {
      thread_buffer.reset(new uint8_t[kThreadBufferBytes]);
    }
    return thread_buffer.get();
  }
  if (n <= kLargeBufferBytes) {
    large_ = Pool().Take();
    large_bytes_ = kLargeBufferBytes;
  } else {
    large_ = MapBytes(n);
    large_bytes_ = n;
  }
  return large_;
}

}  // namespace sealfs::fuse
