// SPDX-License-Identifier: Apache-2.0
// IdleReaper: one thread per process that asks each watched filesystem,
// once a second, to drop the file handles nobody will release. A kernel that
// opens files without asking (FUSE_CAP_NO_OPEN_SUPPORT) sends no RELEASE,
// and a process that took a session over never saw its opens, so without
// this a 1 GiB file read once would keep its verified tree (8 MiB) until
// hundreds of other files had been read. The thread starts with the first
// watched filesystem and sleeps while none is watched. Thread-safe.
#ifndef SEALFS_FS_FUSE_IDLE_REAPER_H_
#define SEALFS_FS_FUSE_IDLE_REAPER_H_

#include <cstdint>
#include <functional>

namespace sealfs::fuse {

// Called once a second while watched, with nothing else held; returns
// false when it holds nothing more to drop (it is then unwatched until the
// next Watch).
using DropIdle = std::function<bool()>;

// Watches `key` (its owner's address) with `drop`; a no-op if already
// watched. Never call it while holding a lock that `drop` takes.
void WatchIdle(const void* key, DropIdle drop);
// Stops watching `key`. Once it returns, `drop` is not running and is never
// called again, so the owner may be destroyed.
void UnwatchIdle(const void* key);

// Seconds on a clock cheap enough to read on every request, for idle times.
int64_t CoarseSeconds();

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_IDLE_REAPER_H_
