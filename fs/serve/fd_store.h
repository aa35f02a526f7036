// SPDX-License-Identifier: Apache-2.0
// systemd's file-descriptor store as the place where sessions outlive the
// service (sd_notify FDSTORE=1, written by hand: no libsystemd). Each
// session is stored as four descriptors named by FdName: its /dev/fuse
// connection, image, store, and a sealed memfd holding its record (what
// the keeper would otherwise hold). After a crash systemd starts the
// service again with them in $LISTEN_FDS. Everything handed back is
// checked as hostile input. Reentrant.
#ifndef SEALFS_FS_SERVE_FD_STORE_H_
#define SEALFS_FS_SERVE_FD_STORE_H_

#include <span>
#include <string>
#include <vector>

#include "fs/serve/keeper.h"
#include "fs/serve/protocol.h"
#include "sealfs/status.h"

namespace sealfs::serve {

// True if $NOTIFY_SOCKET is set and the unit keeps an fd store: $FDSTORE
// (set by systemd 254 and later) above 0, or `asked` (--fd-store, for the
// unit of an older systemd, which says FileDescriptorStoreMax= itself).
bool FdStoreWanted(bool asked);

// Stores `rec` and its fds (fuse, image, store). EIO naming the step if
// systemd's socket refused a message (the session then lives only in this
// process).
Status StoreSession(const SessionRecord& rec, std::span<const int> fds);

// Asks systemd to close every stored descriptor of session `id`.
void RemoveSession(uint64_t id);

// The sessions systemd handed back: nothing unless $LISTEN_PID is this
// process. Takes every descriptor from fd 3 on that $LISTEN_FDS counts,
// marks them close-on-exec and unsets the variables. A descriptor whose
// name is not ours is closed; a session with a descriptor missing, twice,
// of the wrong type, or a record that is not a sealed memfd holding a
// valid record of that id is refused (its descriptors closed and removed
// from the store). Each refusal is a line in `problems`.
std::vector<HeldSession> TakeStoredSessions(std::vector<std::string>* problems);

}  // namespace sealfs::serve

#endif  // SEALFS_FS_SERVE_FD_STORE_H_
