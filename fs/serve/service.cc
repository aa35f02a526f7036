// SPDX-License-Identifier: Apache-2.0
// The service's main loop, its request handlers and session bookkeeping.
#include "fs/serve/service.h"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "fs/core/openssl_init.h"
#include "fs/core/trust.h"
#include "fs/fuse/filesystem.h"
#include "fs/fuse/init_reply.h"
#include "fs/fuse/lazy_mount.h"
#include "fs/fuse/log.h"
#include "fs/fuse/mount_options.h"
#include "fs/fuse/mountinfo.h"
#include "fs/remote/background_fetch.h"
#include "fs/remote/object_fetcher.h"
#include "fs/remote/registry_ref.h"
#include "fs/serve/caps.h"
#include "fs/serve/channel.h"
#include "fs/serve/fd_store.h"
#include "fs/serve/handover_outcome.h"
#include "fs/serve/inherited_files.h"
#include "fs/serve/keeper.h"
#include "fs/serve/mount_id.h"
#include "fs/serve/namespaced_mount.h"
#include "fs/serve/notify.h"
#include "fs/serve/registry_image.h"
#include "fs/serve/servable.h"
#include "fs/serve/served_mount.h"
#include "fs/serve/shared_images.h"
#include "fs/serve/successor.h"
#include "fs/util/io.h"

namespace sealfs::serve {
namespace {

constexpr int kMaxConnections = 64;
// A caller mounting through fusermount3 may take a while before attaching.
constexpr int kRequestTimeoutS = 10;
// Mounts of one service share the host's CPUs: 2 workers each unless
// threads= (or remote=) says otherwise.
constexpr unsigned kDefaultThreads = 2;
constexpr unsigned kMaxThreads = 16;
// How long a hand-over or shutdown lets requests in hand finish before it
// cancels the fetches they wait on.
constexpr int kStopGraceMs = 2000;
// How long a successor that failed may take to exit before this service
// serves on (beyond that it stops, as after a hand-over).
constexpr int kSuccessorExitMs = 10000;
// How long a child unmounting in another namespace may take before it is
// killed (its path may lead through a hung FUSE mount).
constexpr int kUnmountChildS = 10;

// What a request or a taken-over record turns into before it is served.
struct Prepared {
  fuse::MountOptions options;
  std::shared_ptr<const ImageUse> image;
  std::unique_ptr<fuse::Filesystem> fs;
  std::string warning;
  std::string remote_pin;  // remote=docker://, pinned (see MountSpec)
};

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The id of the mount whose root `path` is (mount_id.h); 0 if `path` is
// no mount root. statx, not a read of mountinfo, whose size grows with
// every mount on the host, and whose ids the next mount there may get
// again. `old_id` as for StatMount.
uint64_t MountIdAt(const std::string& path, bool old_id = false) {
  std::optional<MountOf> m =
      StatMount(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, old_id);
  return m.has_value() && m->mount_root ? m->id : 0;
}

class Service {
 public:
  explicit Service(ServeOptions options) : opts_(std::move(options)) {}
  Status Run();

 private:
  // `uid`: who asked for the mount. `taken_over`: a session served
  // before, which must not be lost to a prefetch list gone since.
  // `registry`: the source a mount request's image was just read from
  // (spec.registry); null when taken over, then the registry is opened
  // on the first fetch.
  Result<Prepared> Prepare(const MountSpec& spec, int image_fd, int store_fd,
                           uid_t uid, bool taken_over,
                           std::unique_ptr<remote::ObjectSource> registry);
  // Serves a session taken over; `stored`: it is in systemd's fd store
  // already.
  Status Adopt(HeldSession held, bool stored);
  void HandleConnection(UniqueFd sock);
  Status HandleMount(int sock, const PeerCred& peer, Received request);
  std::string Listing(const PeerCred& peer);
  // Adds a session to the table and, unless `stored`, puts a copy of its
  // descriptors where a crash cannot lose them.
  void Register(std::unique_ptr<ServedMount> m, bool stored);
  // Hands the keeper a copy of a session's descriptors, if there is one.
  void KeepCopy(const SessionRecord& rec, std::span<const int> fds);
  // The keeper died (kill -9, a crash): starts a new one and hands it
  // every session, so that a later crash of the service still loses none.
  void RestartKeeper();
  // A session has ended: the keeper or systemd closes its copies.
  void Forget(uint64_t id);
  void Reap();
  // Records which mount, in which mount namespace, is the session's.
  void Locate(int sock, const PeerCred& peer, SessionRecord& rec);
  // Unmounts the session's mount if it is still there. In another mount
  // namespace a child does it (StartNamespacedUnmount); reaped by
  // ReapUnmounters.
  void Unmount(const SessionRecord& rec);
  // Reaps the children Unmount started; kills those that took too long.
  // `wait_ms`: how long to wait for them first (at shutdown).
  void ReapUnmounters(int wait_ms);
  // Has every worker of `mounts` stop reading /dev/fuse and waits for
  // them. Requests in hand get a moment to finish; then the fetches of
  // lazy mounts still waiting on a remote are cancelled (their readers get
  // EIO), so a stalled remote holds up no hand-over or shutdown.
  void StopWorkers(std::map<uint64_t, std::unique_ptr<ServedMount>>& mounts);
  // Sends every session to the successor on `sock`: true once it has
  // taken this service's place, false if it failed and this service
  // serves on (ServeOn).
  Result<bool> HandOver(int sock);
  // After a hand-over that failed: serves `mounts` again (as sessions
  // taken over, so requests the successor read are queued again) and
  // listens again.
  Status ServeOn(std::map<uint64_t, std::unique_ptr<ServedMount>> mounts);
  // Closes what this process inherited on the mounts it now serves (see
  // inherited_files.h).
  void CloseInheritedFiles();
  // Takes the sessions of the service at `path`, which exits once
  // predecessor_ is closed.
  Status TakeOverFromRunning(const std::string& path);
  // SIGUSR2: starts a successor, unless one is starting already.
  void StartUpgrade();
  // Notes a successor that exited without taking over.
  void ReapFailedUpgrade();
  void Shutdown();
  // Waits (bounded) for the request threads, which use this object.
  void DrainConnections();

