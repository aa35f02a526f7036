// SPDX-License-Identifier: Apache-2.0
// Answering the kernel's INIT through libfuse, plus what libfuse 3.14 cannot
// ask for: FUSE_ALLOW_IDMAP (Linux 6.12+), which lets the kernel make
// idmapped mounts (mount_setattr(MOUNT_ATTR_IDMAP)) of this one. libfuse
// 3.14's fuse_conn_info has 32-bit capability words and no flag for it
// (no release up to 3.17.2 has FUSE_CAP_ALLOW_IDMAP), so the flag is
// added to the reply libfuse writes, on its way to /dev/fuse.
// Call from the thread that serves the INIT; see each function.
#ifndef SEALFS_FS_FUSE_INIT_REPLY_H_
#define SEALFS_FS_FUSE_INIT_REPLY_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <fuse_lowlevel.h>

#include "sealfs/status.h"

namespace sealfs::fuse {

// What was negotiated beyond libfuse's own answer.
struct InitOutcome {
  bool idmap_offered = false;  // the kernel offered FUSE_ALLOW_IDMAP
  bool idmap_allowed = false;  // ... and the reply granted it
  // The INIT request as read, for a process that takes the session over
  // (ReplayInit).
  std::vector<uint8_t> request;
};

// Routes the session's /dev/fuse reads and writes through sealfs (plain
// read(2) and writev(2), the INIT reply excepted), so that AnswerInit can
// amend that reply. REQUIRES: `se` is mounted (fuse_session_mount) and has
// not yet read a request. Errors only if libfuse cannot store the hooks
// (ENOMEM); the session then works as before, without idmapped mounts.
// With `fd` >= 0, the session is set up on that /dev/fuse descriptor
// (owned by the session from then on) instead of a mounted one: how the
// service serves a connection somebody else mounted.
Status HookDeviceIo(fuse_session* se, int fd = -1);

// For a process that serves many sessions (sealfs serve): once set, hooked
// device reads wait on `stop_fd` too, and when it is readable fail with
// ENODEV, which ends libfuse's loop as an unmount would while the
// connection stays as it is, to be served by another process. -1: off.
void SetDeviceStopFd(int stop_fd);

// Has a fresh session over a connection that an earlier process initialized
// (its INIT `request`, as AnswerInit returned it) set itself up as that one
// did; the reply is dropped, the kernel has had it. EPROTO if libfuse
// refuses the request.
Status ReplayInit(fuse_session* se, std::span<const uint8_t> request);

// Asks the kernel to queue again every request of the connection on
// `fuse_fd` that was read but never answered (FUSE_NOTIFY_RESEND, Linux
// 6.9): those a crashed process held. The errno of the write otherwise.
Status ResendUnanswered(int fuse_fd);

// Reads the kernel's INIT from `se` and has libfuse answer it; when the
// device I/O is hooked and the kernel offers FUSE_ALLOW_IDMAP, the reply
// also grants it (the mount uses default_permissions, which the kernel
// requires for it). EPROTO if libfuse refused the INIT (then the session
// has exited); ECANCELED if the session was exited (a stop signal, through
// libfuse's handlers; the mount removed) before the INIT was read; the
// read's errno otherwise. A session exited by a signal after the INIT was
// read is not an error: the INIT is answered, and the loop then stops.
// With `timeout_s` >= 0 (the service, whose caller mounted the connection
// and could have read the INIT itself), ETIMEDOUT if no INIT came within
// that long.
Result<InitOutcome> AnswerInit(fuse_session* se, int timeout_s = -1);

// For tests: what the INIT request `request` (the bytes read from
// /dev/fuse) offers, and the INIT reply `reply` (fuse_out_header +
// fuse_init_out, as libfuse writes it) with FUSE_ALLOW_IDMAP added in
// place. False, and `reply` untouched, if either is not what it must be
// (size, opcode, unique, an error reply, no FUSE_INIT_EXT).
bool OffersIdmap(std::span<const uint8_t> request, uint64_t* unique);
bool AddIdmapToReply(std::span<uint8_t> reply, uint64_t unique);

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_INIT_REPLY_H_
