// SPDX-License-Identifier: Apache-2.0
// Memory for one read reply. Small reads use a buffer each thread keeps;
// large ones (kernel readahead, up to a request's maximum) borrow one of a
// few shared buffers, so the daemon's memory does not grow with its thread
// count: a 1 MiB buffer kept by each of 8 threads would hold 8 MiB of RSS
// for good after a single sequential read.
// Thread-safety: a ReadBuffer belongs to one request; the pool is locked.
#ifndef SEALFS_FS_FUSE_READ_BUFFER_H_
#define SEALFS_FS_FUSE_READ_BUFFER_H_

#include <cstddef>
#include <cstdint>

namespace sealfs::fuse {

// The largest read request the kernel sends (via max_write => max_pages).
// Larger requests would mean fewer round trips, but each request's bytes
// are copied in (pread), hashed and copied out (the reply), and at 1 MiB
// they no longer stay in the CPU's cache between the three: a cold 1 GiB
// read cost the daemon 4.4 s of CPU with 1 MiB requests, 1.7 s with 256 KiB
// (and ran at 1.3-2x the throughput).
inline constexpr size_t kMaxRequestBytes = 256 * 1024;

// Objects up to this size are read and verified whole at their first read
// (Filesystem::Read), so one read buffer must hold them.
inline constexpr uint64_t kWholeObjectBytes = kMaxRequestBytes;

// Reads up to this size use the calling thread's own buffer.
inline constexpr size_t kThreadBufferBytes = 128 * 1024;

class ReadBuffer {
 public:
  ReadBuffer() = default;
  ~ReadBuffer();  // gives a borrowed buffer back (or frees it)
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;

  // Returns `n` writable bytes, valid until this object is destroyed. Never
  // fails: memory exhaustion ends the process, as for any allocation.
  // REQUIRES: called at most once.
  uint8_t* Reserve(size_t n);

 private:
  uint8_t* large_ = nullptr;  // borrowed or mapped for this read
  size_t large_bytes_ = 0;
};

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_READ_BUFFER_H_