  ServeOptions opts_;
  UniqueFd listener_;
  FileId socket_file_;  // listener_'s socket file, while it is in place
  UniqueFd stop_fd_;  // readable: every session stops reading /dev/fuse
  UniqueFd wake_fd_;  // wakes the main loop
  SharedImages images_;
  KeeperLink keeper_;
  bool fd_store_ = false;  // systemd keeps the descriptors, not keeper_
  std::mutex mu_;
  std::map<uint64_t, std::unique_ptr<ServedMount>> mounts_;  // guarded by mu_
  uint64_t next_id_ = 1;                                     // guarded by mu_
  bool closing_ = false;                                     // guarded by mu_
  int handover_sock_ = -1;                                   // guarded by mu_
  std::atomic<int> connections_{0};
  // The hand-over's socket, held until systemd has been told that this
  // process is the service: its predecessor waits for it to close.
  UniqueFd predecessor_;
  pid_t successor_ = -1;  // started by SIGUSR2, not yet taken over
  uint64_t own_mnt_ns_ = 0;
  struct Unmounter {
    pid_t pid;
    std::string mountpoint;
    std::chrono::steady_clock::time_point started;
  };
  std::vector<Unmounter> unmounters_;  // main thread only
};

Result<Prepared> Service::Prepare(
    const MountSpec& spec, int image_fd, int store_fd, uid_t uid,
    bool taken_over, std::unique_ptr<remote::ObjectSource> registry) {
  Prepared p;
  SEALFS_RETURN_IF_ERROR(fuse::ParseMountOptions(spec.options, &p.options));
  fuse::MountOptions& o = p.options;
  const bool from_registry = !spec.registry.empty();
  SEALFS_RETURN_IF_ERROR(CheckServable(o, from_registry, uid, geteuid()));
  const bool lazy = from_registry || !o.remote.empty();
  TrustPolicy policy;
  policy.digest = o.digest;
  policy.insecure = o.insecure;
  std::vector<PublicKey> keys;
  for (const auto& raw : spec.pubkeys) {
    PublicKey k;
    k.raw = raw;
    keys.push_back(k);
  }
  // The caller read its key files itself; the policy only needs to know
  // that keys were given.
  if (!keys.empty()) policy.pubkeys = {"(the caller's keys)"};
  bool reused = false;
  Result<std::shared_ptr<const ImageUse>> image =
      images_.Image(image_fd, &reused);
  if (!image.ok()) return image.status().WithPrefix(spec.image_label);
  p.image = *image;
  const std::shared_ptr<const Manifest>& manifest = p.image->manifest;
  // Every mount is checked against its own keys and pin, held image or not.
  SEALFS_RETURN_IF_ERROR(CheckTrust(*manifest, spec.image_label, policy,
                                    Result<std::vector<PublicKey>>(keys),
                                    &p.warning));
  Result<SharedStore> store = images_.StoreFor(store_fd, lazy);
  if (!store.ok())
    return store.status().WithPrefix("store " + spec.store_label);
  p.fs = std::make_unique<fuse::Filesystem>(manifest, store->store,
                                            spec.image_label);
  p.fs->set_open_objects(store->objects);
  if (lazy) {
    // The mount's own fetcher, connections and background thread: they
    // end with its Filesystem, and a stalled remote holds only its workers.
    // An image from a registry fetches from its packs, and is kept as a
    // tag of the store once whole, as standalone.
    const auto set_up = [&]() -> Result<fuse::LazyFetch> {
      std::unique_ptr<remote::ObjectSource> source;
      remote::BackgroundFetch::Whole keep;
      if (from_registry) {
        source = registry != nullptr
                     ? std::move(registry)
                     : DeferredRegistrySource(spec.registry, o);
        SEALFS_ASSIGN_OR_RETURN(
            keep, fuse::KeepWhenWhole(remote::IsDockerRef(spec.image_label)
                                          ? spec.image_label
                                          : spec.registry,
                                      store->store, manifest));
      } else if (remote::IsDockerRef(o.remote)) {
        // Read now for a mount request, pinned; a session taken over opens
        // it (pinned) on its first fetch.
        if (taken_over) {
          source = DeferredRegistrySource(
              spec.remote_pin.empty() ? o.remote : spec.remote_pin, o);
        } else {
          Result<std::unique_ptr<remote::RegistrySource>> opened =
              OpenRegistryNow(o.remote, o);
          if (!opened.ok()) return opened.status().WithPrefix("remote");
          p.remote_pin = (*opened)->pinned();
          source = std::move(*opened);
        }
      }
      std::string warning;
      Result<fuse::LazyFetch> fetch =
          fuse::SetUpLazyFetch(o, spec.image_label, std::move(source),
                               store->store, *manifest, std::move(keep),
                               &warning);
      if (fetch.ok() && !warning.empty()) {
        p.warning += (p.warning.empty() ? "" : "; ") + warning;
      }
      return fetch;
    };
    Result<fuse::LazyFetch> fetch = set_up();
    if (!fetch.ok() && taken_over &&
        o.prefetch == fuse::MountOptions::Prefetch::kList) {
      fuse::Log(LOG_WARNING, spec.mountpoint + ": " +
                                 fetch.status().ToString() +
                                 "; prefetching in image order");
      o.prefetch = fuse::MountOptions::Prefetch::kAll;
      fetch = set_up();
    }
    if (!fetch.ok()) return fetch.status();
    p.fs->set_fetcher(std::move(fetch->fetcher), std::move(fetch->background));
  }
  p.fs->set_max_read(o.max_read);
  p.fs->set_owner_map(o.owners);
  return p;
}

// A lazy mount gets as many as standalone (fuse::DefaultThreads): its
// readers may each wait on a fetch.
unsigned ThreadsFor(const fuse::MountOptions& o) {
  if (o.threads == 0 && o.remote.empty()) return kDefaultThreads;
  return std::min(fuse::DefaultThreads(o), kMaxThreads);
}

void Service::Register(std::unique_ptr<ServedMount> m, bool stored) {
  const SessionRecord& rec = m->record();
  int fds[3] = {m->fuse_fd(), m->image_fd(), m->store_fd()};
  // Kept under mu_: the main loop cannot reap the session meanwhile, and a
  // keeper restarted meanwhile (RestartKeeper) gets it either here or
  // from its snapshot of mounts_.
  std::lock_guard lock(mu_);
  next_id_ = std::max(next_id_, rec.id + 1);
  mounts_[rec.id] = std::move(m);
  if (stored) return;
  if (fd_store_) {
    Status st = StoreSession(rec, fds);
    if (!st.ok()) {
      fuse::Log(LOG_WARNING, "fd store: " + st.ToString() +
                                 " (this session would not survive a crash)");
    }
    return;
  }
  KeepCopy(rec, fds);
}

void Service::KeepCopy(const SessionRecord& rec, std::span<const int> fds) {
  if (!keeper_.connected()) return;
  Status kept = keeper_.Keep(rec, fds);
  if (!kept.ok()) {
    fuse::Log(LOG_WARNING, "keeper: " + kept.ToString() +
                               " (this session would not survive a crash)");
  }
}

void Service::Forget(uint64_t id) {
  if (fd_store_) {
    RemoveSession(id);
  } else if (keeper_.connected()) {
    (void)keeper_.Drop(id);
  }
}

void Service::RestartKeeper() {
  fuse::Log(LOG_WARNING, "keeper: gone; starting a new one");
  Result<KeeperLink> k = KeeperLink::ConnectOrStart(
      KeeperSocketPath(opts_.socket_path), opts_.exe);
  if (!k.ok()) {
    fuse::Log(LOG_ERR,
              k.status().ToString() + " (sessions will not survive a crash)");
    keeper_.Replace(KeeperLink());
    return;
  }
  keeper_.Replace(std::move(*k));
  // Every session again. One registered meanwhile is in this snapshot or
  // kept by Register after the link changed (at worst both: the keeper
  // takes it as one). Only this thread removes sessions, so the fds stay
  // valid outside the lock.
  std::vector<std::pair<SessionRecord, std::array<int, 3>>> all;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, m] : mounts_) {
      all.push_back(
          {m->record(), {m->fuse_fd(), m->image_fd(), m->store_fd()}});
    }
  }
  for (const auto& [rec, fds] : all) KeepCopy(rec, fds);
  fuse::Log(LOG_INFO, "keeper: restarted, " + std::to_string(all.size()) +
                          " sessions handed to it");
}

