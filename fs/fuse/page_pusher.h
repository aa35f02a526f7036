// SPDX-License-Identifier: Apache-2.0
// PagePusher: while a walk (tar, cp -a) reads small files, puts the small
// files of each directory it lists into the kernel's page cache of the
// mount before they are read, so they cost no FUSE round trip each. One
// lazy thread reads each object whole, checks it against its digest (the
// fs-verity digest of the whole file, so every byte is verified), and
// writes exactly the bytes it checked to the FUSE device as a
// FUSE_NOTIFY_STORE. An object that fails the check is not pushed: its
// read reaches the daemon, which finds and reports the bad block.
//
// The kernel locks a page while a READ for it is in flight, and a store to
// that page waits for the lock. A daemon killed while the thread waits
// never answers that READ; the thread would keep the process's descriptors,
// so its watchdog would never see it gone, unmount, and abort the
// connection (which ends the wait: watchdog.cc). The thread therefore runs
// with a descriptor table of its own, holding only the store and the
// device. Thread-safe.
#ifndef SEALFS_FS_FUSE_PAGE_PUSHER_H_
#define SEALFS_FS_FUSE_PAGE_PUSHER_H_

#include <cstdint>
#include <memory>

#include "sealfs/digest.h"
#include "sealfs/store.h"
#include "sealfs/unique_fd.h"

namespace sealfs::fuse {

class PagePusher {
 public:
  // `device`: a descriptor of the mount's FUSE connection, after INIT.
  PagePusher(std::shared_ptr<const Store> store, UniqueFd device);
  ~PagePusher();  // stops the thread; does not wait for one the kernel holds
  PagePusher(const PagePusher&) = delete;
  PagePusher& operator=(const PagePusher&) = delete;

  // Whether a file of `size` bytes is pushed: 1 byte to 256 KiB (verified
  // whole, in one tree block).
  static bool Wants(uint64_t size);

  // Queues inode `ino` (its object `digest` of `size` bytes, Wants(size)),
  // just listed by READDIRPLUS, so the kernel knows the inode. Dropped when
  // no walk reads (see NoteRead) or the queue is full. The thread starts on
  // first use.
  void Enqueue(uint64_t ino, const Digest& digest, uint64_t size);

  // The first read of `ino` (`size` bytes) reached the daemon: pushing it
  // now would be wasted. Small files being read are also what shows that
  // listings are being walked: only listings within a second of such a
  // read are pushed. A listing nobody reads (`ls -l`, `find`) costs no
  // reading and hashing of its files' objects.
  void NoteRead(uint64_t ino, uint64_t size);

  // Objects pushed so far.
  uint64_t pushed() const;

 private:
  struct State;
  static void Run(std::shared_ptr<State> state);
  // Shared with the thread, which may outlive this object (see above).
  std::shared_ptr<State> state_;
};

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_PAGE_PUSHER_H_
