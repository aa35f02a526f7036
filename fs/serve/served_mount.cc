// SPDX-License-Identifier: Apache-2.0
// Serving one adopted FUSE connection on a few threads of its own.
#include "fs/serve/served_mount.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>

#include "fs/fuse/init_reply.h"
#include "fs/fuse/ops.h"
#include "fs/remote/background_fetch.h"
#include "fs/remote/object_fetcher.h"

namespace sealfs::serve {
namespace {

// As long as the service waits for any message of a caller.
constexpr int kInitTimeoutS = 10;

}  // namespace

Result<std::unique_ptr<ServedMount>> ServedMount::Start(
    SessionRecord record, UniqueFd fuse_fd, UniqueFd image_fd,
    UniqueFd store_fd, std::unique_ptr<fuse::Filesystem> fs,
    std::shared_ptr<const ImageUse> image, const std::string& kernel_options,
    unsigned threads) {
  std::unique_ptr<ServedMount> m(new ServedMount());
  m->record_ = std::move(record);
  m->fuse_fd_ = std::move(fuse_fd);
  m->image_fd_ = std::move(image_fd);
  m->store_fd_ = std::move(store_fd);
  m->image_ = std::move(image);
  m->fs_ = std::move(fs);
  // Non-blocking, so that of the workers woken for one request, those that
  // lose the race wait again instead of sleeping in read(2).
  int flags = fcntl(m->fuse_fd_.get(), F_GETFL);
  if (flags < 0 || fcntl(m->fuse_fd_.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return ErrnoStatus("/dev/fuse");
  }
  fuse_args args = FUSE_ARGS_INIT(0, nullptr);
  if (fuse_opt_add_arg(&args, "sealfs") != 0 ||
      fuse_opt_add_arg(&args, "-o") != 0 ||
      fuse_opt_add_arg(&args, kernel_options.c_str()) != 0) {
    fuse_opt_free_args(&args);
    return Status::FromErrno(ENOMEM, "fuse arguments");
  }
  const fuse_lowlevel_ops& ops = fuse::FuseOps();
  m->se_ = fuse_session_new(&args, &ops, sizeof(ops), m->fs_.get());
  fuse_opt_free_args(&args);
  if (m->se_ == nullptr) {
    return Status::FromErrno(
        EINVAL, "cannot create FUSE session (options " + kernel_options + ")");
  }
  int dup_fd = fcntl(m->fuse_fd_.get(), F_DUPFD_CLOEXEC, 3);
  if (dup_fd < 0) return ErrnoStatus("dup /dev/fuse");
  Status hooked = fuse::HookDeviceIo(m->se_, dup_fd);
  if (!hooked.ok()) {
    close(dup_fd);
    return hooked;
  }
  if (m->record_.init.empty()) {
    // The kernel queued the INIT when the caller mounted. One not there
    // within the time-out of every request was read by the caller, and
    // this thread is one of the few that serve every caller.
    SEALFS_ASSIGN_OR_RETURN(fuse::InitOutcome init,
                            fuse::AnswerInit(m->se_, kInitTimeoutS));
    m->record_.init = std::move(init.request);
  } else {
    SEALFS_RETURN_IF_ERROR(fuse::ReplayInit(m->se_, m->record_.init));
    // Requests a killed server had read stay unanswered otherwise, and
    // their readers would wait for ever.
    (void)fuse::ResendUnanswered(m->fuse_fd_.get());
  }
  m->fs_->set_mounted_at(static_cast<int64_t>(std::time(nullptr)));
  m->fs_->StartBackgroundWork();
  m->running_.store(static_cast<int>(threads));
  for (unsigned i = 0; i < threads; ++i) {
    m->workers_.emplace_back([p = m.get()] { p->Work(); });
  }
  return m;
}

void ServedMount::Work() {
  fuse_buf buf = {};
  while (!fuse_session_exited(se_)) {
    int n = fuse_session_receive_buf(se_, &buf);
    if (n == -EINTR || n == -EAGAIN) continue;
    if (n <= 0) break;
    fuse_session_process_buf(se_, &buf);
  }
  // Every worker leaves once one saw the end (ENODEV): libfuse marks the
  // session exited.
  fuse_session_exit(se_);
  std::free(buf.mem);
  running_.fetch_sub(1);
}

void ServedMount::Join() {
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
}

ServedMount::~ServedMount() {
  Join();
  // Closes the session's dup of the connection, never the service's copy
  // (a hand-over passes that on). No unmount: the service decides.
  if (se_ != nullptr) fuse_session_destroy(se_);
}

}  // namespace sealfs::serve
