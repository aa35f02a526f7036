// SPDX-License-Identifier: Apache-2.0
// StoreWriter: adds objects and trees in batches (temp files, one syncfs per
// batch, then links). Thread-safe: Add* from many threads, while a flusher
// thread makes the previous batch durable and names it.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "fs/core/store_io.h"
#include "fs/core/store_lock.h"
#include "fs/util/io.h"
#include "sealfs/format.h"
#include "sealfs/store.h"

namespace sealfs {
namespace {

constexpr size_t kCopyChunk = size_t{1} << 20;
// A batch is flushed (one syncfs, then links) at this many pending bytes...
constexpr uint64_t kBatchBytes = uint64_t{128} << 20;
// ...or at this many pending O_TMPFILE descriptors (bounded by RLIMIT_NOFILE,
// see MaxPendingFds).
constexpr size_t kMaxPendingFds = 4096;

size_t MaxPendingFds() {
  struct rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 64;
  // Leave room for the 512 fan-out directory fds and the caller's files.
  const rlim_t spare = limit.rlim_cur > 640 ? limit.rlim_cur - 512 : 128;
  return std::clamp<size_t>(static_cast<size_t>(spare / 4), 16, kMaxPendingFds);
}

// One file waiting for the next flush to give it its name.
struct Pending {
  TempFile file;
  std::string name;  // final name in its fan-out directory
  uint64_t bytes = 0;
  bool is_object = false;
};

// Writes bytes into the temp file at `fd` and returns the tree of exactly
// the bytes written.
using Source = std::function<Result<MerkleTree>(int fd)>;

// Checks that `tree` (untrusted, from the caller) is the tree of `digest`:
// the top block hashes to the root, and every block hashes to its entry in
// the level above. Catches a caller bug before a bad tree is stored.
Status CheckTree(const MerkleTree& tree, const TreeGeometry& geometry) {
  const std::string what = "tree of " + tree.digest.ToString();
  if (tree.tree.size() != geometry.tree_bytes()) {
    return Status::FromErrno(EINVAL, what + ": " +
                                         std::to_string(tree.tree.size()) +
                                         " bytes, expected " +
                                         std::to_string(geometry.tree_bytes()));
  }
  auto block = [&](uint64_t index) {
    return std::span<const uint8_t>(tree.tree).subspan(index * kBlockSize,
                                                       kBlockSize);
  };
  const int top = geometry.levels - 1;
  if (DigestFromRoot(tree.data_size,
                     Sha256(block(geometry.level_start[top]))) != tree.digest) {
    return Status::FromErrno(kErrDigest, what + ": root does not match");
  }
  for (int level = 0; level < top; ++level) {
    for (uint64_t i = 0; i < geometry.level_blocks[level]; ++i) {
      const Digest hash = Sha256(block(geometry.level_start[level] + i));
      const uint64_t parent =
          geometry.level_start[level + 1] + i / kHashesPerBlock;
      const uint64_t slot = (i % kHashesPerBlock) * kDigestSize;
      if (!std::equal(hash.bytes.begin(), hash.bytes.end(),
                      block(parent).begin() + static_cast<ptrdiff_t>(slot))) {
        return Status::FromErrno(
            kErrDigest, what + ": level " + std::to_string(level) + " block " +
                            std::to_string(i) + " does not match its parent");
      }
    }
  }
  return {};
}

}  // namespace

// A reused object's mtime is refreshed so gc's grace period counts from the
// last build that used it. Best effort: a read-only object is still valid.
void Touch(int dir_fd, const std::string& name) {
  (void)::utimensat(dir_fd, name.c_str(), nullptr, AT_SYMLINK_NOFOLLOW);
}

struct StoreWriter::Impl {
  Impl(std::shared_ptr<Store> s, Durability d)
      : store(std::move(s)), durability(d), max_pending_fds(MaxPendingFds()) {
    // Shared for the writer's whole life: gc sweeps only when no writer is
    // between "object present" and "image tagged" (docs/DESIGN.md).
    Result<StoreLock> locked = StoreLock::Acquire(
        store->dir_fd(), StoreLock::Kind::kShared, /*wait=*/true);
    if (locked.ok()) {
      store_lock = std::move(*locked);
    } else {
      failed = locked.status().WithPrefix("store " + store->path());
    }
  }
  ~Impl() {
    std::unique_lock lock(mu);
    WaitForFlushLocked(lock);
    // Uncommitted temp files go before the directory fds they live in.
    pending.clear();
  }

