// SPDX-License-Identifier: Apache-2.0
// RunFsck: list objects/ and trees/, quarantine junk, hash every object on
// `threads` threads (rate-limited, page cache dropped behind), check or
// rebuild trees, then check every tag against what is left.
#include "fs/store/fsck.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "fs/core/store_io.h"
#include "fs/core/store_lock.h"
#include "fs/store/rate_limiter.h"
#include "fs/store/scan.h"
#include "fs/store/tags.h"
#include "fs/util/io.h"
#include "fs/util/progress.h"
#include "sealfs/format.h"

namespace sealfs::store {
namespace {

constexpr size_t kChunk = size_t{1} << 20;

// True if the first block of the file is in the page cache: a read that
// must not block (RWF_NOWAIT) succeeds in full. Kernels or filesystems
// without buffered RWF_NOWAIT say EAGAIN/EOPNOTSUPP, and we drop as before.
bool IsCached(int fd, off_t size, std::vector<uint8_t>& buffer) {
  if (size <= 0) return true;
  const size_t want = static_cast<size_t>(
      std::min<off_t>(size, static_cast<off_t>(kBlockSize)));
  struct iovec iov = {buffer.data(), want};
  return ::preadv2(fd, &iov, 1, 0, RWF_NOWAIT) == static_cast<ssize_t>(want);
}

// "is a FIFO, not a regular file" for an entry's lstat.
std::string TypeProblem(const struct stat& st) {
  const std::string context = CheckRegular(st, "-").context();
  return context.size() > 3 ? context.substr(3) : context;
}

class Checker {
 public:
  Checker(const Store& store, const FsckOptions& options)
      : store_(store),
        options_(options),
        quarantine_(store.dir_fd(), options.format_record),
        limiter_(options.max_rate,
                 std::max<uint64_t>(options.max_rate / 10, kChunk)) {}

  Result<FsckReport> Run();

 private:
  void Add(FsckProblem problem) {
    std::lock_guard lock(mu_);
    report_.problems.push_back(std::move(problem));
  }
  // Moves the entry to quarantine and records the outcome in `problem`.
  void QuarantineEntry(const ScanEntry& e, const std::string& stem,
                       FsckProblem& problem, const std::string& actual);
  void HandleJunk(const ScanEntry& e);
  Result<size_t> Read(int fd, std::span<uint8_t> out, uint64_t offset);
  void CheckObject(const ScanEntry& e, std::vector<uint8_t>& buffer);
  void CheckTree(const ScanEntry& object, const MerkleTree& tree,
                 std::vector<uint8_t>& buffer);
  void WriteTree(const Digest& digest, const MerkleTree& tree,
                 FsckProblem& problem);
  Status CheckTags();

