// SPDX-License-Identifier: Apache-2.0
// Filesystem: the driver's state (the verified manifest, the store, open
// objects, counters) and every operation as a function returning Result.
// The FUSE adapters in ops.cc only translate. Inode numbers are the
// manifest's, so nothing is allocated per inode and forget is a no-op.
// Thread-safety: every method may be called concurrently.
#ifndef SEALFS_FS_FUSE_FILESYSTEM_H_
#define SEALFS_FS_FUSE_FILESYSTEM_H_

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fuse_lowlevel.h>

#include "fs/fuse/inode_paths.h"
#include "fs/fuse/open_file.h"
#include "fs/fuse/owner_map.h"
#include "fs/fuse/page_pusher.h"
#include "fs/fuse/prefetch.h"
#include "fs/fuse/read_buffer.h"
#include "fs/fuse/stats.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/store.h"

namespace sealfs::remote {
class BackgroundFetch;
class ObjectFetcher;
}  // namespace sealfs::remote

namespace sealfs::fuse {

// Entries and attributes never change, so the kernel may cache them for long.
inline constexpr double kCacheTimeoutSec = 86400.0;

class Filesystem {
 public:
  // `label` names the image in reports (its path).
  Filesystem(std::shared_ptr<const Manifest> manifest,
             std::shared_ptr<const Store> store, std::string label);
  ~Filesystem();
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  // ENOENT if absent, ENOTDIR if `parent` is not a directory, ENAMETOOLONG.
  Result<fuse_entry_param> Lookup(uint64_t parent, std::string_view name);
  Result<struct stat> GetAttr(uint64_t ino);
  // EINVAL if not a symlink. The string is NUL-terminated for the reply.
  Result<std::string> ReadLink(uint64_t ino);
  // The reply buffer for a readdir(plus) of up to `size` bytes starting at
  // cookie `offset` (0 = ".", 1 = "..", 2 + i = entry i).
  Result<std::string> ReadDir(fuse_req_t req, uint64_t ino, size_t size,
                              uint64_t offset, bool plus);
  // Opens a regular file for reading and returns the file handle: the inode
  // number, or 0 for a file whose content is in the manifest. A handle is
  // re-derivable, never a pointer: a process that takes the session over
  // (sealfs serve) serves handles opened before it started. EROFS for write
  // access or O_TRUNC; EIO if the object is missing, has the wrong size or an
  // unusable tree (reported once and counted).
  Result<uint64_t> Open(uint64_t ino, int flags);
  // Returns up to `size` verified bytes at `offset`, in `buffer` (or in the
  // manifest, for inline files). `fh` is what Open returned, or 0 for a file
  // the kernel opened without asking (see set_open_optional): its object is
  // then found, or opened, by inode. kErrDigest if a block fails
  // verification (the whole read fails; reported once per object), and the
  // object's open state is dropped so that the next open (or, for handles
  // the kernel opened itself, the next read) re-opens it from the store
  // (which `sealfs pull --verify` may have repaired meanwhile). EIO if the
  // object cannot be opened (as Open).
  Result<std::span<const uint8_t>> Read(uint64_t ino, uint64_t fh, size_t size,
                                        uint64_t offset, ReadBuffer& buffer);
  void Release(uint64_t fh);
  Result<struct statvfs> StatFs();
  // Shares open objects (fds and verified tree blocks) with other mounts of
  // the same store. Call before serving; by default the table is private.
  void set_open_objects(std::shared_ptr<OpenObjectTable> table) {
    open_ = std::move(table);
  }
  // False for an image in which no inode has an xattr.
  bool holds_xattrs() const { return manifest_->xattr_set_count() > 0; }
  // The value of xattr `name`: a view into the manifest, or into `*scratch`
  // when the mount's owner map rewrites the ids it names (OwnerMap::MapXattr;
  // kErrCorrupt if that value is malformed). ENODATA if absent.
  Result<std::string_view> GetXattr(uint64_t ino, std::string_view name,
                                    std::string* scratch);
  // Names, each NUL-terminated, as listxattr(2) returns them.
  Result<std::string> ListXattr(uint64_t ino);
  // EROFS for W_OK; otherwise the kernel checks (default_permissions).
  Status Access(uint64_t ino, int mask);
  // Counts a refused write-type request.
  void CountWriteAttempt() { Stats::Add(stats_.write_attempts); }
  void CountError() { Stats::Add(stats_.errors); }
  // The record the stats ioctl returns.
  void FillStats(StatsRecord* rec);
  void set_mounted_at(int64_t sec) { mounted_at_sec_ = sec; }
  // The max_read= option (0 if not given), which INIT must repeat.
  void set_max_read(unsigned bytes) { max_read_ = bytes; }
  // The owners to report (uidmap=, gidmap=, squash_to_*=); the identity
  // unless set. Call before serving.
  void set_owner_map(OwnerMap owners) { owners_ = std::move(owners); }
  unsigned max_read() const { return max_read_; }
  // Fetch objects missing from the store when they are read (remote=),
  // and, once serving, the rest in the background (prefetch=). Call before
  // serving.
  void set_fetcher(std::shared_ptr<remote::ObjectFetcher> fetcher,
                   std::unique_ptr<remote::BackgroundFetch> background);
  // Appends each regular file's path to `fd` when it is first opened
  // (record=). Call before serving.
  void set_recorder(UniqueFd fd);
  // Lets a listing put its small files into the kernel's page cache,
  // verified, through `device_fd` (duplicated), a descriptor of the mount's
  // FUSE connection (page_pusher.h). Call after INIT, before serving.
  void EnablePush(int device_fd);
  // Starts what runs beside the requests (the background fetch). Call once
  // the mount is ready.
  void StartBackgroundWork();
  // Stops the background fetch and cancels the fetches in flight; later
  // ones fail at once, so their readers get EIO. For a session that stops
  // being served here (hand-over, shutdown): its readers must not hold up
  // the process for a remote's time-out. REQUIRES: called from one thread.
  void StopFetching();
  // Set at INIT when the kernel can do without opendir: directories are
  // stateless here, so answering ENOSYS once saves an OPENDIR and a
  // RELEASEDIR round trip per directory opened (the kernel then caches
  // them as if keep_cache and cache_readdir had been answered).
  void set_opendir_optional(bool optional) {
    opendir_optional_.store(optional, std::memory_order_relaxed);
  }
  bool opendir_optional() const {
    return opendir_optional_.load(std::memory_order_relaxed);
  }
  // Set at INIT when the kernel can do without open
  // (FUSE_CAP_NO_OPEN_SUPPORT). Files need no state per open either (Read
  // finds a file's object by inode), so answering ENOSYS once saves an OPEN
  // and a RELEASE round trip per file; the kernel then opens files with
  // keep_cache, and the read-only mount refuses write opens itself (EROFS).
  // Not with record=, which lists the files opened.
  void set_open_optional(bool optional) {
    open_optional_.store(optional, std::memory_order_relaxed);
  }
  bool open_optional() const {
    return open_optional_.load(std::memory_order_relaxed) &&
           !record_fd_.valid();
  }

