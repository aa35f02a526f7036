// SPDX-License-Identifier: Apache-2.0
// The kernel's INIT, answered by libfuse and amended with FUSE_ALLOW_IDMAP.
#include "fs/fuse/init_reply.h"

#include <linux/fuse.h>
#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace sealfs::fuse {
namespace {

// FUSE_ALLOW_IDMAP, protocol 7.41 (Linux 6.12): bit 40 of the INIT flags,
// so bit 8 of flags2. Newer than the kernel headers built against (Debian
// 12's describe 7.38), hence spelled out here.
constexpr uint64_t kFuseAllowIdmap = uint64_t{1} << 40;
constexpr uint32_t kAllowIdmapInFlags2 =
    static_cast<uint32_t>(kFuseAllowIdmap >> 32);

// The fields read and written below are where the protocol puts them.
static_assert(sizeof(fuse_in_header) == 40 && sizeof(fuse_out_header) == 16);
static_assert(offsetof(fuse_init_in, flags) == 12);
static_assert(offsetof(fuse_init_in, flags2) == 16);
static_assert(offsetof(fuse_init_out, flags) == 12);
static_assert(offsetof(fuse_init_out, flags2) == 32);
static_assert(sizeof(fuse_init_out) == 64);

constexpr size_t kInitReplySize =
    sizeof(fuse_out_header) + sizeof(fuse_init_out);

// The INIT this thread is having libfuse answer (AnswerInit); null
// otherwise, so that the replies of the worker threads, and every later
// one, are written untouched.
struct PendingInit {
  uint64_t unique = 0;
  bool amend = false;     // the reply is to grant FUSE_ALLOW_IDMAP
  bool granted = false;   // ... and did
  bool accepted = false;  // a success reply to the INIT was written
};
thread_local PendingInit* t_pending_init = nullptr;
// Set while a replayed INIT is answered: its reply goes nowhere.
thread_local bool t_drop_reply = false;
std::atomic<int> g_stop_fd{-1};

// FUSE_NOTIFY_RESEND (protocol 7.40, Linux 6.9); newer than the headers.
constexpr int32_t kFuseNotifyResend = 7;

// Whether `fd` has a request to read (or the stop fd, if set, is readable)
// within `timeout_s`.
bool ReadableWithin(int fd, int timeout_s) {
  const int stop_fd = g_stop_fd.load(std::memory_order_relaxed);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    int n = poll(fds, stop_fd >= 0 ? 2 : 1,
                 static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (n < 0 && errno == EINTR) continue;
    return n != 0;  // an error is left to the read that follows
  }
}

ssize_t ReadDevice(int fd, void* buf, size_t len, void* /*userdata*/) {
  const int stop_fd = g_stop_fd.load(std::memory_order_relaxed);
  if (stop_fd < 0) return read(fd, buf, len);
  for (;;) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    int n = poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if ((fds[1].revents & POLLIN) != 0) {
      errno = ENODEV;
      return -1;
    }
    // Another thread may have taken the request: the device is
    // non-blocking in the service, and EAGAIN waits again here (libfuse's
    // loop would take it for a failure).
    ssize_t got = read(fd, buf, len);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    return got;
  }
}

ssize_t WriteDevice(int fd, struct iovec* iov, int count, void* /*userdata*/) {
  if (t_drop_reply) {
    ssize_t total = 0;
    for (int i = 0; i < count; ++i) {
      total += static_cast<ssize_t>(iov[i].iov_len);
    }
    return total;
  }
  PendingInit* pending = t_pending_init;
  if (pending == nullptr) return writev(fd, iov, count);
  fuse_out_header out{};
  if (count > 0 && iov[0].iov_len >= sizeof(out)) {
    std::memcpy(&out, iov[0].iov_base, sizeof(out));
  }
  if (out.unique != pending->unique || out.error != 0) {
    return writev(fd, iov, count);
  }
  if (!pending->amend) {
    ssize_t n = writev(fd, iov, count);
    if (n > 0) pending->accepted = true;
    return n;
  }
  // libfuse writes the header and fuse_init_out as two pieces; the copy is
  // amended and written as one, which /dev/fuse takes the same way.
  uint8_t reply[kInitReplySize];
  size_t len = 0;
  for (int i = 0; i < count; ++i) {
    if (iov[i].iov_len > sizeof(reply) - len) return writev(fd, iov, count);
    std::memcpy(reply + len, iov[i].iov_base, iov[i].iov_len);
    len += iov[i].iov_len;
  }
  if (len != sizeof(reply) || !AddIdmapToReply(reply, pending->unique)) {
    ssize_t n = writev(fd, iov, count);
    if (n > 0) pending->accepted = true;
    return n;
  }
  t_pending_init = nullptr;
  ssize_t n = write(fd, reply, len);
  if (n == static_cast<ssize_t>(len)) {
    pending->granted = true;
    pending->accepted = true;
  }
  return n;
}

}  // namespace

bool OffersIdmap(std::span<const uint8_t> request, uint64_t* unique) {
  constexpr size_t kNeeded =
      sizeof(fuse_in_header) + offsetof(fuse_init_in, flags2) + 4;
  if (request.size() < kNeeded) return false;  // no flags2: before 7.36
  fuse_in_header in;
  fuse_init_in init;
  std::memcpy(&in, request.data(), sizeof(in));
  std::memset(&init, 0, sizeof(init));
  std::memcpy(&init, request.data() + sizeof(in),
              std::min(sizeof(init), request.size() - sizeof(in)));
  if (in.opcode != FUSE_INIT || init.major != FUSE_KERNEL_VERSION ||
      (init.flags & FUSE_INIT_EXT) == 0 ||
      (init.flags2 & kAllowIdmapInFlags2) == 0) {
    return false;
  }
  *unique = in.unique;
  return true;
}

