// SPDX-License-Identifier: Apache-2.0
// The vocabulary every transfer shares, whatever carries it: how urgent it
// is, and the bounds that keep a dead or stalling remote from costing more
// than a bounded wait. Plain values; thread-compatible.
#ifndef SEALFS_FS_REMOTE_TRANSFER_H_
#define SEALFS_FS_REMOTE_TRANSFER_H_

#include <cstdint>

namespace sealfs::remote {

// Queues are served most urgent first, and first come first served within
// a level. A transfer already running is never pre-empted.
enum class Priority : uint8_t {
  kUrgent = 0,      // a reader is waiting for these bytes
  kNormal = 1,      // a pull: someone waits for the whole set
  kBackground = 2,  // prefetch: nobody waits
};
inline constexpr int kPriorityLevels = 3;

// Bounds on one transfer (a request and its response), so a remote that is
// down or stalls costs a bounded wait, never a hang. Time spent queued
// behind other transfers does not count.
struct FetchLimits {
  unsigned connect_timeout_s = 10;  // TCP + TLS handshake
  unsigned stall_timeout_s = 10;    // below kLowSpeedBytes/s this long: abort
  unsigned total_timeout_s = 600;   // one whole request and response
};
inline constexpr long kLowSpeedBytes = 1024;  // bytes/s that count as a stall

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_TRANSFER_H_