  Result<int> FanoutDir(bool trees, const Digest& digest);
  Result<bool> Exists(int dir_fd, const std::string& name, uint64_t size,
                      const std::string& what);
  Status Add(const MerkleTree& expected, const Source& source);
  Result<Digest> AddStream(uint64_t size, const StreamReader& read,
                           const Digest* expected);
  // Adds `object`, a temp file in objects/ holding the bytes `tree` was
  // computed from, and the tree. With `probe`, first looks for the object
  // and its tree (refreshing an existing object's time for gc); without,
  // links and lets EEXIST say it was there.
  Status AddHashed(TempFile object, const MerkleTree& tree, bool probe);
  Result<int> ObjectsDir();
  Status Push(std::vector<Pending> files, const Digest& digest);
  // Durability::kUnsynced: names `files` now, trees first.
  Status LinkNow(std::vector<Pending> files);
  // Takes what is pending for a flush and marks a flush as running.
  // REQUIRES: mu held, no flush running.
  std::vector<Pending> TakeBatchLocked();
  // Makes `batch` durable and names it, then marks the flush as done. A
  // failure is also kept in `failed`.
  Status FlushBatch(std::vector<Pending> batch);
  // Waits for a running flush and joins its thread. REQUIRES: `lock` on mu.
  void WaitForFlushLocked(std::unique_lock<std::mutex>& lock);
  // FlushBatch's work: syncfs, then the links, trees first.
  Status SyncAndLink(std::vector<Pending>& batch);

  const std::shared_ptr<Store> store;
  const Durability durability;
  const size_t max_pending_fds;
  StoreLock store_lock;  // released last, after every temp file is gone

  std::mutex dirs_mu;
  // Fan-out directory fds, [0] objects and [1] trees, opened on first use and
  // kept for the writer's life. Protected by dirs_mu.
  std::array<std::array<UniqueFd, 256>, 2> dirs;
  UniqueFd objects_dir;  // objects/ itself, for streams of unknown digest

  std::mutex mu;                       // protects the members below
  std::condition_variable flush_done;  // signalled when `flushing` clears
  bool flushing = false;               // a batch is being flushed
  std::thread flusher;  // the last background flush; joined before the next
  std::vector<Pending> pending;
  std::unordered_set<Digest, DigestHash> pending_digests;
  uint64_t pending_bytes = 0;
  size_t pending_fds = 0;
  Status failed;  // lock or first flush failure; every later call returns it

  std::atomic<uint64_t> objects_written{0};
  std::atomic<uint64_t> bytes_written{0};
};

Result<int> StoreWriter::Impl::FanoutDir(bool trees, const Digest& digest) {
  std::lock_guard lock(dirs_mu);
  UniqueFd& fd = dirs[trees ? 1 : 0][digest.bytes[0]];
  if (!fd.valid()) {
    SEALFS_ASSIGN_OR_RETURN(
        fd, OpenFanoutDir(store->dir_fd(), trees ? kTreesDir : kObjectsDir,
                          digest, /*create=*/true));
  }
  return fd.get();
}

Result<bool> StoreWriter::Impl::Exists(int dir_fd, const std::string& name,
                                       uint64_t size, const std::string& what) {
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return false;
    return ErrnoStatus(what);
  }
  SEALFS_RETURN_IF_ERROR(CheckRegular(st, what));
  if (static_cast<uint64_t>(st.st_size) != size) {
    return Status::Corrupt(what + ": size " + std::to_string(st.st_size) +
                           ", expected " + std::to_string(size));
  }
  return true;
}