bool AddIdmapToReply(std::span<uint8_t> reply, uint64_t unique) {
  if (reply.size() != kInitReplySize) return false;
  fuse_out_header out;
  fuse_init_out init;
  std::memcpy(&out, reply.data(), sizeof(out));
  std::memcpy(&init, reply.data() + sizeof(out), sizeof(init));
  // Only a successful answer to that INIT, in the extended form (flags2 is
  // read only with FUSE_INIT_EXT).
  if (out.unique != unique || out.error != 0 || out.len != reply.size() ||
      (init.flags & FUSE_INIT_EXT) == 0) {
    return false;
  }
  init.flags2 |= kAllowIdmapInFlags2;
  std::memcpy(reply.data() + sizeof(out), &init, sizeof(init));
  return true;
}

Status HookDeviceIo(fuse_session* se, int fd) {
  fuse_custom_io io{};
  io.read = ReadDevice;
  io.writev = WriteDevice;
  // Keeps the mounted fd: libfuse still unmounts and closes it as before.
  // No splice hooks: libfuse then neither splices requests in nor replies
  // out, which sealfs never asks for (it replies with verified copies).
  int rc = fuse_session_custom_io(se, &io, fd >= 0 ? fd : fuse_session_fd(se));
  if (rc != 0) return Status::FromErrno(-rc, "hooking /dev/fuse I/O");
  return Status();
}

Result<InitOutcome> AnswerInit(fuse_session* se, int timeout_s) {
  // The bound is waited for here, once, so that the device reads of every
  // later request stay as they are. A stop wakes it too; the read then
  // sees the stop.
  if (timeout_s >= 0 && !ReadableWithin(fuse_session_fd(se), timeout_s)) {
    return Status::FromErrno(
        ETIMEDOUT, "no INIT from the kernel within " +
                       std::to_string(timeout_s) +
                       " s: did the caller read it from /dev/fuse?");
  }
  fuse_buf buf = {};
  int n;
  do {
    n = fuse_session_receive_buf(se, &buf);
  } while (n == -EINTR);
  InitOutcome outcome;
  PendingInit pending;
  if (n > 0) {
    if ((buf.flags & FUSE_BUF_IS_FD) == 0 && buf.mem != nullptr) {
      const auto* bytes = static_cast<const uint8_t*>(buf.mem);
      outcome.request.assign(bytes, bytes + static_cast<size_t>(n));
      outcome.idmap_offered = OffersIdmap(
          {static_cast<const uint8_t*>(buf.mem), buf.size}, &pending.unique);
      fuse_in_header in{};
      if (outcome.request.size() >= sizeof(in)) {
        std::memcpy(&in, bytes, sizeof(in));
        pending.unique = in.unique;
      }
    }
    pending.amend = outcome.idmap_offered;
    // do_init replies from within this call, on this thread.
    t_pending_init = &pending;
    fuse_session_process_buf(se, &buf);
    t_pending_init = nullptr;
    outcome.idmap_allowed = pending.granted;
  }
  std::free(buf.mem);
  // libfuse drops what it read once the session has exited: a stop
  // signal (its handlers exit the session) before the INIT was read, or
  // the mount removed (ENODEV).
  if (n == 0 && fuse_session_exited(se)) {
    return Status::FromErrno(ECANCELED,
                             "stopped before the kernel's INIT was answered");
  }
  if (n <= 0) {
    return Status::FromErrno(n < 0 ? -n : EIO, "reading the kernel's INIT");
  }
  // libfuse's signal handlers exit the session too: a SIGINT or SIGTERM
  // that came while the INIT was answered is a stop, which the serving
  // loop then reports, not a refusal. Without the device hooks (no
  // memory) a refusal cannot be told apart: it is assumed.
  if (fuse_session_exited(se) && !pending.accepted) {
    return Status::FromErrno(EPROTO, "the kernel's INIT was refused");
  }
  return outcome;
}

}  // namespace sealfs::fuse

namespace sealfs::fuse {

void SetDeviceStopFd(int stop_fd) {
  g_stop_fd.store(stop_fd, std::memory_order_relaxed);
}

Status ReplayInit(fuse_session* se, std::span<const uint8_t> request) {
  fuse_in_header in;
  if (request.size() < sizeof(in)) {
    return Status::FromErrno(EPROTO, "no INIT to replay");
  }
  std::memcpy(&in, request.data(), sizeof(in));
  if (in.opcode != FUSE_INIT || in.len != request.size()) {
    return Status::FromErrno(EPROTO, "not an INIT request");
  }
  std::vector<uint8_t> copy(request.begin(), request.end());
  fuse_buf buf = {};
  buf.size = copy.size();
  buf.mem = copy.data();
  t_drop_reply = true;
  fuse_session_process_buf(se, &buf);
  t_drop_reply = false;
  if (fuse_session_exited(se)) {
    return Status::FromErrno(EPROTO, "the replayed INIT was refused");
  }
  return Status();
}

Status ResendUnanswered(int fuse_fd) {
  fuse_out_header out{};
  out.len = sizeof(out);
  out.error = kFuseNotifyResend;
  out.unique = 0;
  if (write(fuse_fd, &out, sizeof(out)) != static_cast<ssize_t>(sizeof(out))) {
    return Status::FromErrno(errno, "FUSE_NOTIFY_RESEND");
  }
  return Status();
}

}  // namespace sealfs::fuse
