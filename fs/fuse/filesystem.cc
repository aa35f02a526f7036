// SPDX-License-Identifier: Apache-2.0
// The driver's operations over the verified manifest and the store.
#include "fs/fuse/filesystem.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "fs/fuse/bdi.h"
#include "fs/fuse/idle_reaper.h"
#include "fs/fuse/lazy_tree.h"
#include "fs/fuse/log.h"
#include "fs/remote/access_list.h"
#include "fs/remote/background_fetch.h"
#include "fs/remote/object_fetcher.h"
#include "fs/util/io.h"

namespace sealfs::fuse {
namespace {

// Reads at least this large come from kernel readahead of a sequential
// stream; smaller (random 4 KiB) reads never trigger a prefetch.
constexpr size_t kPrefetchMinRead = 128 * 1024;
// How far ahead of a sequential read the object's pages are requested.
constexpr uint64_t kPrefetchAhead = 8 * 1024 * 1024;
// Objects kept open for handles this process did not open (no release
// comes for them): a cold walk of a rootfs reads each file once, so a few
// hundred cover the files being read at once, and fds and verifier caches
// stay bounded however many files are read.
constexpr size_t kMaxAdoptedObjects = 256;
// ...and each only while it is read: a reader that stopped for this long is
// done (or reads from the page cache, which needs no handle), so a large
// file's verified tree is not kept after it was read once.
constexpr int64_t kAdoptedIdleSec = 2;

// Asks the kernel to start reading the object beyond a large read, so its
// disk I/O overlaps the hashing of this one. The pages are only cached; they
// are read (and verified) by a later request like any others. Only for a
// store whose device reads ahead less than this by itself: WILLNEED fills
// the cache a page at a time, where the kernel's own readahead of
// sequential preads uses large folios (measured: 2 MiB ones on ext4).
void Prefetch(OpenObject& obj, uint64_t start, size_t len) {
  if (len < kPrefetchMinRead) return;
  const uint64_t end = start + len;
  if (end >= obj.size) return;
  uint64_t from = obj.prefetched_to.load(std::memory_order_relaxed);
  // Only refill when less than half the window is left ahead.
  if (from > end + kPrefetchAhead / 2 && from <= end + kPrefetchAhead) return;
  from = std::max(from, end);
  if (from > end + kPrefetchAhead) from = end;  // jumped backwards
  const uint64_t to = std::min<uint64_t>(obj.size, end + kPrefetchAhead);
  if (to <= from) return;
  obj.prefetched_to.store(to, std::memory_order_relaxed);
  (void)::posix_fadvise(obj.fd.get(), static_cast<off_t>(from),
                        static_cast<off_t>(to - from), POSIX_FADV_WILLNEED);
}

}  // namespace

Filesystem::Filesystem(std::shared_ptr<const Manifest> manifest,
                       std::shared_ptr<const Store> store, std::string label)
    : manifest_(std::move(manifest)),
      store_(std::move(store)),
      label_(std::move(label)),
      paths_(manifest_),
      prefetch_(store_) {}

Filesystem::~Filesystem() { UnwatchIdle(this); }

void Filesystem::set_fetcher(
    std::shared_ptr<remote::ObjectFetcher> fetcher,
    std::unique_ptr<remote::BackgroundFetch> background) {
  fetcher_ = std::move(fetcher);
  background_ = std::move(background);
}

void Filesystem::set_recorder(UniqueFd fd) {
  std::lock_guard lock(record_mu_);
  record_fd_ = std::move(fd);
  recorded_.assign(static_cast<size_t>(manifest_->inode_count()) + 1, false);
}

void Filesystem::StopFetching() {
  if (background_ != nullptr) background_->Stop();
  if (fetcher_ != nullptr) fetcher_->Stop();
}

void Filesystem::StartBackgroundWork() {
  if (background_ != nullptr && !background_->Start()) {
    Log(LOG_WARNING, label_ +
                         ": no thread for the background fetch; "
                         "objects arrive as they are read");
  }
}

void Filesystem::Record(uint64_t ino) {
  std::lock_guard lock(record_mu_);
  if (!record_fd_.valid() || ino >= recorded_.size() || recorded_[ino]) return;
  recorded_[ino] = true;
  const std::string line = remote::FormatAccessLine(paths_.PathOf(ino));
  // O_APPEND: one write per line. A failure costs only the list.
  (void)WriteFull(record_fd_.get(),
                  {reinterpret_cast<const uint8_t*>(line.data()), line.size()});
}

struct stat Filesystem::StatFor(const Inode& inode) const {
  struct stat st {};
  st.st_ino = inode.ino;
  st.st_mode = inode.mode;
  st.st_nlink = inode.nlink;
  st.st_uid = owners_.Uid(inode.uid);
  st.st_gid = owners_.Gid(inode.gid);
  st.st_rdev = makedev(inode.rdev_major, inode.rdev_minor);
  st.st_blksize = kBlockSize;
  if (S_ISDIR(inode.mode)) {
    st.st_size = kBlockSize;  // the manifest's size is an entry count
  } else if (S_ISREG(inode.mode) || S_ISLNK(inode.mode)) {
    st.st_size = static_cast<off_t>(inode.size);
  }
  st.st_blocks = (st.st_size + 511) / 512;
  st.st_mtim.tv_sec = inode.mtime_sec;
  st.st_mtim.tv_nsec = inode.mtime_nsec;
  st.st_atim = st.st_mtim;  // the image records one time; nothing changes
  st.st_ctim = st.st_mtim;
  return st;
}

fuse_entry_param Filesystem::EntryFor(const struct stat& st) const {
  fuse_entry_param e{};
  e.ino = st.st_ino;
  e.generation = 0;
  e.attr = st;
  e.attr_timeout = kCacheTimeoutSec;
  e.entry_timeout = kCacheTimeoutSec;
  return e;
}

Result<fuse_entry_param> Filesystem::Lookup(uint64_t parent,
                                            std::string_view name) {
  Stats::Add(stats_.lookups);
  if (name.size() > kMaxNameLen) {
    return Status::FromErrno(ENAMETOOLONG, "lookup");
  }
  SEALFS_ASSIGN_OR_RETURN(uint64_t ino, manifest_->Lookup(parent, name));
  SEALFS_ASSIGN_OR_RETURN(Inode inode, manifest_->GetInode(ino));
  return EntryFor(StatFor(inode));
}

Result<struct stat> Filesystem::GetAttr(uint64_t ino) {
  Stats::Add(stats_.getattrs);
  SEALFS_ASSIGN_OR_RETURN(Inode inode, manifest_->GetInode(ino));
  return StatFor(inode);
}

Result<std::string> Filesystem::ReadLink(uint64_t ino) {
  SEALFS_ASSIGN_OR_RETURN(std::string_view target, manifest_->ReadLink(ino));
  return std::string(target);
}

Result<std::string> Filesystem::ReadDir(fuse_req_t req, uint64_t ino,
                                        size_t size, uint64_t offset,
                                        bool plus) {
  Stats::Add(stats_.readdirs);
  SEALFS_ASSIGN_OR_RETURN(Inode dir, manifest_->GetInode(ino));
  if (!S_ISDIR(dir.mode)) return Status::FromErrno(ENOTDIR, "readdir");
  std::string buf(size, '\0');
  size_t used = 0;
  // Adds one entry; false when it does not fit.
  auto add = [&](const std::string& name, const struct stat& st,
                 uint64_t next) {
    char* at = buf.data() + used;
    size_t room = size - used;
    size_t need;
    if (plus) {
      fuse_entry_param e = EntryFor(st);
      need = fuse_add_direntry_plus(req, at, room, name.c_str(), &e,
                                    static_cast<off_t>(next));
    } else {
      need = fuse_add_direntry(req, at, room, name.c_str(), &st,
                               static_cast<off_t>(next));
    }
    if (need > room) return false;
    used += need;
    return true;
  };
  uint64_t count = dir.size;
  for (uint64_t pos = offset; pos < count + 2; ++pos) {
    std::string name;
    struct stat st {};
    if (pos < 2) {
      name = pos == 0 ? "." : "..";
      uint64_t target = pos == 0 ? ino : dir.parent;
      SEALFS_ASSIGN_OR_RETURN(Inode inode, manifest_->GetInode(target));
      st = StatFor(inode);
    } else {
      SEALFS_ASSIGN_OR_RETURN(DirEntry entry,
                              manifest_->GetDirEntry(ino, pos - 2));
      name.assign(entry.name);
      if (plus) {
        SEALFS_ASSIGN_OR_RETURN(Inode inode, manifest_->GetInode(entry.ino));
        st = StatFor(inode);
        MaybePrefetch(entry.ino, inode, true);
      } else {
        st.st_ino = entry.ino;
        st.st_mode = static_cast<mode_t>(entry.type) << 12;
        if (S_ISREG(st.st_mode)) {
          Result<Inode> inode = manifest_->GetInode(entry.ino);
          if (inode.ok()) MaybePrefetch(entry.ino, *inode, false);
        }
      }
    }
    if (!add(name, st, pos + 1)) break;
  }
  buf.resize(used);
  return buf;
}

void Filesystem::MaybePrefetch(uint64_t ino, const Inode& inode, bool plus) {
  if (!S_ISREG(inode.mode) || inode.is_inline()) return;
  Result<Digest> digest = manifest_->FileDigest(ino);
  if (!digest.ok()) return;
  // Both: the prefetch threads' disk reads run ahead of the pusher's.
  prefetch_.Enqueue(*digest, inode.size);
  if (plus && pusher_ != nullptr && PagePusher::Wants(inode.size)) {
    pusher_->Enqueue(ino, *digest, inode.size);
  }
}

void Filesystem::EnablePush(int device_fd) {
  UniqueFd dup(fcntl(device_fd, F_DUPFD_CLOEXEC, 3));
  // Without it reads work as before, one round trip per file.
  if (dup.valid()) pusher_ = std::make_unique<PagePusher>(store_, std::move(dup));
}

void Filesystem::ReportObject(const Digest& digest, uint64_t ino,
                              const std::string& what) {
  {
    std::lock_guard<std::mutex> lock(report_mu_);
    if (!reported_.insert(digest).second) return;
  }
  Log(LOG_ERR, label_ + " (" + manifest_->identity().ToString() +
                   "): " + paths_.PathOf(ino) + ": object " +
                   digest.ToString() + ": " + what);
}

Status Filesystem::FetchFailed(const Digest& digest, uint64_t ino,
                               const Status& why) {
  Stats::Add(stats_.missing_objects);
  Log(LOG_ERR, label_ + ": " + paths_.PathOf(ino) +
                   ": fetching missing object: " + why.ToString());
  return Status::FromErrno(EIO, "fetch object " + digest.ToString());
}

Status Filesystem::FetchMissing(OpenObject& obj, uint64_t ino,
                                struct stat* stat_out) {
  // Verified and stored atomically by the fetcher, then opened like any
  // other object. Bounded by remote_timeout; a failure is not remembered,
  // so the next open tries again.
  const remote::PullItem item{obj.digest, obj.size};
  if (obj.size > remote::kRangeReadMinBytes) {
    // Readable by range at once; whole in the background.
    Result<std::shared_ptr<remote::PartialObject>> partial =
        fetcher_->OpenPartial(item);
    if (!partial.ok()) return FetchFailed(obj.digest, ino, partial.status());
    if (*partial != nullptr) {
      SEALFS_ASSIGN_OR_RETURN(obj.fd, (*partial)->Dup());
      obj.partial = std::move(*partial);
      if (fstat(obj.fd.get(), stat_out) != 0) {
        return ErrnoStatus("fstat object");
      }
      return {};
    }
  } else if (Status st = fetcher_->Fetch(item, remote::Priority::kUrgent);
             !st.ok()) {
    return FetchFailed(obj.digest, ino, st);
  }
  SEALFS_ASSIGN_OR_RETURN(obj.fd, store_->OpenObject(obj.digest, stat_out));
  return {};
}

Status Filesystem::OpenObjectFile(OpenObject& obj, uint64_t ino,
                                  struct stat* stat_out) {
  Result<UniqueFd> fd = store_->OpenObject(obj.digest, stat_out);
  if (fd.ok()) {
    obj.fd = std::move(*fd);
    return {};
  }
  Status st = fd.status();
  if (st.err() == ENOENT && fetcher_ != nullptr) {
    st = FetchMissing(obj, ino, stat_out);
    if (st.ok() || st.err() == EIO) return st;
  }
  if (st.err() == ENOENT) {
    Stats::Add(stats_.missing_objects);
    ReportObject(obj.digest, ino, "missing from the store");
  } else {
    Stats::Add(stats_.bad_objects);
    ReportObject(obj.digest, ino, "cannot open: " + st.ToString());
  }
  return Status::FromErrno(EIO, "open object " + obj.digest.ToString());
}

Result<std::unique_ptr<OpenObject>> Filesystem::OpenStoreObject(
    uint64_t ino, const Inode& inode) {
  SEALFS_ASSIGN_OR_RETURN(Digest digest, manifest_->FileDigest(ino));
  auto obj = std::make_unique<OpenObject>();
  obj->digest = digest;
  obj->ino = ino;
  obj->size = inode.size;
  struct stat st {};
  if (!prefetch_.Take(digest, &obj->fd, &st)) {
    SEALFS_RETURN_IF_ERROR(OpenObjectFile(*obj, ino, &st));
  }
  std::call_once(readahead_once_, [&] {
    prefetch_reads_.store(DeviceReadaheadKb(st.st_dev) < kPrefetchAhead / 1024,
                          std::memory_order_relaxed);
  });
  if (static_cast<uint64_t>(st.st_size) != inode.size) {
    Stats::Add(stats_.bad_objects);
    ReportObject(digest, ino,
                 "size " + std::to_string(st.st_size) + " != recorded " +
                     std::to_string(inode.size));
    return Status::Corrupt("object " + digest.ToString() + ": wrong size");
  }
  if (obj->partial != nullptr) {
    // Its tree came from the remote: the verifier checks each block of it
    // against the digest before use.
    obj->verifier = std::make_unique<BlockVerifier>(digest, inode.size,
                                                    obj->partial->TreeReader());
    return obj;
  }
  if (inode.size <= kWholeObjectBytes) {
    // Verified whole at its first read; the tree is needed only to find
    // the bad block of a corrupt object.
    obj->verifier = std::make_unique<BlockVerifier>(
        digest, inode.size,
        LazyTreeReader(store_, digest, inode.size, obj->fd.get()));
    return obj;
  }
  Result<TreeBlockReader> tree =
      store_->OpenTree(digest, inode.size, obj->fd.get());
  if (!tree.ok()) {
    Stats::Add(stats_.bad_objects);
    ReportObject(digest, ino, "unusable tree: " + tree.status().ToString());
    return Status::Corrupt("object " + digest.ToString() + ": tree");
  }
  obj->verifier =
      std::make_unique<BlockVerifier>(digest, inode.size, std::move(*tree));
  return obj;
}

Result<uint64_t> Filesystem::Open(uint64_t ino, int flags) {
  SEALFS_ASSIGN_OR_RETURN(Inode inode, manifest_->GetInode(ino));
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0) {
    CountWriteAttempt();
    return Status::FromErrno(EROFS, "open for writing");
  }
  if (S_ISDIR(inode.mode)) return Status::FromErrno(EISDIR, "open");
  if (!S_ISREG(inode.mode)) return Status::FromErrno(EINVAL, "open");
  Record(ino);
  if (inode.is_inline()) {
    Stats::Add(stats_.opens);
    return uint64_t{0};
  }
  SEALFS_RETURN_IF_ERROR(HoldObject(ino, inode, false).status());
  Stats::Add(stats_.opens);
  return ino;
}

