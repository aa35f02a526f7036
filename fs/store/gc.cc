// SPDX-License-Identifier: Apache-2.0
// RunGc: lock, read every tag (refusing on any broken one), build the live
// set, then sweep objects/ and trees/ with one unlinkat per removal.
#include "fs/store/gc.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <limits>
#include <unordered_set>

#include "fs/store/scan.h"
#include "fs/store/tags.h"
#include "sealfs/format.h"

namespace sealfs::store {
namespace {

constexpr int64_t kMaxDurationS = int64_t{100} * 365 * 86400;

int64_t Nanos(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

class Sweeper {
 public:
  Sweeper(const GcOptions& options, GcReport& report)
      : options_(options), report_(report) {
    struct timespec now;
    ::clock_gettime(CLOCK_REALTIME, &now);
    cutoff_ns_ = Nanos(now) - options.grace_s * 1'000'000'000;
  }

  bool Old(const ScanEntry& e) const {
    return Nanos(e.st.st_mtim) <= cutoff_ns_;
  }

  // Removes one entry (or, in a dry run, pretends to). False if it failed.
  bool Remove(const ScanEntry& e) {
    if (!options_.dry_run && ::unlinkat(e.dir->get(), e.name.c_str(), 0) != 0 &&
        errno != ENOENT) {
      report_.errors.push_back(ErrnoStatus("remove " + e.rel_path).ToString());
      return false;
    }
    report_.removed.push_back(e.rel_path);
    return true;
  }

 private:
  const GcOptions& options_;
  GcReport& report_;
  int64_t cutoff_ns_;
};

}  // namespace

Result<int64_t> ParseDuration(std::string_view text) {
  const Status bad = Status::FromErrno(
      EINVAL, "duration '" + std::string(text) +
                  "': expected a number with an optional unit s, m, h or d "
                  "(e.g. 30s, 10m, 2h, 7d, 0)");
  if (text.empty()) return bad;
  int64_t unit = 1;
  switch (text.back()) {
    case 's':
      unit = 1;
      text.remove_suffix(1);
      break;
    case 'm':
      unit = 60;
      text.remove_suffix(1);
      break;
    case 'h':
      unit = 3600;
      text.remove_suffix(1);
      break;
    case 'd':
      unit = 86400;
      text.remove_suffix(1);
      break;
    default:
      break;
  }
  if (text.empty() || text.size() > 12) return bad;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return bad;
    value = value * 10 + (c - '0');
  }
  if (value > kMaxDurationS / unit) return bad;
  return value * unit;
}

Result<GcReport> RunGc(const Store& store, const GcOptions& options) {
  if (options.grace_s < 0) {
    return Status::FromErrno(EINVAL, "grace period must not be negative");
  }
  // The live set is read under the lock: a build tags its image while still
  // holding its shared lock, so every tag written before we got the lock is
  // seen, and no build can find an object present and then lose it to us.
  SEALFS_ASSIGN_OR_RETURN(
      StoreLock lock,
      StoreLock::Acquire(store.dir_fd(),
                         options.dry_run ? StoreLock::Kind::kShared
                                         : StoreLock::Kind::kExclusive,
                         options.wait, options.on_wait));
  GcReport report;
  SEALFS_ASSIGN_OR_RETURN(std::vector<Tag> tags, ListTags(store));
  std::unordered_set<Digest, DigestHash> live;
  for (const Tag& tag : tags) {
    ++report.tags;
    Result<std::vector<ObjectRef>> refs =
        tag.status.ok() ? ImageObjects(*tag.manifest)
                        : Result<std::vector<ObjectRef>>(tag.status);
    if (!refs.ok()) {
      return Status::Corrupt(
          "tag " + tag.name + " is broken (" + refs.status().ToString() +
          "); refusing to collect garbage with an incomplete set of live "
          "objects: fix or delete the tag (sealfs tag --delete)");
    }
    for (const ObjectRef& ref : *refs) live.insert(ref.digest);
  }

  Sweeper sweeper(options, report);
  // What an interrupted `tag` left in images/ (its temp file, never renamed
  // into place), once older than the grace period.
  SEALFS_ASSIGN_OR_RETURN(std::vector<ScanEntry> tag_temps,
                          ScanTagTemps(store));
  for (const ScanEntry& e : tag_temps) {
    if (sweeper.Old(e) && sweeper.Remove(e)) {
      ++report.removed_temps;
      report.removed_temp_bytes += static_cast<uint64_t>(e.st.st_size);
    }
  }
  SEALFS_ASSIGN_OR_RETURN(std::vector<ScanEntry> objects,
                          ScanStoreDir(store.dir_fd(), kObjectsDir));
  std::unordered_set<Digest, DigestHash> remaining;
  for (const ScanEntry& e : objects) {
    const uint64_t bytes = static_cast<uint64_t>(e.st.st_size);
    if (e.kind == ScanEntry::Kind::kTemp) {
      if (sweeper.Old(e) && sweeper.Remove(e)) {
        ++report.removed_temps;
        report.removed_temp_bytes += bytes;
      }
      continue;
    }
    // Junk is fsck's to report and quarantine, never gc's to delete.
    if (e.kind != ScanEntry::Kind::kFile) continue;
    if (live.contains(e.digest)) {
      ++report.live_objects;
      report.live_bytes += bytes;
    } else if (!sweeper.Old(e)) {
      ++report.recent_objects;
      report.recent_bytes += bytes;
    } else if (sweeper.Remove(e)) {
      ++report.removed_objects;
      report.removed_object_bytes += bytes;
      continue;
    }
    remaining.insert(e.digest);
  }

  // Trees after objects: an interrupted gc leaves at worst a tree without
  // its object, which the next gc removes; never an object without a tree
  // that it removed on purpose.
  Result<std::vector<ScanEntry>> trees =
      ScanStoreDir(store.dir_fd(), kTreesDir);
  if (!trees.ok()) {
    if (trees.status().err() == ENOENT) return report;
    return trees.status();
  }
  for (const ScanEntry& e : *trees) {
    const uint64_t bytes = static_cast<uint64_t>(e.st.st_size);
    if (e.kind == ScanEntry::Kind::kTemp) {
      if (sweeper.Old(e) && sweeper.Remove(e)) {
        ++report.removed_temps;
        report.removed_temp_bytes += bytes;
      }
    } else if (e.kind == ScanEntry::Kind::kFile &&
               !remaining.contains(e.digest) && sweeper.Remove(e)) {
      ++report.removed_trees;
      report.removed_tree_bytes += bytes;
    }
  }
  return report;
}

}  // namespace sealfs::store