 private:
  Result<std::unique_ptr<OpenObject>> OpenStoreObject(uint64_t ino,
                                                      const Inode& inode);
  fuse_entry_param EntryFor(const struct stat& st) const;
  struct stat StatFor(const Inode& inode) const;
  // Queues a listed regular file's object for prefetching, and for pushing
  // if READDIRPLUS listed it (the kernel then knows its inode).
  void MaybePrefetch(uint64_t ino, const Inode& inode, bool plus);
  // Sets obj.fd to the object's file, and *stat_out to its fstat, fetching
  // it first when it is missing and a fetcher is set (a large one only
  // begins to arrive: obj.partial). EIO (reported) when it is missing and
  // cannot be fetched, or unusable.
  Status OpenObjectFile(OpenObject& obj, uint64_t ino, struct stat* stat_out);
  Status FetchMissing(OpenObject& obj, uint64_t ino, struct stat* stat_out);
  // Counts and logs a failed fetch; returns the EIO for the reader.
  Status FetchFailed(const Digest& digest, uint64_t ino, const Status& why);
  // Appends the path of `ino` to the record= file on its first open.
  void Record(uint64_t ino);
  // Logs `what` about object `digest` unless already reported.
  void ReportObject(const Digest& digest, uint64_t ino,
                    const std::string& what);

