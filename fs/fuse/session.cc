// SPDX-License-Identifier: Apache-2.0
// Mounting, daemonizing, serving and shutting down one sealfs mount.
#include "fs/fuse/session.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fuse_lowlevel.h>

#include "fs/core/openssl_init.h"
#include "fs/core/trust.h"
#include "fs/fuse/bdi.h"
#include "fs/fuse/filesystem.h"
#include "fs/fuse/init_reply.h"
#include "fs/fuse/lazy_mount.h"
#include "fs/fuse/log.h"
#include "fs/fuse/mountinfo.h"
#include "fs/fuse/ops.h"
#include "fs/fuse/privileges.h"
#include "fs/fuse/unprivileged.h"
#include "fs/fuse/watchdog.h"
#include "fs/remote/background_fetch.h"
#include "fs/remote/object_source.h"
#include "fs/remote/registry_ref.h"
#include "fs/util/io.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/store.h"

namespace sealfs::fuse {
namespace {

struct SessionDeleter {
  void operator()(fuse_session* se) const { fuse_session_destroy(se); }
};
using SessionPtr = std::unique_ptr<fuse_session, SessionDeleter>;

struct ArgsDeleter {
  void operator()(fuse_args* a) const { fuse_opt_free_args(a); }
};

// Sends the outcome of mounting to the waiting parent: "0" or "errno\ncontext".
void SendOutcome(int fd, const Status& st) {
  std::string msg =
      st.ok() ? "0" : std::to_string(st.err()) + "\n" + st.context();
  (void)WriteFull(fd,
                  {reinterpret_cast<const uint8_t*>(msg.data()), msg.size()});
}

Status ReceiveOutcome(int fd) {
  std::string msg;
  char buf[512];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    msg.append(buf, static_cast<size_t>(n));
  }
  if (msg == "0") return Status();
  size_t nl = msg.find('\n');
  if (msg.empty() || nl == std::string::npos) {
    return Status::FromErrno(EIO, "daemon exited before the mount was ready");
  }
  int err = std::atoi(msg.substr(0, nl).c_str());
  return Status::FromErrno(err > 0 ? err : EIO, msg.substr(nl + 1));
}

// The last non-empty line written to `fd` (a memfd standing in for stderr
// while mounting), to explain a failed mount.
std::string LastLine(int fd) {
  std::string text;
  char buf[1024];
  ssize_t n;
  off_t off = 0;
  while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
    text.append(buf, static_cast<size_t>(n));
    off += n;
  }
  while (!text.empty() && text.back() == '\n') text.pop_back();
  size_t nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

// Frees libfuse's mount state at exit when fusermount3's auto_unmount
// watchdog owns the unmount. If the kernel side is already gone (umount)
// this is quiet. Otherwise libfuse's unmount attempt fails for lack of
// privilege, which is expected: the watchdog removes the mount as this
// process exits. Its complaint on stderr is silenced.
void ReleaseMount(fuse_session* se) {
  std::fflush(stderr);
  int saved = dup(STDERR_FILENO);
  int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (saved >= 0 && null_fd >= 0) dup2(null_fd, STDERR_FILENO);
  fuse_session_unmount(se);
  std::fflush(stderr);
  if (saved >= 0) {
    dup2(saved, STDERR_FILENO);
    close(saved);
  }
  if (null_fd >= 0) close(null_fd);
}

// Our own unmount watchdog, when this process mounts with mount(2) itself
// (CAP_SYS_ADMIN); auto_unmount would instead exec the setuid fusermount3
// (most of the time from start to mounted). Without the capability,
// fusermount3 both mounts and watches, and `pipes` stays unset.
struct Watchdog {
  std::string path;  // the mount point, canonical as mountinfo spells it
  WatchdogPipes pipes;
  bool own() const { return pipes.command >= 0; }
};

// The mount point as /proc/self/mountinfo spells it, if this process will
// mount directly and so needs a watchdog of its own; empty if fusermount3
// will mount and watch. Resolved before mounting: afterwards a lookup of the
// mount point would wait for this very daemon.
Result<std::string> WatchdogPath(const MountRequest& req) {
  if (!HoldsSysAdmin()) return std::string();
  char* real = realpath(req.mountpoint.c_str(), nullptr);
  if (real == nullptr) return ErrnoStatus(req.mountpoint);
  std::string path = real;
  std::free(real);
  return path;
}

// For a mount served in the foreground: forks the watchdog if one is needed,
// before the image is read, so that its set-up overlaps that work.
Result<Watchdog> StartWatchdog(const MountRequest& req) {
  Watchdog w;
  SEALFS_ASSIGN_OR_RETURN(w.path, WatchdogPath(req));
  if (!w.path.empty()) {
    SEALFS_ASSIGN_OR_RETURN(w.pipes, StartUnmountWatchdog(w.path));
  }
  return w;
}

// Mounts and serves. `*ready_fd` >= 0 in a daemon: the outcome of mounting
// is written there, the fd is closed and set to -1 (so a later failure is
// not written into whatever file reuses the number), and stdio is
// detached. Returns when the mount is gone.
Status Serve(Filesystem& fs, const MountRequest& req, Watchdog& watchdog,
             int* ready_fd) {
  bool is_root = geteuid() == 0;
  const bool own_watchdog = watchdog.own();
  std::string opts = KernelOptionString(req.options, is_root, !own_watchdog);
  fuse_args args = FUSE_ARGS_INIT(0, nullptr);
  std::unique_ptr<fuse_args, ArgsDeleter> args_guard(&args);
  if (fuse_opt_add_arg(&args, "sealfs") != 0 ||
      (req.options.debug && fuse_opt_add_arg(&args, "-d") != 0) ||
      fuse_opt_add_arg(&args, "-o") != 0 ||
      fuse_opt_add_arg(&args, opts.c_str()) != 0) {
    return Status::FromErrno(ENOMEM, "fuse arguments");
  }
  const fuse_lowlevel_ops& ops = FuseOps();
  SessionPtr se(fuse_session_new(&args, &ops, sizeof(ops), &fs));
  if (se == nullptr) {
    return Status::FromErrno(
        EINVAL, "cannot create FUSE session (options " + opts + ")");
  }
  if (fuse_set_signal_handlers(se.get()) != 0) {
    return Status::FromErrno(EIO, "cannot install signal handlers");
  }
  if (fuse_session_mount(se.get(), req.mountpoint.c_str()) != 0) {
    fuse_remove_signal_handlers(se.get());
    return Status::FromErrno(EIO, req.mountpoint + ": mount failed");
  }
  // So that the INIT reply can allow idmapped mounts of this one. Without
  // the hook (no memory) the mount works, minus that.
  (void)HookDeviceIo(se.get());
  // The mount exists: from here on the daemon needs no privilege at all.
  // Unmounting on exit is left to a watchdog that keeps the privilege to do
  // it: ours, or fusermount3's (auto_unmount). Our watchdog's pipe stays
  // open until this process exits, or until it knows the mount is gone.
  // Without a watchdog armed (none started, or it died): nobody else would
  // remove the mount, nor is there a watchdog to stand down.
  const auto unwatched = [&](const Status& why) {
    fuse_session_unmount(se.get());
    fuse_remove_signal_handlers(se.get());
    return why;
  };
  if (own_watchdog) {
    std::optional<MountEntry> mounted = FindTopMount(watchdog.path);
    Status sent =
        mounted.has_value() && mounted->fstype == "fuse.sealfs"
            ? SendMountId(watchdog.pipes, mounted->id)
            : Status::FromErrno(ENOENT, watchdog.path +
                                            ": the new mount is not in "
                                            "/proc/self/mountinfo");
    if (!sent.ok()) return unwatched(sent);
    // Writing the bdi's readahead needs root, so it happens before the
    // drop. Failure only costs speed: the kernel default (128 KiB) stays.
    (void)SetMountReadahead(mounted->device, kReadaheadKb);
  }
  const auto unmount = [&](const Status& why) {
    fuse_session_unmount(se.get());
    if (own_watchdog) StandDownWatchdog(watchdog.pipes.command);
    fuse_remove_signal_handlers(se.get());
    return why;
  };
  // Answered before the caller hears that the mount is ready, so that an
  // INIT libfuse refuses (it checks the answer against the mount options)
  // fails the mount instead of leaving one whose every request fails; and
  // while the waiting process forks the watchdog, which takes as long.
  Result<InitOutcome> init = AnswerInit(se.get());
  if (own_watchdog) {
    Status armed = WaitWatchdogArmed(watchdog.pipes);
    if (!armed.ok()) return unwatched(armed);
  }
  // In the foreground, a stop signal before the INIT was read is a stop
  // like any other (exit 0), with a mount that cannot serve, so it goes
  // now. A daemon tells the `sealfs mount` waiting for it that it failed.
  if (!init.ok() && init.status().err() == ECANCELED && *ready_fd < 0) {
    Log(LOG_INFO, "stopped before serving " + req.mountpoint);
    return unmount(Status());
  }
  if (!init.ok()) return unmount(init.status());
  Status dropped = DropPrivileges(req.options.user);
  if (!dropped.ok()) return unmount(dropped.WithPrefix("dropping privileges"));
  fs.set_mounted_at(static_cast<int64_t>(std::time(nullptr)));
  if (*ready_fd >= 0) {
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd >= 0) {
      dup2(null_fd, STDERR_FILENO);
      close(null_fd);
    }
    LogToSyslog();
    SendOutcome(*ready_fd, Status());
    close(*ready_fd);
    *ready_fd = -1;
  }
  Log(LOG_INFO, "serving " + req.image + " (" + "on " + req.mountpoint +
                    (init->idmap_allowed ? ", idmapped mounts allowed" : "") +
                    ")");
  fs.StartBackgroundWork();

