// SPDX-License-Identifier: Apache-2.0
// Snapshots of the driver counters for the stats ioctl.
#include "fs/fuse/stats.h"

namespace sealfs::fuse {
namespace {

#define SEALFS_STATS_NAME_(name) #name,
constexpr const char* kNames[] = {SEALFS_STATS_COUNTERS(SEALFS_STATS_NAME_)};
#undef SEALFS_STATS_NAME_
constexpr int kCount = static_cast<int>(sizeof(kNames) / sizeof(kNames[0]));
static_assert(kCount <= kStatsMaxCounters);

}  // namespace

void Stats::Snapshot(StatsRecord* rec) const {
  int i = 0;
#define SEALFS_STATS_LOAD_(name) \
  rec->counters[i++] = name.load(std::memory_order_relaxed);
  SEALFS_STATS_COUNTERS(SEALFS_STATS_LOAD_)
#undef SEALFS_STATS_LOAD_
  rec->counter_count = static_cast<uint32_t>(i);
}

const char* const* StatsCounterNames(int* count) {
  *count = kCount;
  return kNames;
}

}  // namespace sealfs::fuse