Result<std::shared_ptr<Filesystem::HeldObject>> Filesystem::HoldObject(
    uint64_t ino, const Inode& inode, bool adopted) {
  SEALFS_ASSIGN_OR_RETURN(Digest digest, manifest_->FileDigest(ino));
  SEALFS_ASSIGN_OR_RETURN(OpenObject * obj, open_->Acquire(digest, [&] {
    return OpenStoreObject(ino, inode);
  }));
  // Owns the reference Acquire took until a handle holds it.
  auto fresh = std::make_shared<HeldObject>(open_, obj, CoarseSeconds());
  std::vector<std::shared_ptr<HeldObject>> dropped;  // released after the lock
  bool watch = false;
  std::shared_ptr<HeldObject> held;
  {
    std::unique_lock lock(handles_mu_);
    Handle& h = handles_[ino];
    // An object evicted as corrupt is replaced for every handle of the
    // inode: the fresh open may be a repaired copy.
    if (h.held == nullptr || h.held->obj != obj) h.held = std::move(fresh);
    held = h.held;
    if (!adopted) {
      ++h.opens;
      return held;
    }
    if (!h.adopted) {
      h.adopted = true;
      adopted_order_.push_back(ino);
      // Counted here, once, when concurrent first reads race to adopt.
      Stats::Add(stats_.opens);
    }
    while (adopted_order_.size() > kMaxAdoptedObjects) {
      auto it = handles_.find(adopted_order_.front());
      adopted_order_.pop_front();
      if (it == handles_.end() || it->first == ino || it->second.opens > 0) {
        continue;
      }
      dropped.push_back(std::move(it->second.held));
      handles_.erase(it);
    }
    watch = !reaper_watches_;
    reaper_watches_ = true;
  }
  // Outside handles_mu_, which the reaper takes under its own lock.
  if (watch) WatchIdle(this, [this] { return DropIdleHandles(); });
  return held;
}