  // Only where our watchdog can end a connection this process leaves behind
  // (page_pusher.h): fusermount3's cannot.
  if (own_watchdog) fs.EnablePush(fuse_session_fd(se.get()));
  fuse_loop_config* cfg = fuse_loop_cfg_create();
  if (cfg == nullptr) return Status::FromErrno(ENOMEM, "loop config");
  fuse_loop_cfg_set_max_threads(cfg, DefaultThreads(req.options));
  fuse_loop_cfg_set_idle_threads(cfg, DefaultThreads(req.options));
  int rc = fuse_session_loop_mt(se.get(), cfg);
  fuse_loop_cfg_destroy(cfg);
  fuse_remove_signal_handlers(se.get());
  // Our watchdog unmounts once this process is gone; libfuse's own attempt
  // could only fail now (and, under user=, fork a doomed fusermount3). A
  // loop that ended without a signal saw the kernel end the connection: the
  // mount is gone, and the watchdog must not touch a new one at that path.
  if (!own_watchdog) ReleaseMount(se.get());
  if (own_watchdog && rc == 0) StandDownWatchdog(watchdog.pipes.command);
  if (rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP) {
    Log(LOG_INFO, "stopped serving " + req.mountpoint);
    return Status();
  }
  return Status::FromErrno(rc < 0 ? -rc : EIO, "FUSE session loop");
}