Status Service::Adopt(HeldSession held, bool stored) {
  SessionRecord& rec = held.record;
  SEALFS_ASSIGN_OR_RETURN(Prepared p,
                          Prepare(rec.spec, held.fds[1].get(),
                                  held.fds[2].get(), rec.uid, true, nullptr));
  std::string kopts = fuse::KernelOptionString(p.options, rec.uid == 0, false);
  SEALFS_ASSIGN_OR_RETURN(
      std::unique_ptr<ServedMount> m,
      ServedMount::Start(std::move(rec), std::move(held.fds[0]),
                         std::move(held.fds[1]), std::move(held.fds[2]),
                         std::move(p.fs), std::move(p.image), kopts,
                         ThreadsFor(p.options)));
  Register(std::move(m), stored);
  return Status();
}

Status Service::HandleMount(int sock, const PeerCred& peer, Received request) {
  SEALFS_ASSIGN_OR_RETURN(MountSpec spec, DecodeMountSpec(request.message));
  const bool from_registry = !spec.registry.empty();
  if (request.fds.size() != (from_registry ? 1 : 2)) {
    return Status::FromErrno(
        EPROTO, from_registry ? "a mount request of an image in a registry "
                                "carries one fd, the store"
                              : "a mount request carries two fds");
  }
  UniqueFd image_fd;
  UniqueFd store_fd = std::move(request.fds.back());
  std::unique_ptr<remote::ObjectSource> registry;
  if (from_registry) {
    // Who may make the service reach a registry is checked before it
    // does; the wait is this request's alone (its own thread).
    fuse::MountOptions o;
    SEALFS_RETURN_IF_ERROR(fuse::ParseMountOptions(spec.options, &o));
    SEALFS_RETURN_IF_ERROR(CheckServable(o, true, peer.uid, geteuid()));
    SEALFS_ASSIGN_OR_RETURN(RegistryRead read,
                            ReadImageFromRegistry(spec.registry, o));
    spec.registry = std::move(read.pinned);
    image_fd = std::move(read.image);
    registry = std::move(read.source);
  } else {
    image_fd = std::move(request.fds[0]);
  }
  SEALFS_ASSIGN_OR_RETURN(Prepared p,
                          Prepare(spec, image_fd.get(), store_fd.get(),
                                  peer.uid, false, std::move(registry)));
  SEALFS_RETURN_IF_ERROR(Send(sock, EncodeReply({0, p.warning})));
  // The caller mounts now, with its own privileges, and hands over the
  // connection.
  SEALFS_ASSIGN_OR_RETURN(Received attach, Receive(sock));
  SEALFS_RETURN_IF_ERROR(ExpectEmpty(attach.message, Type::kAttach));
  if (attach.fds.size() != 1) {
    return Status::FromErrno(EPROTO, "attach carries one fd");
  }
  struct stat st {};
  if (fstat(attach.fds[0].get(), &st) != 0 || !S_ISCHR(st.st_mode) ||
      st.st_rdev != makedev(10, 229)) {
    return Status::FromErrno(EINVAL, "attach: not a /dev/fuse connection");
  }
  SessionRecord rec;
  {
    std::lock_guard lock(mu_);
    if (closing_) return Status::FromErrno(ESHUTDOWN, "service is stopping");
    rec.id = next_id_++;
  }
  rec.spec = std::move(spec);
  rec.spec.remote_pin = std::move(p.remote_pin);
  rec.uid = peer.uid;
  rec.gid = peer.gid;
  std::string kopts = fuse::KernelOptionString(p.options, peer.uid == 0, false);
  SEALFS_ASSIGN_OR_RETURN(
      std::unique_ptr<ServedMount> m,
      ServedMount::Start(std::move(rec), std::move(attach.fds[0]),
                         std::move(image_fd), std::move(store_fd),
                         std::move(p.fs), std::move(p.image), kopts,
                         ThreadsFor(p.options)));
  Locate(sock, peer, const_cast<SessionRecord&>(m->record()));
  const uint64_t id = m->record().id;
  fuse::Log(LOG_INFO, "serving " + m->record().spec.image_label + " on " +
                          m->record().spec.mountpoint + " (session " +
                          std::to_string(id) + ", uid " +
                          std::to_string(peer.uid) + ")");
  Register(std::move(m), false);
  return Send(sock, EncodeReply({0, std::to_string(id)}));
}