bool Filesystem::DropIdleHandles() {
  const int64_t now = CoarseSeconds();
  std::vector<std::shared_ptr<HeldObject>> dropped;  // released after the lock
  std::unique_lock lock(handles_mu_);
  size_t left = 0;
  for (auto it = handles_.begin(); it != handles_.end();) {
    const Handle& h = it->second;
    if (!h.adopted) {
      ++it;
    } else if (h.opens == 0 &&
               now - h.held->last_read.load(std::memory_order_relaxed) >=
                   kAdoptedIdleSec) {
      dropped.push_back(std::move(it->second.held));
      it = handles_.erase(it);
    } else {
      ++left;
      ++it;
    }
  }
  if (!dropped.empty()) {
    std::erase_if(adopted_order_, [this](uint64_t ino) {
      auto it = handles_.find(ino);
      return it == handles_.end() || !it->second.adopted;
    });
  }
  reaper_watches_ = left > 0;
  return reaper_watches_;
}

std::shared_ptr<Filesystem::HeldObject> Filesystem::FindHeld(uint64_t ino) {
  std::shared_lock lock(handles_mu_);
  auto it = handles_.find(ino);
  return it == handles_.end() ? nullptr : it->second.held;
}

void Filesystem::DropObject(uint64_t ino, OpenObject* obj) {
  open_->Evict(obj);
  std::shared_ptr<HeldObject> last;  // released after the lock
  std::unique_lock lock(handles_mu_);
  auto it = handles_.find(ino);
  if (it == handles_.end() || it->second.opens > 0 ||
      it->second.held == nullptr || it->second.held->obj != obj) {
    return;
  }
  last = std::move(it->second.held);
  handles_.erase(it);
}

