// SPDX-License-Identifier: Apache-2.0
// The fetcher and background fetch of a lazy mount.
#include "fs/fuse/lazy_mount.h"

#include <utility>
#include <vector>

#include "fs/core/store_lock.h"
#include "fs/fuse/log.h"
#include "fs/remote/access_list.h"
#include "fs/remote/registry_ref.h"
#include "fs/remote/registry_source.h"
#include "fs/store/tags.h"
#include "fs/util/io.h"

namespace sealfs::fuse {
namespace {

// The background fetch: null for prefetch=none; else every object of the
// image, those of the files prefetch=FILE lists first.
Result<std::unique_ptr<remote::BackgroundFetch>> PlanBackgroundFetch(
    const MountOptions& options, const std::string& label,
    const Manifest& manifest, std::shared_ptr<remote::ObjectFetcher> fetcher,
    remote::BackgroundFetch::Whole whole, std::string* warning) {
  using Prefetch = MountOptions::Prefetch;
  if (options.prefetch == Prefetch::kNone) {
    return std::unique_ptr<remote::BackgroundFetch>();
  }
  std::vector<uint8_t> list;
  if (options.prefetch == Prefetch::kList) {
    SEALFS_ASSIGN_OR_RETURN(list, ReadFileBytes(options.prefetch_list,
                                                remote::kMaxAccessListBytes));
  }
  uint64_t unknown = 0;
  Result<std::vector<remote::PullItem>> order = remote::PrefetchOrder(
      manifest,
      std::string_view(reinterpret_cast<const char*>(list.data()), list.size()),
      &unknown);
  if (!order.ok()) {
    return order.status().WithPrefix("prefetch=" + options.prefetch_list);
  }
  if (unknown > 0) {
    *warning = "prefetch=" + options.prefetch_list + ": " +
               std::to_string(unknown) + " paths not in the image";
  }
  return std::make_unique<remote::BackgroundFetch>(
      std::move(fetcher), std::move(*order),
      [label](const std::string& line) { Log(LOG_INFO, label + ": " + line); },
      std::move(whole));
}

// Writes `image` as STORE/images/NAME.
Status KeepImage(const Store& store, const std::string& name,
                 std::span<const uint8_t> image) {
  SEALFS_ASSIGN_OR_RETURN(
      StoreLock lock,
      StoreLock::Acquire(store.dir_fd(), StoreLock::Kind::kShared, true));
  return store::WriteTag(store, name, image).WithPrefix("keeping the image");
}

}  // namespace

Result<remote::BackgroundFetch::Whole> KeepWhenWhole(
    const std::string& ref, std::shared_ptr<Store> store,
    std::shared_ptr<const Manifest> manifest) {
  SEALFS_ASSIGN_OR_RETURN(remote::RegistryRef parsed,
                          remote::ParseRegistryRef(ref, true));
  return remote::BackgroundFetch::Whole(
      [store = std::move(store), name = remote::RegistryImageName(parsed),
       manifest = std::move(manifest), label = ref] {
        // The validated private copy: the image file is its manifest
        // bytes and the signatures after them.
        std::vector<uint8_t> image(manifest->manifest_bytes().begin(),
                                   manifest->manifest_bytes().end());
        image.insert(image.end(), manifest->trailer_bytes().begin(),
                     manifest->trailer_bytes().end());
        Status kept = KeepImage(*store, name, image);
        Log(kept.ok() ? LOG_INFO : LOG_ERR,
            label + ": " +
                (kept.ok() ? "kept as images/" + name : kept.ToString()));
      });
}

remote::SourceOptions SourceOptionsFor(const MountOptions& options) {
  remote::SourceOptions o;
  o.limits.connect_timeout_s = options.remote_timeout_s;
  o.limits.stall_timeout_s = options.remote_timeout_s;
  o.connections = options.remote_connections;
  o.tls_verify = options.tls_verify;
  o.cert_dir = options.cert_dir;
  o.authfile = options.authfile;
  return o;
}

Result<LazyFetch> SetUpLazyFetch(const MountOptions& options,
                                 const std::string& label,
                                 std::unique_ptr<remote::ObjectSource> source,
                                 std::shared_ptr<Store> store,
                                 const Manifest& manifest,
                                 remote::BackgroundFetch::Whole whole,
                                 std::string* warning) {
  if (source == nullptr) {
    Result<std::unique_ptr<remote::ObjectSource>> opened =
        remote::OpenObjectSource(options.remote, SourceOptionsFor(options));
    if (!opened.ok()) return opened.status().WithPrefix("remote");
    source = std::move(*opened);
  }
  remote::FetcherOptions fetcher_options;
  fetcher_options.durability = Durability::kUnsynced;
  fetcher_options.range_reads = true;
  LazyFetch lazy;
  lazy.fetcher = std::make_shared<remote::ObjectFetcher>(
      std::move(store), std::move(source), fetcher_options);
  SEALFS_ASSIGN_OR_RETURN(
      lazy.background,
      PlanBackgroundFetch(options, label, manifest, lazy.fetcher,
                          std::move(whole), warning));
  return lazy;
}

}  // namespace sealfs::fuse