std::string Service::Listing(const PeerCred& peer) {
  std::lock_guard lock(mu_);
  // Mounts of each manifest copy that are still served: a session that
  // has just ended holds its image until the main loop reaps it.
  std::map<const Manifest*, long> serving;
  for (const auto& [id, m] : mounts_) {
    if (!m->finished()) ++serving[&m->manifest()];
  }
  std::string out = "[";
  bool first = true;
  for (const auto& [id, m] : mounts_) {
    const SessionRecord& r = m->record();
    // Users see their own sessions; root sees all.
    if (peer.uid != 0 && peer.uid != r.uid) continue;
    if (!first) out += ",";
    first = false;
    out += "{\"id\":" + std::to_string(id) +
           ",\"image\":" + JsonString(r.spec.image_label) +
           ",\"mountpoint\":" + JsonString(r.spec.mountpoint) +
           ",\"store\":" + JsonString(r.spec.store_label) +
           ",\"uid\":" + std::to_string(r.uid) +
           ",\"identity\":" + JsonString(m->manifest().identity().ToString()) +
           ",\"image_mounts\":" + std::to_string(serving[&m->manifest()]) +
           ",\"image_copy\":" +
           JsonString(
               std::to_string(reinterpret_cast<uintptr_t>(&m->manifest()))) +
           ",\"pinned\":" +
           JsonString(r.spec.registry.empty() ? r.spec.remote_pin
                                              : r.spec.registry) +
           ",\"serving\":" + (m->finished() ? "false" : "true") + "}";
  }
  return out + "]";
}