Result<std::span<const uint8_t>> Filesystem::ReadInline(uint64_t ino,
                                                        size_t size,
                                                        uint64_t offset) {
  SEALFS_ASSIGN_OR_RETURN(std::span<const uint8_t> data,
                          manifest_->InlineData(ino));
  if (offset >= data.size()) return std::span<const uint8_t>();
  size_t n = std::min<uint64_t>(size, data.size() - offset);
  Stats::Add(stats_.bytes_read, n);
  return data.subspan(offset, n);
}

void Filesystem::Release(uint64_t fh) {
  if (fh == 0) return;
  std::shared_ptr<HeldObject> last;  // released after the lock
  std::unique_lock lock(handles_mu_);
  auto it = handles_.find(fh);
  if (it == handles_.end()) return;
  if (it->second.opens > 0) --it->second.opens;
  // An adopted one stays until the oldest adopted ones are dropped; its
  // count may include opens the kernel made before this process served
  // (then it is dropped early, and re-derived at the next read).
  if (it->second.opens > 0 || it->second.adopted) return;
  last = std::move(it->second.held);
  handles_.erase(it);
}

Result<std::span<const uint8_t>> Filesystem::Read(uint64_t ino, uint64_t fh,
                                                  size_t size, uint64_t offset,
                                                  ReadBuffer& buffer) {
  Stats::Add(stats_.reads);
  // Handles are inode numbers or 0 (inline content, or opened by the
  // kernel without asking).
  if (fh != 0 && fh != ino) {
    return Status::FromErrno(EBADF, "unknown file handle");
  }
  std::shared_ptr<HeldObject> held = FindHeld(ino);
  if (held == nullptr) {
    SEALFS_ASSIGN_OR_RETURN(Inode inode, manifest_->GetInode(ino));
    if (!S_ISREG(inode.mode)) return Status::FromErrno(EBADF, "read");
    if (pusher_ != nullptr) pusher_->NoteRead(ino, inode.size);
    if (inode.is_inline()) return ReadInline(ino, size, offset);
    // A handle opened before this process took the session over, or by a
    // kernel that opens without asking.
    SEALFS_ASSIGN_OR_RETURN(held, HoldObject(ino, inode, true));
  }
  if (const int64_t now = CoarseSeconds();
      held->last_read.load(std::memory_order_relaxed) != now) {
    held->last_read.store(now, std::memory_order_relaxed);
  }
  OpenObject* obj = held->obj;
  if (offset >= obj->size || size == 0) return std::span<const uint8_t>();
  uint64_t end = std::min<uint64_t>(obj->size, offset + size);
  uint64_t first = offset / kBlockSize;
  uint64_t last = (end - 1) / kBlockSize;
  // A small object not yet verified is read and checked whole: one hash per
  // block plus one, and its tree file is never opened. Otherwise the
  // request's blocks are read and checked against the tree.
  const bool whole =
      obj->size <= kWholeObjectBytes && !obj->verifier->HasTopBlock();
  uint64_t start = whole ? 0 : first * kBlockSize;
  uint64_t stop = whole
                      ? obj->size
                      : std::min<uint64_t>(obj->size, (last + 1) * kBlockSize);
  size_t len = stop - start;
  if (obj->partial != nullptr && !obj->partial->whole()) {
    Status fetched = obj->partial->Ensure(first, last);
    if (!fetched.ok()) {
      Stats::Add(stats_.verify_failures, fetched.err() == kErrDigest ? 1 : 0);
      Log(LOG_ERR, label_ + ": " + paths_.PathOf(ino) + ": fetching blocks " +
                       std::to_string(first) + "-" + std::to_string(last) +
                       ": " + fetched.ToString());
      return Status::FromErrno(EIO,
                               "fetch blocks of " + obj->digest.ToString());
    }
  }
  uint8_t* buf = buffer.Reserve(len);
  // One pread for the whole aligned range; nothing of it leaves this
  // function before every block in it has been verified.
  Result<size_t> got = PreadFull(obj->fd.get(), {buf, len}, start);
  if (!got.ok() || *got != len) {
    Stats::Add(stats_.bad_objects);
    std::string why =
        got.ok() ? "object shorter than recorded" : got.status().ToString();
    ReportObject(obj->digest, ino,
                 "read at " + std::to_string(start) + " failed: " + why);
    DropObject(ino, obj);
    return Status::FromErrno(EIO, "read object " + obj->digest.ToString());
  }
  if (prefetch_reads_.load(std::memory_order_relaxed)) {
    Prefetch(*obj, start, len);
  }
  if (whole && obj->verifier->VerifyObject({buf, len}).ok()) {
    Stats::Add(stats_.blocks_verified, (len + kBlockSize - 1) / kBlockSize);
    Stats::Add(stats_.bytes_read, end - offset);
    return std::span<const uint8_t>(buf + offset, end - offset);
  }
  // The requested blocks against the tree; after a failed whole check,
  // this finds out whether the bad block is one of them.
  const size_t from = first * kBlockSize - start;
  const size_t to = std::min<size_t>(len, (last + 1) * kBlockSize - start);
  Status st = obj->verifier->VerifyBlocks(first, {buf + from, to - from});
  if (!st.ok()) {
    if (st.err() == kErrDigest) Stats::Add(stats_.verify_failures);
    // Opens from now on start afresh from the store (the repair loop);
    // handles already open keep failing on this copy.
    DropObject(ino, obj);
    // The verifier's message names the block ("block 7: ...").
    ReportObject(obj->digest, ino, "verification failed: " + st.ToString());
    return st;
  }
  Stats::Add(stats_.blocks_verified, last - first + 1);
  Stats::Add(stats_.bytes_read, end - offset);
  return std::span<const uint8_t>(buf + (offset - start), end - offset);
}

