// SPDX-License-Identifier: Apache-2.0
// PullObjects: a pool of workers, each taking the next object, checking the
// store, fetching through the shared StoreWriter; a batch commit every few
// hundred objects or megabytes or every second.
#include "fs/remote/pull.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

#include "fs/core/store_io.h"
#include "fs/remote/fetch.h"
#include "fs/remote/local_check.h"
#include "fs/store/quarantine.h"
#include "sealfs/format.h"

namespace sealfs::remote {
namespace {

// A commit (one syncfs, then the links) at least this often, so that a kill
// loses at most about this much work.
constexpr uint64_t kCommitObjects = 256;
constexpr uint64_t kCommitBytes = uint64_t{64} << 20;
constexpr auto kCommitInterval = std::chrono::seconds(1);

class Puller {
 public:
  Puller(ObjectSource& source, std::shared_ptr<Store> store,
         const std::vector<PullItem>& items, const PullOptions& options,
         Progress* progress)
      : source_(source),
        store_(std::move(store)),
        writer_(store_),
        items_(items),
        options_(options),
        quarantine_(store_->dir_fd(), options.format_record),
        progress_(progress),
        last_commit_(std::chrono::steady_clock::now()) {}

  Result<PullReport> Run() {
    const unsigned jobs = std::clamp(options_.jobs, 1u, 64u);
    std::vector<std::thread> workers;
    for (unsigned i = 1; i < jobs; ++i)
      workers.emplace_back([this] { Work(); });
    Work();
    for (std::thread& t : workers) t.join();
    {
      std::lock_guard lock(commit_mu_);
      if (commit_failed_.ok()) commit_failed_ = writer_.Commit();
    }
    if (!commit_failed_.ok()) return commit_failed_;
    report_.objects = items_.size();
    std::sort(report_.failures.begin(), report_.failures.end(),
              [](const PullFailure& a, const PullFailure& b) {
                return a.digest < b.digest;
              });
    return std::move(report_);
  }

 private:
  void Work() {
    for (;;) {
      const size_t i = next_.fetch_add(1);
      if (i >= items_.size()) return;
      {
        std::lock_guard lock(commit_mu_);
        if (!commit_failed_.ok()) return;
      }
      const PullItem& item = items_[i];
      Status st = PullOne(item);
      if (progress_ != nullptr) progress_->Add(item.size);
      if (!st.ok()) {
        std::lock_guard lock(report_mu_);
        report_.failures.push_back({item.digest, st.ToString()});
      }
    }
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

  Status PullOne(const PullItem& item) {
    bool repairing = false;
    if (store_->HasObject(item.digest)) {
      if (!options_.verify) {
        Count(&report_.skipped, &report_.skipped_bytes, item.size);
        return {};
      }
      bool tree_fixed = false;
      std::optional<Digest> actual;
      Status check = CheckLocalObject(*store_, item.digest, item.size,
                                      &tree_fixed, &actual);
      if (tree_fixed) {
        std::lock_guard lock(report_mu_);
        ++report_.trees_fixed;
      }
      if (check.ok()) {
        Count(&report_.skipped, &report_.skipped_bytes, item.size);
        return {};
      }
      if (check.err() != kErrDigest && check.err() != kErrCorrupt) {
        return check;  // an I/O error says nothing about the content
      }
      Result<std::string> moved =
          QuarantineObject(item.digest, check.ToString(), actual);
      if (!moved.ok() && moved.status().err() != ENOENT) {
        return moved.status().WithPrefix("quarantine");
      }
      repairing = true;
    }
    SEALFS_RETURN_IF_ERROR(
        FetchObject(source_, writer_, item.digest, item.size));
    Count(&report_.fetched, &report_.fetched_bytes, item.size);
    if (repairing) {
      std::lock_guard lock(report_mu_);
      ++report_.repaired;
    }
    MaybeCommit(item.size);
    return {};
  }

  void Count(uint64_t* objects, uint64_t* bytes, uint64_t size) {
    std::lock_guard lock(report_mu_);
    ++*objects;
    *bytes += size;
  }

  void MaybeCommit(uint64_t size) {
    std::lock_guard lock(commit_mu_);
    ++uncommitted_objects_;
    uncommitted_bytes_ += size;
    const auto now = std::chrono::steady_clock::now();
    if (uncommitted_objects_ < kCommitObjects &&
        uncommitted_bytes_ < kCommitBytes &&
        now - last_commit_ < kCommitInterval) {
      return;
    }
    if (commit_failed_.ok()) commit_failed_ = writer_.Commit();
    uncommitted_objects_ = 0;
    uncommitted_bytes_ = 0;
    last_commit_ = now;
  }

  ObjectSource& source_;
  std::shared_ptr<Store> store_;
  StoreWriter writer_;  // thread-safe
  const std::vector<PullItem>& items_;
  const PullOptions options_;
  store::Quarantine quarantine_;
  Progress* progress_;
  std::atomic<size_t> next_{0};

  std::mutex report_mu_;
  PullReport report_;  // guarded by report_mu_

  std::mutex commit_mu_;  // guards the members below
  uint64_t uncommitted_objects_ = 0;
  uint64_t uncommitted_bytes_ = 0;
  std::chrono::steady_clock::time_point last_commit_;
  Status commit_failed_;
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

Result<PullReport> PullObjects(ObjectSource& source,
                               const std::shared_ptr<Store>& store,
                               const std::vector<PullItem>& items,
                               const PullOptions& options, Progress* progress) {
  Puller puller(source, store, items, options, progress);
  return puller.Run();
}

}  // namespace sealfs::remote