void Service::HandleConnection(UniqueFd sock) {
  SetTimeout(sock.get(), kRequestTimeoutS);
  Status st;
  Result<PeerCred> peer = GetPeerCred(sock.get());
  Result<Received> r = peer.ok() ? Receive(sock.get()) : peer.status();
  if (!r.ok()) {
    st = r.status();
  } else {
    switch (r->message.type) {
      case Type::kMount:
        st = HandleMount(sock.get(), *peer, std::move(*r));
        break;
      case Type::kList:
        st = ExpectEmpty(r->message, Type::kList);
        if (st.ok()) st = Send(sock.get(), EncodeReply({0, Listing(*peer)}));
        break;
      case Type::kHandOver:
        st = ExpectEmpty(r->message, Type::kHandOver);
        if (st.ok() && peer->uid != geteuid()) {
          st = Status::FromErrno(EPERM,
                                 "only the service's own user may "
                                 "replace it");
        }
        if (st.ok()) {
          // The main loop stops every session and answers on this socket.
          std::lock_guard lock(mu_);
          handover_sock_ = sock.release();
          uint64_t one = 1;
          (void)!write(wake_fd_.get(), &one, sizeof(one));
        }
        break;
      default:
        st = Status::FromErrno(EPROTO, "not a request");
    }
  }
  if (!st.ok() && sock.valid()) {
    (void)Send(sock.get(),
               EncodeReply({static_cast<uint32_t>(st.err()), st.context()}));
    fuse::Log(LOG_NOTICE, "request refused: " + st.ToString());
  }
  connections_.fetch_sub(1);
}

void Service::Locate(int sock, const PeerCred& peer, SessionRecord& rec) {
  // Which mount is ours, so that only it is ever unmounted by us. A
  // caller whose namespace cannot be told gets nothing recorded: taking
  // it to be in ours would unmount whatever sits at its path here.
  Result<MountWhere> where =
      LocatePeerMount(sock, peer.pid, rec.spec.mountpoint);
  if (!where.ok()) {
    fuse::Log(LOG_NOTICE, rec.spec.mountpoint + ": " +
                              where.status().ToString() +
                              "; it is not unmounted if aborted");
    return;
  }
  rec.mount_ns = where->mount_ns;
  if (where->mount_ns == own_mnt_ns_) {
    // As Unmount will look for it: at the path as this process sees it.
    rec.mount_id = MountIdAt(rec.spec.mountpoint);
    return;
  }
  // The caller's own namespace: the mount as it sees it.
  rec.mount_id = where->mount_id;
  rec.mount_dev = where->mount_dev;
  if (rec.mount_id == 0) {
    fuse::Log(LOG_NOTICE, rec.spec.mountpoint +
                              ": no mount found there in the caller's "
                              "namespace; it is not unmounted if aborted");
  }
}