TrustPolicy MountTrust(const MountOptions& options) {
  TrustPolicy policy;
  policy.pubkeys = options.pubkeys;
  policy.keyring = options.keyring;
  policy.digest = options.digest;
  policy.insecure = options.insecure;
  return policy;
}

// Everything that can refuse a mount before anything is mounted: reads and
// checks the image, opens the store, sets up lazy fetching. Warnings go to
// stderr.
Result<std::unique_ptr<Filesystem>> Prepare(const MountRequest& req) {
  InitOpenSslWithoutErrorStrings();
  const TrustPolicy trust = MountTrust(req.options);
  // Reading the trusted keys and making OpenSSL ready to check a signature
  // take about a millisecond and need nothing from the image, so they are
  // done beside its reading, on the thread that hashes it (or on one of
  // their own, for a small image). An image from a registry is read whole
  // from the network first; its keys are read in line after it.
  std::optional<Result<std::vector<PublicKey>>> keys_read;
  std::function<void()> read_keys;
  if (!req.options.pubkeys.empty() || !req.options.keyring.empty()) {
    read_keys = [&] { keys_read = LoadTrustedKeys(trust); };
  }
  // An image in a registry is read from there, checked like any other,
  // kept in the store (a root for gc) and mounted lazily from its packs.
  const bool from_registry = remote::IsDockerRef(req.image);
  const bool lazy = from_registry || !req.options.remote.empty();
  std::unique_ptr<remote::ObjectSource> registry_source;
  std::vector<uint8_t> registry_image;
  Result<std::shared_ptr<Store>> store = Store::Open(
      req.options.store, lazy ? Store::Mode::kCreate : Store::Mode::kReadOnly);
  if (!store.ok()) {
    return store.status().WithPrefix("store " + req.options.store);
  }
  if (from_registry) {
    SEALFS_ASSIGN_OR_RETURN(
        registry_source,
        remote::OpenObjectSourceAndImage(
            req.image, SourceOptionsFor(req.options), &registry_image));
  }
  // Manifest::Open verifies a private copy: a later change to the image
  // file cannot change what was verified.
  Result<std::shared_ptr<const Manifest>> manifest =
      from_registry ? Manifest::FromBytes(std::move(registry_image))
                    : Manifest::Open(req.image, read_keys);
  // Before the keys: a bad image is reported before a bad key file.
  if (!manifest.ok()) return manifest.status().WithPrefix(req.image);
  Result<std::vector<PublicKey>> keys =
      keys_read.has_value() ? std::move(*keys_read) : LoadTrustedKeys(trust);

  std::string warning;
  SEALFS_RETURN_IF_ERROR(
      CheckTrust(**manifest, req.image, trust, keys, &warning));
  if (!warning.empty()) {
    std::fprintf(stderr, "sealfs mount: warning: %s\n", warning.c_str());
  }
  // An image from a registry becomes a tag of the store (a root for gc,
  // mountable without the registry) once all its objects are there, as a
  // pull's does: a store never has a tag whose objects are missing.
  remote::BackgroundFetch::Whole keep;
  if (from_registry) {
    SEALFS_ASSIGN_OR_RETURN(keep, KeepWhenWhole(req.image, *store, *manifest));
  }
  LazyFetch fetch;
  if (lazy) {
    // Opened before any thread starts: libcurl's global set-up requires it.
    std::string prefetch_warning;
    SEALFS_ASSIGN_OR_RETURN(
        fetch,
        SetUpLazyFetch(req.options, req.image, std::move(registry_source),
                       *store, **manifest, std::move(keep), &prefetch_warning));
    if (!prefetch_warning.empty()) {
      std::fprintf(stderr, "sealfs mount: warning: %s\n",
                   prefetch_warning.c_str());
    }
  }
  UniqueFd record;
  if (!req.options.record.empty()) {
    record.reset(open(req.options.record.c_str(),
                      O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
                      0644));
    if (!record.valid()) return ErrnoStatus("record=" + req.options.record);
  }
  if (!req.options.user.empty()) {
    SEALFS_RETURN_IF_ERROR(CheckUserExists(req.options.user));
  }
  struct stat st {};
  if (stat(req.mountpoint.c_str(), &st) != 0) {
    return ErrnoStatus(req.mountpoint);
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::FromErrno(ENOTDIR, req.mountpoint);
  }
  auto fs = std::make_unique<Filesystem>(*manifest, *store, req.image);
  if (fetch.fetcher != nullptr) {
    fs->set_fetcher(std::move(fetch.fetcher), std::move(fetch.background));
  }
  if (record.valid()) fs->set_recorder(std::move(record));
  fs->set_max_read(req.options.max_read);
  fs->set_owner_map(req.options.owners);
  return fs;
}