Result<struct statvfs> Filesystem::StatFs() {
  // Summed once, on first use, so that mounting stays O(1).
  std::call_once(total_once_, [this] {
    uint64_t total = 0;
    for (uint64_t ino = 1; ino <= manifest_->inode_count(); ++ino) {
      Result<Inode> inode = manifest_->GetInode(ino);
      if (inode.ok() && S_ISREG(inode->mode)) total += inode->size;
    }
    total_bytes_ = total;
  });
  struct statvfs sv {};
  sv.f_bsize = kBlockSize;
  sv.f_frsize = kBlockSize;
  sv.f_blocks = (total_bytes_ + kBlockSize - 1) / kBlockSize;
  sv.f_files = manifest_->inode_count();
  sv.f_namemax = kMaxNameLen;
  sv.f_flag = ST_RDONLY;
  return sv;
}

Result<std::string_view> Filesystem::GetXattr(uint64_t ino,
                                              std::string_view name,
                                              std::string* scratch) {
  Stats::Add(stats_.xattr_requests);
  SEALFS_ASSIGN_OR_RETURN(std::string_view value,
                          manifest_->GetXattr(ino, name));
  if (!owners_.MapsXattr(name)) return value;
  // The kernel checks ACLs and capabilities against the owners this mount
  // reports, so the ids they name are shifted the same way.
  Result<std::string> mapped = owners_.MapXattr(name, value);
  if (!mapped.ok()) {
    return mapped.status().WithPrefix(paths_.PathOf(ino) + ": xattr " +
                                      std::string(name));
  }
  *scratch = std::move(*mapped);
  return std::string_view(*scratch);
}

