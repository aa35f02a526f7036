// SPDX-License-Identifier: Apache-2.0
// Driver counters, and the fixed-size record `sealfs stats` fetches with an
// ioctl on the mount's root directory (docs/DESIGN.md#stats).
// Thread-safety: counters are relaxed atomics, safe from every FUSE thread.
#ifndef SEALFS_FS_FUSE_STATS_H_
#define SEALFS_FS_FUSE_STATS_H_

#include <sys/ioctl.h>

#include <atomic>
#include <cstdint>
#include <type_traits>

namespace sealfs::fuse {

// One counter per line of `sealfs stats`. The order is the wire order.
#define SEALFS_STATS_COUNTERS(X)                                          \
  X(lookups)         /* lookup requests */                                \
  X(getattrs)        /* getattr requests */                               \
  X(readdirs)        /* readdir and readdirplus requests */               \
  X(opens)           /* opens of regular files (no-open: objects held) */ \
  X(open_objects)    /* store objects open now (gauge) */                 \
  X(reads)           /* read requests answered */                         \
  X(bytes_read)      /* bytes returned by reads */                        \
  X(blocks_verified) /* 4 KiB blocks checked against their Merkle tree */ \
  X(verify_failures) /* blocks that failed their check */                 \
  X(missing_objects) /* opens that found no object in the store */        \
  X(bad_objects)     /* objects whose size or tree was wrong at open */   \
  X(xattr_requests)  /* getxattr and listxattr requests */                \
  X(write_attempts)  /* requests refused with EROFS */                    \
  X(errors)          /* requests answered with any error */               \
  X(remote_objects)  /* fetches from remote= started (gauge) */           \
  X(remote_bytes)    /* bytes of objects fetched and stored (gauge) */    \
  X(prefetch_left)   /* objects the background fetch has yet to bring */  \
  X(pushed_objects)  /* small files verified into the page cache early */

inline constexpr uint32_t kStatsMagic = 0x54534C53;  // "SLST" little-endian
inline constexpr uint32_t kStatsVersion = 1;
inline constexpr int kStatsMaxCounters = 30;

// What the ioctl returns. Fixed size: the size is part of the ioctl number.
struct StatsRecord {
  uint32_t magic;          // kStatsMagic
  uint32_t version;        // kStatsVersion
  uint32_t counter_count;  // counters filled, in SEALFS_STATS_COUNTERS order
  uint32_t reserved;       // zero
  uint8_t identity[32];    // the mounted image's identity (raw digest)
  int64_t mounted_at_sec;  // CLOCK_REALTIME when the mount became ready
  uint64_t counters[kStatsMaxCounters];
};
static_assert(sizeof(StatsRecord) == 296);
static_assert(std::is_trivially_copyable_v<StatsRecord>);

// ioctl(fd of the mount root opened O_RDONLY|O_DIRECTORY, kStatsIoctl, &rec).
inline constexpr unsigned int kStatsIoctl = _IOR('S', 1, StatsRecord);

struct Stats {
#define SEALFS_STATS_FIELD_(name) std::atomic<uint64_t> name{0};
  SEALFS_STATS_COUNTERS(SEALFS_STATS_FIELD_)
#undef SEALFS_STATS_FIELD_

  static void Add(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.fetch_add(n, std::memory_order_relaxed);
  }
  static void Sub(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.fetch_sub(n, std::memory_order_relaxed);
  }

  // Fills `rec->counters` and `counter_count`.
  void Snapshot(StatsRecord* rec) const;
};

// Counter names in wire order; `count` receives how many.
const char* const* StatsCounterNames(int* count);

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_STATS_H_
