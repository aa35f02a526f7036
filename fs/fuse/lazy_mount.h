// SPDX-License-Identifier: Apache-2.0
// Setting up the lazy fetch of a remote= (or docker://) mount: how to reach
// the source, the fetcher that brings missing objects into the store, and
// the background fetch of prefetch=. Shared by a standalone mount and the
// service, so that both fetch alike. Reentrant.
#ifndef SEALFS_FS_FUSE_LAZY_MOUNT_H_
#define SEALFS_FS_FUSE_LAZY_MOUNT_H_

#include <memory>
#include <string>

#include "fs/fuse/mount_options.h"
#include "fs/remote/background_fetch.h"
#include "fs/remote/object_fetcher.h"
#include "fs/remote/object_source.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/status.h"
#include "sealfs/store.h"

namespace sealfs::fuse {

// How to reach a remote= or docker:// source, from the mount options.
remote::SourceOptions SourceOptionsFor(const MountOptions& options);

// What one lazy mount fetches with. Both belong to that mount: destroying
// them cancels its transfers and stops its background thread.
struct LazyFetch {
  std::shared_ptr<remote::ObjectFetcher> fetcher;
  std::unique_ptr<remote::BackgroundFetch> background;  // null: prefetch=none
};

// Sets up fetching into `store` (writable) from `source`, or, if null,
// from options.remote. `label` names the image in log lines; `whole` runs
// when the background fetch has everything. A prefetch=FILE listing paths
// the image lacks sets `*warning`. Errors: the source's (prefixed
// "remote"), prefetch=FILE's (read, or kErrCorrupt for a bad line).
// REQUIRES: options.remote not empty, or source not null.
Result<LazyFetch> SetUpLazyFetch(const MountOptions& options,
                                 const std::string& label,
                                 std::unique_ptr<remote::ObjectSource> source,
                                 std::shared_ptr<Store> store,
                                 const Manifest& manifest,
                                 remote::BackgroundFetch::Whole whole,
                                 std::string* warning);

// What to run when a mount of an image read from registry reference `ref`
// (docker://...) has every object: keep the image as
// STORE/images/<remote::RegistryImageName(ref)>, a root for gc that mounts
// again without the registry (not before: a tag promises its objects are
// present). Logs the outcome. EINVAL for a `ref` that does not parse.
Result<remote::BackgroundFetch::Whole> KeepWhenWhole(
    const std::string& ref, std::shared_ptr<Store> store,
    std::shared_ptr<const Manifest> manifest);

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_LAZY_MOUNT_H_