Result<std::string> Filesystem::ListXattr(uint64_t ino) {
  Stats::Add(stats_.xattr_requests);
  SEALFS_ASSIGN_OR_RETURN(std::vector<XattrView> xattrs,
                          manifest_->ListXattrs(ino));
  std::string names;
  for (const XattrView& x : xattrs) {
    names.append(x.key);
    names.push_back('\0');
  }
  return names;
}

Status Filesystem::Access(uint64_t ino, int mask) {
  SEALFS_RETURN_IF_ERROR(manifest_->GetInode(ino));
  if ((mask & W_OK) != 0) return Status::FromErrno(EROFS, "access");
  return Status();
}

void Filesystem::FillStats(StatsRecord* rec) {
  stats_.open_objects.store(open_->size(), std::memory_order_relaxed);
  if (fetcher_ != nullptr) {
    stats_.remote_objects.store(fetcher_->transfers(),
                                std::memory_order_relaxed);
    stats_.remote_bytes.store(fetcher_->bytes_fetched(),
                              std::memory_order_relaxed);
  }
  if (pusher_ != nullptr) {
    stats_.pushed_objects.store(pusher_->pushed(), std::memory_order_relaxed);
  }
  if (background_ != nullptr) {
    stats_.prefetch_left.store(background_->left(), std::memory_order_relaxed);
  }
  *rec = StatsRecord{};
  rec->magic = kStatsMagic;
  rec->version = kStatsVersion;
  std::memcpy(rec->identity, manifest_->identity().bytes.data(),
              sizeof(rec->identity));
  rec->mounted_at_sec = mounted_at_sec_;
  stats_.Snapshot(rec);
}

}  // namespace sealfs::fuse
