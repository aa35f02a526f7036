// SPDX-License-Identifier: Apache-2.0
// PullObjects: with --verify, workers first re-hash the objects already
// present and quarantine bad ones; then every missing object goes to an
// ObjectFetcher, a window of them at a time, with a commit every few seconds
// or hundred megabytes.
#include "fs/remote/pull.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "fs/core/store_io.h"
#include "fs/remote/local_check.h"
#include "fs/store/quarantine.h"
#include "sealfs/format.h"

namespace sealfs::remote {
namespace {

// Objects and bytes handed to the fetcher and not yet done: enough to keep
// every connection busy (and at least four of the source's batches), few
// enough that the bytes waiting to be hashed stay small.
constexpr size_t kWindowObjects = 256;
constexpr uint64_t kWindowBytes = uint64_t{64} << 20;
// A commit (one syncfs, then the links) at least this often, so that a kill
// loses at most about this much work.
constexpr uint64_t kCommitBytes = uint64_t{256} << 20;
constexpr auto kCommitInterval = std::chrono::seconds(2);

class Puller {
 public:
  Puller(std::shared_ptr<ObjectSource> source, std::shared_ptr<Store> store,
         const std::vector<PullItem>& items, const PullOptions& options,
         Progress* progress)
      : source_(std::move(source)),
        store_(std::move(store)),
        items_(items),
        options_(options),
        quarantine_(store_->dir_fd(), options.format_record),
        progress_(progress) {}

  Result<PullReport> Run() {
    std::vector<const PullItem*> missing;
    if (options_.verify) {
      missing = Check();
    } else {
      for (const PullItem& item : items_) missing.push_back(&item);
    }
    SEALFS_RETURN_IF_ERROR(Fetch(missing));
    report_.objects = items_.size();
    report_.trees_fixed = trees_fixed_.load();
    std::sort(report_.failures.begin(), report_.failures.end(),
              [](const PullFailure& a, const PullFailure& b) {
                return a.digest < b.digest;
              });
    return std::move(report_);
  }

 private:
  // For verify: sorts the items into present and missing, re-hashes the
  // present ones on every CPU (counted as skipped if good), quarantines
  // corrupt ones and counts them as missing.
  std::vector<const PullItem*> Check() {
    std::vector<const PullItem*> missing;
    std::vector<const PullItem*> present;
    for (const PullItem& item : items_) {
      (store_->HasObject(item.digest) ? present : missing).push_back(&item);
    }
    std::atomic<size_t> next{0};
    std::mutex mu;
    auto work = [&] {
      for (size_t i; (i = next.fetch_add(1)) < present.size();) {
        const PullItem& item = *present[i];
        Status st = CheckOne(item);
        std::lock_guard lock(mu);
        if (st.ok()) {
          Skip(item);
        } else if (st.err() == EAGAIN) {
          repairing_.insert(item.digest);
          missing.push_back(&item);
        } else {
          Fail(item, st);
        }
      }
    };
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < std::max(1u, std::thread::hardware_concurrency());
         ++i) {
      try {
        threads.emplace_back(work);
      } catch (const std::system_error&) {
        break;
      }
    }
    work();
    for (std::thread& t : threads) t.join();
    return missing;
  }

  // OK if the local copy is good; EAGAIN once a bad one is quarantined (it
  // is then fetched); another error if it cannot be checked.
  Status CheckOne(const PullItem& item) {
    bool tree_fixed = false;
    std::optional<Digest> actual;
    Status check =
        CheckLocalObject(*store_, item.digest, item.size, &tree_fixed, &actual);
    if (tree_fixed) trees_fixed_.fetch_add(1);
    if (check.ok()) return check;
    if (check.err() != kErrDigest && check.err() != kErrCorrupt) {
      return check;  // an I/O error says nothing about the content
    }
    Result<std::string> moved =
        QuarantineObject(item.digest, check.ToString(), actual);
    if (!moved.ok() && moved.status().err() != ENOENT) {
      return moved.status().WithPrefix("quarantine");
    }
    return Status::FromErrno(EAGAIN, "quarantined");
  }

  // Moves the object into quarantine/ (the layout fsck uses) and removes
  // its tree, which is rebuilt from the good copy. ENOENT if the object is
  // gone already (a concurrent quarantine).
  Result<std::string> QuarantineObject(const Digest& digest,
                                       const std::string& reason,
                                       const std::optional<Digest>& actual) {
    const int dir = store_->dir_fd();
    SEALFS_ASSIGN_OR_RETURN(UniqueFd odir,
                            OpenFanoutDir(dir, kObjectsDir, digest, false));
    store::QuarantineRecord record;
    record.original = Store::ObjectPath(digest);
    record.reason = reason;
    record.expected = digest.ToString();
    if (actual.has_value()) record.actual = actual->ToString();
    const std::string leaf = LeafName(digest);
    SEALFS_ASSIGN_OR_RETURN(
        std::string moved,
        quarantine_.Move(odir.get(), leaf, digest.Hex(), std::move(record)));
    Result<UniqueFd> tdir = OpenFanoutDir(dir, kTreesDir, digest, false);
    if (tdir.ok()) (void)::unlinkat(tdir->get(), leaf.c_str(), 0);
    return moved;
  }