Status StoreWriter::Impl::Add(const MerkleTree& expected,
                              const Source& source) {
  const Digest& digest = expected.digest;
  const TreeGeometry geometry = TreeGeometry::For(expected.data_size);
  {
    std::lock_guard lock(mu);
    if (!failed.ok()) return failed;
    // Another thread added the same content in this batch.
    if (pending_digests.contains(digest)) return {};
  }
  const std::string leaf = LeafName(digest);
  const std::string object_what = "object " + Store::ObjectPath(digest);
  const std::string tree_what = "tree " + Store::TreePath(digest);

  SEALFS_ASSIGN_OR_RETURN(int object_dir, FanoutDir(false, digest));
  SEALFS_ASSIGN_OR_RETURN(
      bool have_object,
      Exists(object_dir, leaf, expected.data_size, object_what));
  const bool needs_tree = geometry.tree_blocks > 0;
  int tree_dir = -1;
  bool have_tree = true;
  if (needs_tree) {
    SEALFS_ASSIGN_OR_RETURN(tree_dir, FanoutDir(true, digest));
    SEALFS_ASSIGN_OR_RETURN(
        have_tree, Exists(tree_dir, leaf, geometry.tree_bytes(), tree_what));
  }
  if (have_object) Touch(object_dir, leaf);
  if (have_object && have_tree) return {};

  std::vector<Pending> files;
  const std::vector<uint8_t>* tree_bytes = &expected.tree;
  MerkleTree actual;
  if (!have_object) {
    SEALFS_ASSIGN_OR_RETURN(TempFile object, TempFile::Create(object_dir));
    Result<MerkleTree> written = source(object.fd());
    if (!written.ok()) return written.status().WithPrefix(object_what);
    actual = std::move(*written);
    if (actual.digest != digest || actual.data_size != expected.data_size) {
      return Status::FromErrno(
          kErrDigest, object_what +
                          ": bytes do not match the expected digest (source "
                          "changed while reading?): got " +
                          actual.digest.ToString() + ", " +
                          std::to_string(actual.data_size) + " bytes");
    }
    object.CloseFdIfNamed();
    files.push_back({std::move(object), leaf, actual.data_size, true});
    tree_bytes = &actual.tree;
  } else {
    // Only the tree is missing; the caller's tree is checked, not trusted.
    SEALFS_RETURN_IF_ERROR(CheckTree(expected, geometry));
  }
  if (!have_tree) {
    SEALFS_ASSIGN_OR_RETURN(TempFile tree, TempFile::Create(tree_dir));
    Status wrote = PwriteFull(tree.fd(), *tree_bytes, 0);
    if (!wrote.ok()) return wrote.WithPrefix(tree_what);
    tree.CloseFdIfNamed();
    files.push_back({std::move(tree), leaf, tree_bytes->size(), false});
  }
  return Push(std::move(files), digest);
}