// Daemon side of the fork: detach, prepare, mount, report, serve; never
// returns.
[[noreturn]] void RunDaemon(const MountRequest& req, Watchdog& watchdog,
                            int ready_fd) {
  setsid();
  Result<std::unique_ptr<Filesystem>> fs = Prepare(req);
  if (!fs.ok()) {
    SendOutcome(ready_fd, fs.status());
    _exit(1);  // its watchdog pipe closes: none is forked, or it exits
  }
  // stdin/stdout go to /dev/null now; stderr to a memory file while
  // mounting, so libfuse's and fusermount3's explanations can be passed on.
  // (fusermount3's watchdog inherits these: nothing it holds may keep a
  // caller's pipe open. Ours redirects its own.)
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  int err_fd = memfd_create("sealfs-mount-log", MFD_CLOEXEC);
  if (null_fd >= 0) {
    dup2(null_fd, STDIN_FILENO);
    dup2(null_fd, STDOUT_FILENO);
    dup2(err_fd >= 0 ? err_fd : null_fd, STDERR_FILENO);
    close(null_fd);
  }
  InstallFuseLogger();
  Status st = Serve(**fs, req, watchdog, &ready_fd);
  if (!st.ok()) {
    std::string detail = err_fd >= 0 ? LastLine(err_fd) : "";
    Status report =
        detail.empty()
            ? st
            : Status::FromErrno(st.err(), st.context() + ": " + detail);
    if (ready_fd >= 0) SendOutcome(ready_fd, report);  // not yet reported
    Log(LOG_ERR, report.ToString());
    _exit(1);
  }
  _exit(0);
}

}  // namespace