  // Fetches `missing`, a window at a time, committing as it goes. Unless
  // verify sorted them already, each is looked for in the store first,
  // here, while the previous ones are in flight.
  Status Fetch(const std::vector<const PullItem*>& missing) {
    FetcherOptions fetcher_options;
    fetcher_options.durability = Durability::kSynced;
    fetcher_options.probe_store = false;
    ObjectFetcher fetcher(store_, source_, fetcher_options);
    auto last_commit = std::chrono::steady_clock::now();
    uint64_t uncommitted = 0;
    Status commit;
    // Objects go to the fetcher in batches, so that a source can serve
    // neighbours in one transfer.
    const ObjectSource::Batching batching = fetcher.batching();
    const size_t window_objects =
        std::max(kWindowObjects, 4 * batching.objects);
    std::vector<PullItem> batch;
    uint64_t batch_bytes = 0;
    auto send = [&] {
      if (batch.empty()) return;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] {
          return outstanding_ < window_objects &&
                 outstanding_bytes_ < kWindowBytes;
        });
        outstanding_ += batch.size();
        outstanding_bytes_ += batch_bytes;
      }
      fetcher.FetchManyAsync(batch, options_.priority,
                             [this](const PullItem& item, const Status& st) {
                               Fetched(item, st);
                             });
      uncommitted += batch_bytes;
      batch.clear();
      batch_bytes = 0;
    };
    for (const PullItem* item : missing) {
      if (!options_.verify && store_->HasObject(item->digest)) {
        std::lock_guard lock(mu_);
        Skip(*item);
        continue;
      }
      batch.push_back(*item);
      batch_bytes += item->size;
      if (batch.size() >= batching.objects || batch_bytes >= batching.bytes) {
        send();
      }
      const auto now = std::chrono::steady_clock::now();
      if (uncommitted >= kCommitBytes || now - last_commit >= kCommitInterval) {
        commit = fetcher.Commit();
        if (!commit.ok()) break;
        uncommitted = 0;
        last_commit = now;
      }
    }
    if (commit.ok()) send();
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return outstanding_ == 0; });
    }
    if (commit.ok()) commit = fetcher.Commit();
    return commit;
  }

  void Fetched(const PullItem& item, const Status& st) {
    if (progress_ != nullptr) progress_->Add(item.size);
    {
      std::lock_guard lock(mu_);
      if (st.ok()) {
        ++report_.fetched;
        report_.fetched_bytes += item.size;
        if (repairing_.contains(item.digest)) ++report_.repaired;
      } else {
        report_.failures.push_back({item.digest, st.ToString()});
      }
      --outstanding_;
      outstanding_bytes_ -= item.size;
    }
    cv_.notify_all();
  }

  // REQUIRES: mu_ held, or only one thread running.
  void Skip(const PullItem& item) {
    ++report_.skipped;
    report_.skipped_bytes += item.size;
    if (progress_ != nullptr) progress_->Add(item.size);
  }
  void Fail(const PullItem& item, const Status& st) {
    report_.failures.push_back({item.digest, st.ToString()});
    if (progress_ != nullptr) progress_->Add(item.size);
  }

  const std::shared_ptr<ObjectSource> source_;
  const std::shared_ptr<Store> store_;
  const std::vector<PullItem>& items_;
  const PullOptions options_;
  store::Quarantine quarantine_;
  Progress* progress_;
  std::atomic<uint64_t> trees_fixed_{0};

  std::mutex mu_;  // guards the members below
  std::condition_variable cv_;
  size_t outstanding_ = 0;
  uint64_t outstanding_bytes_ = 0;
  std::unordered_set<Digest, DigestHash> repairing_;
  PullReport report_;
};

}  // namespace

Result<std::vector<PullItem>> ObjectsOf(const Manifest& manifest) {
  std::unordered_map<Digest, uint64_t, DigestHash> sizes;
  std::vector<PullItem> items;
  for (uint64_t ino = 1; ino <= manifest.inode_count(); ++ino) {
    SEALFS_ASSIGN_OR_RETURN(Inode inode, manifest.GetInode(ino));
    if (!S_ISREG(inode.mode) || inode.is_inline()) continue;
    SEALFS_ASSIGN_OR_RETURN(Digest digest, manifest.FileDigest(ino));
    auto [it, inserted] = sizes.try_emplace(digest, inode.size);
    if (inserted) {
      items.push_back({digest, inode.size});
    } else if (it->second != inode.size) {
      return Status::Corrupt("manifest: object " + digest.ToString() +
                             " has two sizes (" + std::to_string(it->second) +
                             " and " + std::to_string(inode.size) + ")");
    }
  }
  return items;
}

Result<PullReport> PullObjects(const std::shared_ptr<ObjectSource>& source,
                               const std::shared_ptr<Store>& store,
                               const std::vector<PullItem>& items,
                               const PullOptions& options, Progress* progress) {
  Puller puller(source, store, items, options, progress);
  return puller.Run();
}

}  // namespace sealfs::remote