Result<int> StoreWriter::Impl::ObjectsDir() {
  std::lock_guard lock(dirs_mu);
  if (!objects_dir.valid()) {
    SEALFS_ASSIGN_OR_RETURN(objects_dir,
                            OpenBeneath(store->dir_fd(), kObjectsDir,
                                        O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }
  return objects_dir.get();
}

Result<Digest> StoreWriter::Impl::AddStream(uint64_t size,
                                            const StreamReader& read,
                                            const Digest* expected) {
  {
    std::lock_guard lock(mu);
    if (!failed.ok()) return failed;
  }
  // The fan-out directory depends on the digest, known only at the end: the
  // temp file starts in objects/ and is linked into place from there.
  SEALFS_ASSIGN_OR_RETURN(int top, ObjectsDir());
  SEALFS_ASSIGN_OR_RETURN(TempFile object, TempFile::Create(top));
  std::vector<uint8_t> buffer(
      static_cast<size_t>(std::clamp<uint64_t>(size, 1, kCopyChunk)));
  MerkleBuilder builder;
  for (uint64_t off = 0; off < size;) {
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(buffer.size(), size - off));
    SEALFS_ASSIGN_OR_RETURN(size_t got,
                            read(std::span<uint8_t>(buffer).first(want)));
    if (got == 0 || got > want) {
      return Status::Corrupt("stream ended after " + std::to_string(off) +
                             " of " + std::to_string(size) + " bytes");
    }
    std::span<const uint8_t> chunk =
        std::span<const uint8_t>(buffer).first(got);
    builder.Update(chunk);
    SEALFS_RETURN_IF_ERROR(PwriteFull(object.fd(), chunk, off));
    off += got;
  }
  MerkleTree tree = builder.Finish();
  const Digest digest = tree.digest;
  if (expected != nullptr && digest != *expected) {
    return Status::FromErrno(kErrDigest,
                             "object " + Store::ObjectPath(*expected) +
                                 ": content hashes to " + digest.ToString());
  }
  SEALFS_RETURN_IF_ERROR(AddHashed(std::move(object), tree, /*probe=*/true));
  return digest;
}

Status StoreWriter::Impl::AddHashed(TempFile object, const MerkleTree& tree,
                                    bool probe) {
  const Digest& digest = tree.digest;
  const uint64_t size = tree.data_size;
  {
    std::lock_guard lock(mu);
    if (pending_digests.contains(digest)) return {};
  }
  const std::string leaf = LeafName(digest);
  SEALFS_ASSIGN_OR_RETURN(int object_dir, FanoutDir(false, digest));
  bool have_object = false;
  if (probe) {
    SEALFS_ASSIGN_OR_RETURN(
        have_object,
        Exists(object_dir, leaf, size, "object " + Store::ObjectPath(digest)));
  }
  std::vector<Pending> files;
  if (have_object) Touch(object_dir, leaf);
  if (!have_object) {
    object.set_link_dir(object_dir);
    object.CloseFdIfNamed();
    files.push_back({std::move(object), leaf, size, true});
  }
  if (TreeGeometry::For(size).tree_blocks > 0) {
    const std::string tree_what = "tree " + Store::TreePath(digest);
    SEALFS_ASSIGN_OR_RETURN(int tree_dir, FanoutDir(true, digest));
    bool have_tree = false;
    if (probe) {
      SEALFS_ASSIGN_OR_RETURN(
          have_tree, Exists(tree_dir, leaf, tree.tree.size(), tree_what));
    }
    if (!have_tree) {
      SEALFS_ASSIGN_OR_RETURN(TempFile tree_file, TempFile::Create(tree_dir));
      Status wrote = PwriteFull(tree_file.fd(), tree.tree, 0);
      if (!wrote.ok()) return wrote.WithPrefix(tree_what);
      tree_file.CloseFdIfNamed();
      files.push_back({std::move(tree_file), leaf, tree.tree.size(), false});
    }
  }
  if (files.empty()) return {};
  return Push(std::move(files), digest);
}

Status StoreWriter::Impl::Push(std::vector<Pending> files,
                               const Digest& digest) {
  if (durability == Durability::kUnsynced) return LinkNow(std::move(files));
  auto batch = std::make_shared<std::vector<Pending>>();
  {
    std::unique_lock lock(mu);
    if (!failed.ok()) return failed;
    for (Pending& file : files) {
      pending_bytes += file.bytes;
      if (file.file.fd() >= 0) ++pending_fds;
      pending.push_back(std::move(file));
    }
    pending_digests.insert(digest);
    // Half the descriptors, so the next batch fills while this one flushes.
    const bool out_of_fds = pending_fds >= max_pending_fds;
    if (!out_of_fds && pending_fds < max_pending_fds / 2 &&
        pending_bytes < kBatchBytes) {
      return {};
    }
    if (flushing) {
      if (!out_of_fds) return {};  // the running flush took the last batch
      WaitForFlushLocked(lock);
      if (!failed.ok()) return failed;
    } else if (flusher.joinable()) {
      flusher.join();  // finished: `flushing` is clear
    }
    *batch = TakeBatchLocked();
    try {
      // The adders go on filling the next batch meanwhile.
      flusher =
          std::thread([this, batch] { (void)FlushBatch(std::move(*batch)); });
      return {};
    } catch (const std::system_error&) {
      // No thread to be had: flush in line.
    }
  }
  return FlushBatch(std::move(*batch));
}

Status StoreWriter::Impl::LinkNow(std::vector<Pending> files) {
  // Trees first, for the reason Flush gives.
  std::stable_partition(files.begin(), files.end(),
                        [](const Pending& file) { return !file.is_object; });
  for (Pending& file : files) {
    SEALFS_ASSIGN_OR_RETURN(bool linked, file.file.Link(file.name));
    if (linked && file.is_object) {
      objects_written.fetch_add(1, std::memory_order_relaxed);
      bytes_written.fetch_add(file.bytes, std::memory_order_relaxed);
    }
  }
  return {};
}

std::vector<Pending> StoreWriter::Impl::TakeBatchLocked() {
  std::vector<Pending> batch = std::move(pending);
  pending.clear();
  pending_digests.clear();
  pending_bytes = 0;
  pending_fds = 0;
  flushing = true;
  return batch;
}

void StoreWriter::Impl::WaitForFlushLocked(std::unique_lock<std::mutex>& lock) {
  flush_done.wait(lock, [this] { return !flushing; });
  if (flusher.joinable()) flusher.join();
}

Status StoreWriter::Impl::FlushBatch(std::vector<Pending> batch) {
  Status st = SyncAndLink(batch);
  std::lock_guard lock(mu);
  if (!st.ok() && failed.ok()) failed = st;
  flushing = false;
  flush_done.notify_all();
  return st;
}

Status StoreWriter::Impl::SyncAndLink(std::vector<Pending>& batch) {
  if (batch.empty()) return {};
  // One syncfs makes the whole batch's data durable before any of it gets a
  // name, so a crash never leaves a partial object under a digest.
  if (::syncfs(store->dir_fd()) != 0) {
    return ErrnoStatus("store " + store->path() + ": syncfs");
  }
  // Trees are named before objects: a crash between the two links then
  // leaves at worst a tree without its object (garbage that gc removes and
  // fsck counts as an orphan, as an interrupted gc leaves), never an object
  // whose tree is missing (a problem for fsck, and a rebuild on first open).
  std::stable_partition(batch.begin(), batch.end(),
                        [](const Pending& file) { return !file.is_object; });
  for (Pending& file : batch) {
    Result<bool> linked = file.file.Link(file.name);
    if (!linked.ok()) {
      // The rest of the batch is discarded with `batch`.
      return linked.status().WithPrefix(store->path());
    }
    if (*linked && file.is_object) {
      objects_written.fetch_add(1, std::memory_order_relaxed);
      bytes_written.fetch_add(file.bytes, std::memory_order_relaxed);
    }
  }
  return {};
}

StoreWriter::StoreWriter(std::shared_ptr<Store> store, Durability durability)
    : impl_(std::make_unique<Impl>(std::move(store), durability)) {}

struct StoreWriter::ObjectFile::Impl {
  TempFile file;
  uint64_t size = 0;
};

StoreWriter::ObjectFile::ObjectFile(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
StoreWriter::ObjectFile::~ObjectFile() = default;
int StoreWriter::ObjectFile::fd() const { return impl_->file.fd(); }
uint64_t StoreWriter::ObjectFile::size() const { return impl_->size; }

Result<std::unique_ptr<StoreWriter::ObjectFile>> StoreWriter::CreateObjectFile(
    uint64_t size) {
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->failed.ok()) return impl_->failed;
  }
  SEALFS_ASSIGN_OR_RETURN(int top, impl_->ObjectsDir());
  auto file = std::make_unique<ObjectFile::Impl>();
  SEALFS_ASSIGN_OR_RETURN(file->file, TempFile::Create(top));
  if (::ftruncate(file->file.fd(), static_cast<off_t>(size)) != 0) {
    return ErrnoStatus("store " + impl_->store->path() + ": ftruncate");
  }
  file->size = size;
  return std::unique_ptr<ObjectFile>(new ObjectFile(std::move(file)));
}