Status RunMount(const MountRequest& req) {
  if (req.options.debug || req.foreground) InstallFuseLogger();
  // glibc gives each thread that allocates an arena of its own (up to 8
  // per CPU), each keeping its touched pages; the daemon's threads allocate
  // little and seldom, so two arenas serve them (measured: 0.2 MB less RSS
  // after a cold read of the bench corpus).
  (void)mallopt(M_ARENA_MAX, 2);
  // A walk keeps some 330 objects open (256 for handles the kernel opened
  // without asking, 64 from prefetching), more than the soft limit some
  // launchers leave (DESIGN.md).
  UseWholeFdLimit();
  if (req.foreground) {
    SEALFS_ASSIGN_OR_RETURN(Watchdog watchdog, StartWatchdog(req));
    if (!watchdog.own()) {
      SEALFS_RETURN_IF_ERROR(CheckUnprivilegedMount(req.options));
    }
    SEALFS_ASSIGN_OR_RETURN(std::unique_ptr<Filesystem> fs, Prepare(req));
    int no_fd = -1;
    return Serve(*fs, req, watchdog, &no_fd);
  }
  // The fork comes first and the child does all the work, so the process
  // the caller waits for stays small: forking it and its exit cost little,
  // and the manifest copy is never shared copy-on-write. Both are page-table
  // work, which is dear on a VM (a few ms of a mount of 20,000 files). For
  // the same reason this process, idle otherwise, forks the watchdog, once
  // the daemon has mounted.
  Watchdog watchdog;
  SEALFS_ASSIGN_OR_RETURN(watchdog.path, WatchdogPath(req));
  if (watchdog.path.empty()) {
    // fusermount3 will mount: say now, in one line, what stands in its way.
    SEALFS_RETURN_IF_ERROR(CheckUnprivilegedMount(req.options));
  }
  WatchdogLink link;
  if (!watchdog.path.empty()) {
    SEALFS_ASSIGN_OR_RETURN(link, MakeWatchdogLink());
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    CloseWatchdogLink(link);
    return ErrnoStatus("pipe");
  }
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    close(pipe_fds[0]);
    watchdog.pipes = KeepDaemonEnds(link);
    RunDaemon(req, watchdog, pipe_fds[1]);
  }
  close(pipe_fds[1]);
  if (pid < 0) {
    close(pipe_fds[0]);
    CloseWatchdogLink(link);
    return ErrnoStatus("fork");
  }
  Status watching;
  if (!watchdog.path.empty()) {
    watching = ForkWatchdogOnceMounted(link, watchdog.path);
  }
  Status outcome = ReceiveOutcome(pipe_fds[0]);
  close(pipe_fds[0]);
  if (!outcome.ok()) {
    waitpid(pid, nullptr, 0);  // it exits after reporting
    // The daemon saw only that nobody was watching; this says why.
    if (!watching.ok()) return watching;
  }
  return outcome;
}

}  // namespace sealfs::fuse