  const Store& store_;
  const FsckOptions& options_;
  Quarantine quarantine_;
  RateLimiter limiter_;
  std::unique_ptr<Progress> progress_;
  std::mutex mu_;
  FsckReport report_;  // guarded by mu_ while workers run
};

void Checker::QuarantineEntry(const ScanEntry& e, const std::string& stem,
                              FsckProblem& problem, const std::string& actual) {
  QuarantineRecord record;
  record.original = e.rel_path;
  record.reason = problem.detail;
  record.expected = problem.digest;
  record.actual = actual;
  Result<std::string> moved =
      quarantine_.Move(e.dir->get(), e.name, stem, std::move(record));
  if (moved.ok()) {
    problem.action = "quarantined as " + *moved;
    std::lock_guard lock(mu_);
    ++report_.quarantined;
  } else {
    problem.action = "could not quarantine: " + moved.status().ToString();
    problem.failed_action = true;
  }
}

void Checker::HandleJunk(const ScanEntry& e) {
  FsckProblem p;
  p.path = e.rel_path;
  switch (e.kind) {
    case ScanEntry::Kind::kNotRegular:
      p.kind = "not a regular file";
      p.detail = TypeProblem(e.st);
      p.digest = e.digest.ToString();
      break;
    case ScanEntry::Kind::kBadName:
      p.kind = "junk";
      p.detail = "not a digest name (62 lowercase hex digits)";
      if (!S_ISREG(e.st.st_mode)) p.detail += "; " + TypeProblem(e.st);
      break;
    case ScanEntry::Kind::kBadFanout:
      p.kind = "junk";
      p.detail = S_ISDIR(e.st.st_mode)
                     ? "not a fan-out directory (2 lowercase hex digits)"
                     : "not a fan-out directory; " + TypeProblem(e.st);
      break;
    default:
      return;
  }
  QuarantineEntry(e, "junk-" + e.name, p, "");
  Add(std::move(p));
}

Result<size_t> Checker::Read(int fd, std::span<uint8_t> out, uint64_t offset) {
  Result<size_t> got = PreadFull(fd, out, offset);
  // Charged after the read, by what was read: the buffer is 1 MiB but most
  // objects are small, and the EOF read costs nothing.
  if (got.ok()) limiter_.Acquire(*got);
  return got;
}

void Checker::CheckObject(const ScanEntry& e, std::vector<uint8_t>& buffer) {
  FsckProblem p;
  p.path = e.rel_path;
  p.digest = e.digest.ToString();
  int raw;
  do {
    raw = ::openat(e.dir->get(), e.name.c_str(),
                   O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  } while (raw < 0 && errno == EINTR);
  if (raw < 0) {
    const int err = errno;
    if (err == ENOENT) return;  // removed since the scan (gc, a user)
    p.kind = "unreadable object";
    p.detail = StoreOpenError(err, "open").ToString();
    Add(std::move(p));
    return;
  }
  UniqueFd fd(raw);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    p.kind = "not a regular file";
    p.detail = "replaced since the scan";
    Add(std::move(p));
    return;
  }
  const bool was_cached = IsCached(fd.get(), st.st_size, buffer);
  (void)::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  MerkleBuilder builder;
  uint64_t offset = 0;
  Status read_status;
  for (;;) {
    Result<size_t> got = Read(fd.get(), buffer, offset);
    if (!got.ok()) {
      read_status = got.status();
      break;
    }
    if (*got == 0) break;
    builder.Update(std::span<const uint8_t>(buffer).first(*got));
    offset += *got;
    if (progress_) progress_->Add(*got);
  }
  // Hashing a store must not push every running workload out of the cache:
  // drop what this read brought in, but not an object that was already
  // cached (a running container is probably using it).
  if (!was_cached) (void)::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);
  fd.reset();
  {
    std::lock_guard lock(mu_);
    ++report_.objects;
    report_.object_bytes += offset;
  }
  if (!read_status.ok()) {
    p.kind = "unreadable object";
    p.detail = "read error at byte " + std::to_string(offset) + ": " +
               read_status.ToString();
    QuarantineEntry(e, e.digest.Hex(), p, "");
    Add(std::move(p));
    return;
  }
  MerkleTree tree = builder.Finish();
  if (tree.digest != e.digest) {
    p.kind = "corrupt object";
    p.detail = "digest mismatch: content hashes to " + tree.digest.ToString();
    QuarantineEntry(e, e.digest.Hex(), p, tree.digest.ToString());
    Add(std::move(p));
    return;
  }
  if (TreeGeometry::For(tree.data_size).tree_blocks > 0) {
    CheckTree(e, tree, buffer);
  }
}

void Checker::WriteTree(const Digest& digest, const MerkleTree& tree,
                        FsckProblem& problem) {
  Result<UniqueFd> dir =
      OpenFanoutDir(store_.dir_fd(), kTreesDir, digest, /*create=*/true);
  Status wrote = dir.ok()
                     ? WriteNewFile(dir->get(), LeafName(digest), tree.tree)
                     : dir.status();
  if (wrote.ok()) {
    problem.action =
        problem.action.empty() ? "rebuilt" : problem.action + ", rebuilt";
    std::lock_guard lock(mu_);
    ++report_.repaired;
  } else {
    problem.action += (problem.action.empty() ? "" : ", ") +
                      std::string("could not rebuild: ") + wrote.ToString();
    problem.failed_action = true;
  }
}

void Checker::CheckTree(const ScanEntry& object, const MerkleTree& tree,
                        std::vector<uint8_t>& buffer) {
  const Digest& digest = object.digest;
  FsckProblem p;
  p.path = Store::TreePath(digest);
  p.digest = digest.ToString();
  Result<UniqueFd> fd = OpenBeneath(store_.dir_fd(), Store::TreePath(digest),
                                    O_RDONLY | O_NONBLOCK);
  if (!fd.ok() && fd.status().err() == ENOENT) {
    p.kind = "missing tree";
    p.detail = "object has " + std::to_string(tree.data_size) +
               " bytes and needs a tree";
    if (options_.repair) WriteTree(digest, tree, p);
    Add(std::move(p));
    return;
  }
  std::string bad;
  if (!fd.ok()) {
    bad = StoreOpenError(fd.status().err(), "open").ToString();
  } else {
    struct stat st;
    if (::fstat(fd->get(), &st) != 0) {
      bad = ErrnoStatus("fstat").ToString();
    } else if (!S_ISREG(st.st_mode)) {
      bad = TypeProblem(st);
    } else if (static_cast<uint64_t>(st.st_size) != tree.tree.size()) {
      bad = "size " + std::to_string(st.st_size) + ", expected " +
            std::to_string(tree.tree.size());
    } else {
      const bool was_cached = IsCached(fd->get(), st.st_size, buffer);
      for (uint64_t off = 0; off < tree.tree.size() && bad.empty();) {
        const size_t want = static_cast<size_t>(
            std::min<uint64_t>(buffer.size(), tree.tree.size() - off));
        Result<size_t> got =
            Read(fd->get(), std::span<uint8_t>(buffer).first(want), off);
        if (!got.ok()) {
          bad = "read error: " + got.status().ToString();
        } else if (*got != want) {
          bad = "shrank while reading";
        } else if (!std::equal(
                       buffer.begin(),
                       buffer.begin() + static_cast<ptrdiff_t>(want),
                       tree.tree.begin() + static_cast<ptrdiff_t>(off))) {
          bad =
              "does not match the tree of the object (first difference in "
              "block " +
              std::to_string(off / kBlockSize) + " or later)";
        }
        off += want;
      }
      if (!was_cached) {
        (void)::posix_fadvise(fd->get(), 0, 0, POSIX_FADV_DONTNEED);
      }
    }
  }
  {
    std::lock_guard lock(mu_);
    ++report_.trees;
  }
  if (bad.empty()) return;
  p.kind = "bad tree";
  p.detail = bad;
  if (options_.repair) {
    // Set the bad tree aside first: WriteNewFile never replaces a name.
    // Between the two steps the tree is merely missing, which every reader
    // handles by rebuilding it.
    ScanEntry entry;
    Result<UniqueFd> dir =
        OpenFanoutDir(store_.dir_fd(), kTreesDir, digest, /*create=*/false);
    if (dir.ok()) {
      entry.dir = std::make_shared<UniqueFd>(std::move(*dir));
      entry.name = LeafName(digest);
      entry.rel_path = p.path;
      QuarantineEntry(entry, "tree-" + digest.Hex(), p, "");
      if (!p.failed_action) WriteTree(digest, tree, p);
    } else {
      p.action = "could not repair: " + dir.status().ToString();
      p.failed_action = true;
    }
  }
  Add(std::move(p));
}

Status Checker::CheckTags() {
  SEALFS_ASSIGN_OR_RETURN(std::vector<Tag> tags, ListTags(store_));
  for (const Tag& tag : tags) {
    ++report_.tags;
    const std::string path = std::string(kImagesDir) + "/" + tag.name;
    if (!tag.status.ok()) {
      FsckProblem p;
      p.kind = "broken tag";
      p.path = path;
      p.tag = tag.name;
      p.detail = tag.status.ToString();
      report_.problems.push_back(std::move(p));
      continue;
    }
    Result<std::vector<ObjectRef>> refs = ImageObjects(*tag.manifest);
    if (!refs.ok()) {
      FsckProblem p;
      p.kind = "broken tag";
      p.path = path;
      p.tag = tag.name;
      p.detail = refs.status().ToString();
      report_.problems.push_back(std::move(p));
      continue;
    }
    for (const ObjectRef& ref : *refs) {
      if (store_.HasObject(ref.digest)) continue;
      FsckProblem p;
      p.kind = "missing object";
      p.path = Store::ObjectPath(ref.digest);
      p.digest = ref.digest.ToString();
      p.tag = tag.name;
      p.detail = "needed by tag " + tag.name + " (image " +
                 tag.manifest->identity().ToString() + ")";
      report_.problems.push_back(std::move(p));
    }
  }
  return {};
}

Result<FsckReport> Checker::Run() {
  // Shared, like a writer: fsck never sees a gc sweep half done, and its
  // repairs never race one. A store we cannot create the lock in (read-only
  // media, another user's store) is still checked.
  Result<StoreLock> lock = StoreLock::Acquire(
      store_.dir_fd(), StoreLock::Kind::kShared, /*wait=*/true);
  if (!lock.ok() && lock.status().err() != EACCES &&
      lock.status().err() != EROFS && lock.status().err() != EPERM) {
    return lock.status();
  }
  SEALFS_ASSIGN_OR_RETURN(std::vector<ScanEntry> objects,
                          ScanStoreDir(store_.dir_fd(), kObjectsDir));
  std::vector<ScanEntry> trees;
  {
    Result<std::vector<ScanEntry>> scanned =
        ScanStoreDir(store_.dir_fd(), kTreesDir);
    if (scanned.ok()) {
      trees = std::move(*scanned);
    } else if (scanned.status().err() != ENOENT) {
      return scanned.status();
    }
  }
  // Junk first, so a symlink or FIFO under a tree's name is reported once,
  // as junk, and the tree then counts as missing (and is rebuilt).
  std::unordered_set<Digest, DigestHash> object_digests;
  std::vector<const ScanEntry*> files;
  uint64_t total_bytes = 0;
  for (const ScanEntry& e : objects) {
    if (e.kind == ScanEntry::Kind::kFile) {
      files.push_back(&e);
      object_digests.insert(e.digest);
      total_bytes += static_cast<uint64_t>(e.st.st_size);
    } else if (e.kind == ScanEntry::Kind::kTemp) {
      ++report_.temp_files;
    } else {
      HandleJunk(e);
    }
  }
  for (const ScanEntry& e : trees) {
    if (e.kind == ScanEntry::Kind::kFile) {
      if (!object_digests.contains(e.digest)) ++report_.orphan_trees;
    } else if (e.kind == ScanEntry::Kind::kTemp) {
      ++report_.temp_files;
    } else {
      HandleJunk(e);
    }
  }

  // Largest first, so one big object does not end the run on one thread.
  std::sort(files.begin(), files.end(),
            [](const ScanEntry* a, const ScanEntry* b) {
              return a->st.st_size > b->st.st_size;
            });
  if (options_.progress) {
    progress_ =
        std::make_unique<Progress>("fsck", total_bytes, Progress::Unit::kBytes);
  }
  std::atomic<size_t> next{0};
  auto worker = [&] {
    std::vector<uint8_t> buffer(kChunk);
    for (size_t i = next.fetch_add(1); i < files.size();
         i = next.fetch_add(1)) {
      CheckObject(*files[i], buffer);
    }
  };
  const int threads = std::clamp<int>(
      options_.threads, 1, static_cast<int>(std::max<size_t>(files.size(), 1)));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  if (progress_) progress_->Finish();

  SEALFS_RETURN_IF_ERROR(CheckTags());
  std::stable_sort(report_.problems.begin(), report_.problems.end(),
                   [](const FsckProblem& a, const FsckProblem& b) {
                     return a.path < b.path;
                   });
  return std::move(report_);
}

}  // namespace

std::string FsckProblem::Line() const {
  std::string line = kind + " " + path;
  if (!detail.empty()) line += " (" + detail + ")";
  if (!action.empty()) line += " -> " + action;
  return line;
}

Result<FsckReport> RunFsck(const Store& store, const FsckOptions& options) {
  Checker checker(store, options);
  return checker.Run();
}

}  // namespace sealfs::store