  std::shared_ptr<const Manifest> manifest_;
  std::shared_ptr<const Store> store_;
  std::string label_;
  InodePaths paths_;  // names files in reports
  Stats stats_;
  // One table reference held for the open handles of an inode; readers
  // copy the shared_ptr, so the object outlives a concurrent release.
  struct HeldObject {
    std::shared_ptr<OpenObjectTable> table;
    OpenObject* obj;
    // When it was last read (CoarseSeconds()); an adopted handle idle for
    // kAdoptedIdleSec is dropped.
    std::atomic<int64_t> last_read;
    HeldObject(std::shared_ptr<OpenObjectTable> t, OpenObject* o, int64_t now)
        : table(std::move(t)), obj(o), last_read(now) {}
    HeldObject(const HeldObject&) = delete;
    HeldObject& operator=(const HeldObject&) = delete;
    ~HeldObject() { table->Release(obj); }
  };
  struct Handle {
    std::shared_ptr<HeldObject> held;
    uint64_t opens = 0;
    // Re-derived for a handle this process did not open (one opened before
    // it served the session, or by a kernel that opens without asking):
    // no release will say when it is done, so it is kept while it is read
    // and among the kMaxAdoptedObjects most recently adopted, and
    // re-derived at the next read once dropped.
    bool adopted = false;
  };
  // Acquires `ino`'s object and records one more open of it (or, with
  // `adopted`, a handle this process did not open).
  Result<std::shared_ptr<HeldObject>> HoldObject(uint64_t ino,
                                                 const Inode& inode,
                                                 bool adopted);
  // The object held for `ino`'s handles, or null.
  std::shared_ptr<HeldObject> FindHeld(uint64_t ino);
  // Drops the adopted handles not read for kAdoptedIdleSec (IdleReaper);
  // false once none is left.
  bool DropIdleHandles();
  // After a failed read of `obj`: later opens, and later reads of handles
  // nobody opened here, start afresh from the store.
  void DropObject(uint64_t ino, OpenObject* obj);
  Result<std::span<const uint8_t>> ReadInline(uint64_t ino, size_t size,
                                              uint64_t offset);

  std::shared_ptr<OpenObjectTable> open_ = std::make_shared<OpenObjectTable>();
  std::shared_mutex handles_mu_;
  std::unordered_map<uint64_t, Handle> handles_;  // guarded by handles_mu_
  // Inodes in the order their handles were adopted, oldest first (may name
  // one twice, or one already gone); guarded by handles_mu_.
  std::deque<uint64_t> adopted_order_;
  bool reaper_watches_ = false;  // guarded by handles_mu_
  Prefetcher prefetch_;
  std::unique_ptr<PagePusher> pusher_;  // set before serving, or none
  std::shared_ptr<remote::ObjectFetcher> fetcher_;  // null: no remote=
  // Declared after fetcher_, so it stops first.
  std::unique_ptr<remote::BackgroundFetch> background_;
  UniqueFd record_fd_;  // record=; -1: not recording
  std::mutex record_mu_;
  std::vector<bool> recorded_;  // by inode; guarded by record_mu_
  int64_t mounted_at_sec_ = 0;
  unsigned max_read_ = 0;
  OwnerMap owners_;  // set before serving, then only read
  std::atomic<bool> opendir_optional_{false};
  std::atomic<bool> open_optional_{false};

  // Whether large reads prefetch ahead (see Prefetch()); decided by the
  // store's device at the first object open.
  std::once_flag readahead_once_;
  std::atomic<bool> prefetch_reads_{true};

  std::once_flag total_once_;
  uint64_t total_bytes_ = 0;

  std::mutex report_mu_;
  std::set<Digest> reported_;  // guarded by report_mu_
};

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_FILESYSTEM_H_