void Service::ReapUnmounters(int wait_ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    for (auto it = unmounters_.begin(); it != unmounters_.end();) {
      int status = 0;
      pid_t r = waitpid(it->pid, &status, WNOHANG);
      if (r == 0) {
        // Reaped on a later round; never waited for here.
        if (now - it->started > std::chrono::seconds(kUnmountChildS)) {
          kill(it->pid, SIGKILL);
        }
        ++it;
        continue;
      }
      if (r > 0) {
        bool done = false;
        std::string what = NamespacedUnmountOutcome(status, &done);
        fuse::Log(done ? LOG_INFO : LOG_WARNING, it->mountpoint + ": " + what);
      }
      it = unmounters_.erase(it);
    }
    if (unmounters_.empty() || now >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (wait_ms == 0) return;
  // The service is exiting: init reaps what is left.
  for (const Unmounter& u : unmounters_) kill(u.pid, SIGKILL);
  unmounters_.clear();
}

void Service::Unmount(const SessionRecord& rec) {
  if (rec.mount_ns != 0 && rec.mount_ns != own_mnt_ns_) {
    if (rec.mount_id == 0) return;
    MountWhere where{rec.mount_ns, rec.mount_id, rec.mount_dev};
    pid_t pid = StartNamespacedUnmount(where, rec.spec.mountpoint);
    if (pid > 0) {
      unmounters_.push_back(
          {pid, rec.spec.mountpoint, std::chrono::steady_clock::now()});
    }
    return;
  }
  std::optional<fuse::MountEntry> e = fuse::FindTopMount(rec.spec.mountpoint);
  // Only the mount recorded when the session began: a path alone is the
  // caller's word, and another mount may sit there now (made there after
  // the session's own was unmounted, the usual way a session ends).
  if (rec.mount_id == 0 || !e.has_value() || e->fstype != "fuse.sealfs" ||
      MountIdAt(rec.spec.mountpoint, !IsUniqueMountId(rec.mount_id)) !=
          rec.mount_id) {
    return;
  }
  if (geteuid() == 0) {
    (void)umount2(rec.spec.mountpoint.c_str(), MNT_DETACH);
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    int null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0) dup2(null_fd, STDERR_FILENO);
    execlp("fusermount3", "fusermount3", "-u", "-z", "--",
           rec.spec.mountpoint.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  if (pid > 0) waitpid(pid, nullptr, 0);
}

void Service::Reap() {
  ReapUnmounters(0);
  std::vector<std::unique_ptr<ServedMount>> done;
  {
    std::lock_guard lock(mu_);
    if (closing_) return;
    for (auto it = mounts_.begin(); it != mounts_.end();) {
      if (it->second->finished()) {
        done.push_back(std::move(it->second));
        it = mounts_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& m : done) {
    // Unmounted, or its connection aborted (/sys/fs/fuse/connections): a
    // mount left behind would answer ENOTCONN to everyone.
    Unmount(m->record());
    Forget(m->record().id);
    fuse::Log(LOG_INFO, "session " + std::to_string(m->record().id) +
                            " ended (" + m->record().spec.mountpoint + ")");
  }
}

void Service::CloseInheritedFiles() {
  std::vector<uint64_t> ids;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, m] : mounts_) ids.push_back(m->record().mount_id);
  }
  if (int n = CloseInheritedFilesOn(ids); n > 0) {
    fuse::Log(LOG_INFO, "closed " + std::to_string(n) +
                            " inherited descriptors of files on served mounts");
  }
}

void Service::StopWorkers(
    std::map<uint64_t, std::unique_ptr<ServedMount>>& mounts) {
  uint64_t one = 1;
  (void)!write(stop_fd_.get(), &one, sizeof(one));
  const auto all_finished = [&] {
    for (auto& [id, m] : mounts) {
      if (!m->finished()) return false;
    }
    return true;
  };
  for (int i = 0; i < kStopGraceMs / 10 && !all_finished(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& [id, m] : mounts) {
    if (!m->finished()) m->fs().StopFetching();
  }
  for (auto& [id, m] : mounts) m->Join();
}

Result<bool> Service::HandOver(int sock) {
  // Its process: should it fail, this one serves on only once it is gone,
  // so that no connection ever has two servers.
  UniqueFd successor = PeerPidfd(sock);
  std::map<uint64_t, std::unique_ptr<ServedMount>> mounts;
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    mounts = std::move(mounts_);
  }
  listener_.reset();
  StopWorkers(mounts);
  // Requests in flight were answered before the workers left; what came
  // after waits in the kernel for the new service.
  SetTimeout(sock, 30);
  Status sent;
  for (auto& [id, m] : mounts) {
    int fds[3] = {m->fuse_fd(), m->image_fd(), m->store_fd()};
    sent = Send(sock, EncodeSession(m->record()), fds);
    if (!sent.ok()) break;
  }
  if (sent.ok()) sent = Send(sock, EncodeReply({0, "handed over"}));
  // The successor closes the socket once it is the service (its socket
  // file in place of this one's), or when it fails: an older build that
  // refuses a record field it does not know, a crash.
  // Its time-out (EAGAIN) leaves the outcome unknown; a close that left
  // our last message unread reads ECONNRESET.
  char c;
  const ssize_t n = sent.ok() ? read(sock, &c, 1) : 0;
  const bool closed = n == 0 || (n < 0 && errno != EAGAIN);
  if (!closed || FileIdOf(opts_.socket_path) != socket_file_ ||
      !WaitExited(successor.get(), kSuccessorExitMs)) {
    // Taken over, or not known: stop (the keeper or systemd still holds
    // every session).
    if (!sent.ok()) return sent;
    return true;
  }
  fuse::Log(LOG_ERR,
            "replace: the new service took nothing over (" +
                (sent.ok() ? std::string("it went away") : sent.ToString()) +
                "); serving on");
  SEALFS_RETURN_IF_ERROR(ServeOn(std::move(mounts)));
  return false;
}

Status Service::ServeOn(
    std::map<uint64_t, std::unique_ptr<ServedMount>> mounts) {
  uint64_t v;
  (void)!read(stop_fd_.get(), &v, sizeof(v));  // workers may read again
  {
    std::lock_guard lock(mu_);
    closing_ = false;
  }
  for (auto& [id, m] : mounts) {
    HeldSession held{m->record(), {}};
    for (int fd : {m->fuse_fd(), m->image_fd(), m->store_fd()}) {
      held.fds.emplace_back(fcntl(fd, F_DUPFD_CLOEXEC, 3));
    }
    const bool copied =
        held.fds[0].valid() && held.fds[1].valid() && held.fds[2].valid();
    m.reset();
    // Stored: the keeper or systemd holds it still.
    Status st = copied ? Adopt(std::move(held), true)
                       : Status::FromErrno(EMFILE, "no descriptor left");
    if (!st.ok()) {
      fuse::Log(LOG_ERR,
                "session " + std::to_string(id) + ": " + st.ToString());
    }
  }
  SEALFS_ASSIGN_OR_RETURN(listener_, Listen(opts_.socket_path));
  socket_file_ = FileIdOf(opts_.socket_path);
  return Status();
}

Status Service::TakeOverFromRunning(const std::string& path) {
  SEALFS_ASSIGN_OR_RETURN(UniqueFd sock, Connect(path));
  SetTimeout(sock.get(), 60);
  Message ask;
  ask.type = Type::kHandOver;
  SEALFS_RETURN_IF_ERROR(Send(sock.get(), ask));
  for (;;) {
    SEALFS_ASSIGN_OR_RETURN(Received r, Receive(sock.get()));
    if (r.message.type == Type::kReply) {
      SEALFS_ASSIGN_OR_RETURN(Reply reply, DecodeReply(r.message));
      if (reply.err != 0) {
        return Status::FromErrno(static_cast<int>(reply.err),
                                 "replace: " + reply.text);
      }
      predecessor_ = std::move(sock);
      return Status();
    }
    SEALFS_ASSIGN_OR_RETURN(SessionRecord rec, DecodeSession(r.message));
    if (r.fds.size() != 3) {
      return Status::FromErrno(EPROTO, "hand-over: session without its fds");
    }
    HeldSession held{std::move(rec), std::move(r.fds)};
    const uint64_t id = held.record.id;
    // Under systemd the old process stored it already.
    Status st = Adopt(std::move(held), fd_store_);
    if (!st.ok()) {
      fuse::Log(LOG_ERR,
                "session " + std::to_string(id) + ": " + st.ToString());
    }
  }
}

void Service::StartUpgrade() {
  if (successor_ > 0) {
    fuse::Log(LOG_NOTICE, "upgrade: a new service is starting already");
    return;
  }
  Result<pid_t> pid = StartSuccessor(opts_);
  if (!pid.ok()) {
    fuse::Log(LOG_ERR, pid.status().ToString() + "; still serving");
    return;
  }
  successor_ = *pid;
  fuse::Log(LOG_INFO, "upgrade: started " + opts_.program + " (pid " +
                          std::to_string(successor_) + ") to take over");
}

void Service::ReapFailedUpgrade() {
  int status = 0;
  if (successor_ <= 0 || waitpid(successor_, &status, WNOHANG) != successor_)
    return;
  successor_ = -1;
  fuse::Log(LOG_ERR, std::string("upgrade: the new service ") +
                         (WIFEXITED(status) ? "exited with status " +
                                                  std::to_string(
                                                      WEXITSTATUS(status))
                                            : "was killed") +
                         " without taking over; still serving");
}

void Service::DrainConnections() {
  for (int i = 0; i < (kRequestTimeoutS + 2) * 100 && connections_.load() > 0;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void Service::Shutdown() {
  std::map<uint64_t, std::unique_ptr<ServedMount>> mounts;
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    mounts = std::move(mounts_);
  }
  listener_.reset();
  for (auto& [id, m] : mounts) Unmount(m->record());
  StopWorkers(mounts);
  for (auto& [id, m] : mounts) Forget(id);
  ReapUnmounters(kStopGraceMs);
}

Status Service::Run() {
  // Before this process opens anything: $LISTEN_FDS names fds from 3 on.
  fd_store_ = FdStoreWanted(opts_.fd_store);
  own_mnt_ns_ = OwnMountNamespace();
  std::vector<std::string> problems;
  std::vector<HeldSession> stored;
  if (fd_store_) stored = TakeStoredSessions(&problems);
  InitOpenSslWithoutErrorStrings();
  (void)mallopt(M_ARENA_MAX, 2);
  (void)signal(SIGPIPE, SIG_IGN);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigaddset(&mask, SIGUSR2);
  // Blocked before any thread starts, so every thread inherits it and the
  // signals arrive only through the signalfd.
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0)
    return ErrnoStatus("sigprocmask");
  UniqueFd sig(signalfd(-1, &mask, SFD_CLOEXEC));
  stop_fd_.reset(eventfd(0, EFD_CLOEXEC));
  wake_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!sig.valid() || !stop_fd_.valid() || !wake_fd_.valid()) {
    return ErrnoStatus("eventfd");
  }
  fuse::SetDeviceStopFd(stop_fd_.get());
  const std::string& path = opts_.socket_path;
  if (fd_store_) {
    fuse::Log(LOG_INFO, "sessions kept in systemd's file-descriptor store");
  } else if (opts_.keeper) {
    Result<KeeperLink> k =
        KeeperLink::ConnectOrStart(KeeperSocketPath(path), opts_.exe);
    if (k.ok()) {
      keeper_.Replace(std::move(*k));
    } else {
      fuse::Log(LOG_WARNING,
                k.status().ToString() + " (sessions will not survive a crash)");
    }
  }
  SEALFS_RETURN_IF_ERROR(DropServiceCapabilities());
  if (opts_.replace) {
    // Listen beside the running service first, and take its place by
    // rename once its sessions are ours: callers always find a listener.
    SEALFS_ASSIGN_OR_RETURN(listener_, Listen(path + ".new"));
    Status took = TakeOverFromRunning(path);
    if (!took.ok() && took.err() != ENOENT && took.err() != ECONNREFUSED) {
      unlink((path + ".new").c_str());
      return took;
    }
    if (rename((path + ".new").c_str(), path.c_str()) != 0) {
      return ErrnoStatus(path);
    }
  } else {
    SEALFS_ASSIGN_OR_RETURN(listener_, Listen(path));
  }
  socket_file_ = FileIdOf(path);
  // Sessions of a service that was killed: the keeper still holds them.
  if (keeper_.connected()) {
    Result<std::vector<HeldSession>> held = keeper_.TakeBack();
    if (held.ok()) {
      for (HeldSession& h : *held) {
        {
          std::lock_guard lock(mu_);
          if (mounts_.count(h.record.id) != 0) continue;  // handed over
        }
        const uint64_t id = h.record.id;
        Status st = Adopt(std::move(h), false);
        if (!st.ok()) {
          fuse::Log(LOG_ERR,
                    "session " + std::to_string(id) + ": " + st.ToString());
          (void)keeper_.Drop(id);
        }
      }
    }
  }
  // Sessions of a service that crashed, handed back by systemd.
  if (fd_store_) {
    for (const std::string& p : problems) fuse::Log(LOG_WARNING, p);
    for (HeldSession& h : stored) {
      const uint64_t id = h.record.id;
      {
        std::lock_guard lock(mu_);
        if (mounts_.count(id) != 0) continue;  // handed over
      }
      Status st = Adopt(std::move(h), true);
      if (!st.ok()) {
        fuse::Log(LOG_ERR,
                  "session " + std::to_string(id) + ": " + st.ToString());
        RemoveSession(id);
      }
    }
  }
  CloseInheritedFiles();
  // After --replace this process is the service: systemd is told so
  // (it heeds it with NotifyAccess=all).
  (void)NotifySystemd(opts_.replace
                          ? "MAINPID=" + std::to_string(getpid()) + "\nREADY=1"
                          : std::string("READY=1"));
  // Only now may the predecessor exit: had it gone first, systemd would
  // have seen the unit's main process end.
  predecessor_.reset();
  fuse::Log(LOG_INFO, "listening on " + path);
  for (;;) {
    pollfd fds[4] = {{listener_.get(), POLLIN, 0},
                     {sig.get(), POLLIN, 0},
                     {wake_fd_.get(), POLLIN, 0},
                     {keeper_.fd(), POLLIN, 0}};
    int n = poll(fds, 4, 500);
    if (n < 0 && errno != EINTR) return ErrnoStatus("poll");
    if (n > 0 && fds[3].revents != 0) {
      Status answers = keeper_.TakeAnswers();
      if (answers.err() == EPROTO) {
        fuse::Log(LOG_WARNING, answers.ToString());
      } else if (!answers.ok()) {
        RestartKeeper();
      }
    }
    signalfd_siginfo si{};
    if (n > 0 && (fds[1].revents & POLLIN) != 0 &&
        read(sig.get(), &si, sizeof(si)) == sizeof(si)) {
      if (si.ssi_signo == SIGUSR2) {
        StartUpgrade();
      } else {
        (void)NotifySystemd("STOPPING=1");
        Shutdown();
        unlink(path.c_str());
        DrainConnections();
        return Status();
      }
    }
    ReapFailedUpgrade();
    int handover = -1;
    {
      std::lock_guard lock(mu_);
      std::swap(handover, handover_sock_);
    }
    if (handover >= 0) {
      UniqueFd s(handover);
      uint64_t v;
      (void)!read(wake_fd_.get(), &v, sizeof(v));
      Result<bool> handed = HandOver(s.get());
      if (!handed.ok() || *handed) {
        DrainConnections();
        return handed.status();
      }
      continue;  // serving on; poll the new listener
    }
    if (n > 0 && (fds[0].revents & POLLIN) != 0) {
      UniqueFd c(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (c.valid()) {
        if (connections_.fetch_add(1) >= kMaxConnections) {
          connections_.fetch_sub(1);
          (void)Send(c.get(), EncodeReply({EBUSY, "too many requests"}));
        } else {
          std::thread([this, s = std::move(c)]() mutable {
            HandleConnection(std::move(s));
          }).detach();
        }
      }
    }
    Reap();
  }
}

}  // namespace

Status RunService(const ServeOptions& options) {
  // Every mount's open objects are this process's descriptors.
  UseWholeFdLimit();
  Service service(options);
  return service.Run();
}

}  // namespace sealfs::serve