Status StoreWriter::AddObjectFile(std::unique_ptr<ObjectFile> file,
                                  const Digest& expected) {
  const std::string what = "object " + Store::ObjectPath(expected);
  SEALFS_ASSIGN_OR_RETURN(MerkleTree tree, ComputeMerkleTree(file->fd()));
  if (tree.digest != expected || tree.data_size != file->size()) {
    return Status::FromErrno(
        kErrDigest, what + ": content hashes to " + tree.digest.ToString());
  }
  return impl_->AddHashed(std::move(file->impl_->file), tree,
                          /*probe=*/false);
}

Status StoreWriter::AddFetched(std::span<const uint8_t> data,
                               const Digest& expected) {
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->failed.ok()) return impl_->failed;
  }
  const std::string what = "object " + Store::ObjectPath(expected);
  MerkleTree tree = ComputeMerkleTree(data);
  if (tree.digest != expected) {
    return Status::FromErrno(
        kErrDigest, what + ": content hashes to " + tree.digest.ToString());
  }
  SEALFS_ASSIGN_OR_RETURN(int object_dir, impl_->FanoutDir(false, expected));
  SEALFS_ASSIGN_OR_RETURN(TempFile object, TempFile::Create(object_dir));
  Status wrote = PwriteFull(object.fd(), data, 0);
  if (!wrote.ok()) return wrote.WithPrefix(what);
  return impl_->AddHashed(std::move(object), tree, /*probe=*/false);
}

