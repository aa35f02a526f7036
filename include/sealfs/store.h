// SPDX-License-Identifier: Apache-2.0
// The content-addressed object store: STORE/objects/XX/<62 hex> holds each
// file's content under its fs-verity digest, STORE/trees/XX/<62 hex> its
// Merkle tree (docs/FORMAT.md#store). Nothing outside the store directory is
// ever opened: names are built from digests, never from input strings, and
// every open is relative to the store's directory fd with O_NOFOLLOW.
// Thread-safety: a Store may be used from many threads; a StoreWriter too.
#ifndef SEALFS_INCLUDE_SEALFS_STORE_H_
#define SEALFS_INCLUDE_SEALFS_STORE_H_

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "sealfs/digest.h"
#include "sealfs/status.h"
#include "sealfs/unique_fd.h"

namespace sealfs {

class Store {
 public:
  enum class Mode { kReadOnly, kReadWrite, kCreate };

  // Opens the store at `path`. kCreate makes the directory and its objects/
  // and trees/ subdirectories if missing. ENOENT/ENOTDIR if not a store.
  static Result<std::shared_ptr<Store>> Open(const std::string& path,
                                             Mode mode);
  ~Store();

  const std::string& path() const { return path_; }
  int dir_fd() const { return dir_fd_.get(); }
  bool writable() const { return mode_ != Mode::kReadOnly; }

  // "objects/XX/<62 hex>", relative to the store.
  static std::string ObjectPath(const Digest& digest);
  static std::string TreePath(const Digest& digest);

  // Opens an object read-only. ENOENT if missing; kErrCorrupt if the name is
  // not a regular file (symlink, directory, FIFO, ...). Never blocks on a
  // FIFO (O_NONBLOCK). The content is NOT verified: use a BlockVerifier.
  // `st`, when given, receives the object's fstat.
  Result<UniqueFd> OpenObject(const Digest& digest,
                              struct stat* st = nullptr) const;

  bool HasObject(const Digest& digest) const;

  // Makes everything written to the store's filesystem durable (syncfs).
  Status Sync() const;

  // Returns a reader for the tree of the object (`data_size` bytes) suitable
  // for a BlockVerifier. If the tree file is missing, the tree is rebuilt from
  // the object (`object_fd`), checked against `digest` (kErrDigest on a
  // mismatch), and stored when the store is writable. For data_size <=
  // kBlockSize the reader is never called and no file is opened.
  Result<TreeBlockReader> OpenTree(const Digest& digest, uint64_t data_size,
                                   int object_fd) const;

 private:
  Store(std::string path, UniqueFd dir_fd, Mode mode)
      : path_(std::move(path)), dir_fd_(std::move(dir_fd)), mode_(mode) {}

  std::string path_;
  UniqueFd dir_fd_;
  Mode mode_;
};

// How a StoreWriter gives new objects their names.
enum class Durability {
  // In batches: one syncfs, then the links, so an object is visible under
  // its name only once its bytes are durable (builds, pulls).
  kSynced,
  // At once, without waiting for the disk: for an object a reader is
  // waiting for (the mount's lazy fetch). A crash can then leave a torn
  // object under its name; readers verify every block, so it fails its
  // check rather than being served (docs/DESIGN.md#lazy-fetch). The owner
  // calls Store::Sync() now and then to bound what a crash can tear.
  kUnsynced,
};

// Adds objects to a store during one build. Each Add re-hashes the bytes it
// writes and refuses them (kErrDigest) unless they match the expected digest,
// so a source file that changes under us never lands under a wrong name.
// New objects are written to unnamed temporary files and made visible as
// `durability` says: by default in batches, one syncfs per batch, then
// linkat() into place, so an object is visible under its name only when it
// is complete, correct and durable, and a crash leaves no partial object
// behind. An existing object is never rewritten (EEXIST on link is
// success), so concurrent builders are safe.
class StoreWriter {
 public:
  explicit StoreWriter(std::shared_ptr<Store> store,
                       Durability durability = Durability::kSynced);
  ~StoreWriter();  // discards what was not committed
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  // Adds content read from `fd` (pread from offset 0, `expected.data_size`
  // bytes) or given in memory. Tries FICLONE first, then copies. Returns OK at
  // once if the object and its tree already exist.
  Status AddFromFd(int fd, const MerkleTree& expected);
  Status AddFromBytes(std::span<const uint8_t> data,
                      const MerkleTree& expected);

  // Reads into `buffer`; returns the bytes read, 0 only at the end.
  using StreamReader = std::function<Result<size_t>(std::span<uint8_t> buffer)>;

  // Adds `size` bytes read once, in order, from a stream whose digest is not
  // known beforehand (a tar entry, a download). `read` is never asked for
  // more than `size` bytes in total; a stream that ends early is kErrCorrupt.
  // With `expected`, content hashing to anything else is refused
  // (kErrDigest) and never gets a name. Returns the content's digest.
  Result<Digest> AddFromStream(uint64_t size, const StreamReader& read,
                               const Digest* expected = nullptr);

  // Adds `data`, fetched because object `expected` was missing: hashed,
  // refused (kErrDigest) unless it is that object, written and added
  // without first probing the store for it (a concurrent writer's copy is
  // the same content, and wins).
  Status AddFetched(std::span<const uint8_t> data, const Digest& expected);

  // An object's bytes written in place, in any order (a download streamed
  // into the store): a temp file among the objects, of the object's size,
  // sparse until written, never visible under a name until AddObjectFile
  // has checked it. Destroying it discards the file.
  class ObjectFile {
   public:
    ~ObjectFile();
    ObjectFile(const ObjectFile&) = delete;
    ObjectFile& operator=(const ObjectFile&) = delete;
    int fd() const;  // read-write: pwrite the pieces, pread them back
    uint64_t size() const;

   private:
    friend class StoreWriter;
    struct Impl;
    explicit ObjectFile(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
  };
  Result<std::unique_ptr<ObjectFile>> CreateObjectFile(uint64_t size);
  // Hashes `file` and adds it as object `expected` if that is what it holds
  // (as AddFetched: no probe); kErrDigest otherwise, and nothing gets a
  // name.
  Status AddObjectFile(std::unique_ptr<ObjectFile> file,
                       const Digest& expected);

  // Makes every added object durable and visible. After OK, every digest
  // passed to Add* is in the store.
  Status Commit();

  // Objects actually written (not already present) and their bytes.
  uint64_t objects_written() const;
  uint64_t bytes_written() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sealfs

#endif  // SEALFS_INCLUDE_SEALFS_STORE_H_