StoreWriter::~StoreWriter() = default;

Status StoreWriter::AddFromBytes(std::span<const uint8_t> data,
                                 const MerkleTree& expected) {
  return impl_->Add(expected, [data](int fd) -> Result<MerkleTree> {
    MerkleBuilder builder;
    for (size_t off = 0; off < data.size(); off += kCopyChunk) {
      std::span<const uint8_t> chunk =
          data.subspan(off, std::min(kCopyChunk, data.size() - off));
      builder.Update(chunk);
      SEALFS_RETURN_IF_ERROR(PwriteFull(fd, chunk, off));
    }
    return builder.Finish();
  });
}

Status StoreWriter::AddFromFd(int src_fd, const MerkleTree& expected) {
  const uint64_t size = expected.data_size;
  return impl_->Add(expected, [src_fd, size](int fd) -> Result<MerkleTree> {
    std::vector<uint8_t> buffer(
        static_cast<size_t>(std::clamp<uint64_t>(size, 1, kCopyChunk)));
    MerkleBuilder builder;
    if (size > 0 && ::ioctl(fd, FICLONE, src_fd) == 0) {
      // Shared extents: hash what the clone holds, which is what the store
      // will serve, whatever the source does afterwards.
      struct stat st;
      if (::fstat(fd, &st) != 0) return ErrnoStatus("fstat clone");
      if (static_cast<uint64_t>(st.st_size) != size) {
        return Status::FromErrno(
            kErrDigest,
            "source changed while reading: " + std::to_string(st.st_size) +
                " bytes, expected " + std::to_string(size));
      }
      for (uint64_t off = 0; off < size;) {
        SEALFS_ASSIGN_OR_RETURN(size_t got, PreadFull(fd, buffer, off));
        if (got == 0) break;
        builder.Update(std::span<const uint8_t>(buffer).first(got));
        off += got;
      }
      return builder.Finish();
    }
    // No reflink here (EOPNOTSUPP, EXDEV, EINVAL, ...): copy and hash.
    for (uint64_t off = 0; off < size;) {
      const size_t want =
          static_cast<size_t>(std::min<uint64_t>(buffer.size(), size - off));
      SEALFS_ASSIGN_OR_RETURN(
          size_t got,
          PreadFull(src_fd, std::span<uint8_t>(buffer).first(want), off));
      if (got == 0) break;  // the source shrank: the digest will not match
      std::span<const uint8_t> chunk =
          std::span<const uint8_t>(buffer).first(got);
      builder.Update(chunk);
      SEALFS_RETURN_IF_ERROR(PwriteFull(fd, chunk, off));
      off += got;
    }
    return builder.Finish();
  });
}

Result<Digest> StoreWriter::AddFromStream(uint64_t size,
                                          const StreamReader& read,
                                          const Digest* expected) {
  return impl_->AddStream(size, read, expected);
}

Status StoreWriter::Commit() {
  std::vector<Pending> batch;
  {
    std::unique_lock lock(impl_->mu);
    impl_->WaitForFlushLocked(lock);
    if (!impl_->failed.ok()) return impl_->failed;
    batch = impl_->TakeBatchLocked();
  }
  SEALFS_RETURN_IF_ERROR(impl_->FlushBatch(std::move(batch)));
  // Makes the links durable, and also objects another builder linked that
  // our Add* found present.
  if (::syncfs(impl_->store->dir_fd()) != 0) {
    return ErrnoStatus("store " + impl_->store->path() + ": syncfs");
  }
  return {};
}

uint64_t StoreWriter::objects_written() const {
  return impl_->objects_written.load(std::memory_order_relaxed);
}

uint64_t StoreWriter::bytes_written() const {
  return impl_->bytes_written.load(std::memory_order_relaxed);
}

}  // namespace sealfs
