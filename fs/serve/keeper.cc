// SPDX-License-Identifier: Apache-2.0
// The descriptor keeper and the service's link to it.
#include "fs/serve/keeper.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "fs/serve/channel.h"

namespace sealfs::serve {
namespace {

constexpr size_t kMaxKeeperClients = 8;

Status Answer(int sock, uint32_t err, const std::string& text) {
  return Send(sock, EncodeReply({err, text}));
}

// Handles one message from a service; false if the peer should be dropped.
// What a service sent is heeded even if it is gone by now and the answer
// cannot reach it: a Keep sent just before a kill -9 is a live mount, and
// a Drop sent just before a clean stop must not keep this process alive.
// So a failed answer drops nothing; the next read sees the hang-up.
bool Handle(int sock, std::map<uint64_t, HeldSession>& held) {
  Result<Received> r = Receive(sock);
  if (!r.ok()) return false;
  switch (r->message.type) {
    case Type::kSession: {
      Result<SessionRecord> rec = DecodeSession(r->message);
      if (!rec.ok() || r->fds.size() != 3) {
        (void)Answer(sock, EPROTO, "bad session record");
        return true;
      }
      HeldSession& h = held[rec->id];
      h.record = std::move(*rec);
      h.fds = std::move(r->fds);
      (void)Answer(sock, 0, "");
      return true;
    }
    case Type::kDrop: {
      Result<uint64_t> id = DecodeId(r->message, Type::kDrop);
      if (id.ok()) held.erase(*id);
      (void)Answer(sock, id.ok() ? 0 : EPROTO, "");
      return true;
    }
    case Type::kList:  // the greeting of a service (Greet)
      (void)Answer(sock, 0, std::to_string(held.size()) + " sessions held");
      return true;
    case Type::kTakeBack:
      for (const auto& [id, h] : held) {
        int fds[3] = {h.fds[0].get(), h.fds[1].get(), h.fds[2].get()};
        if (!Send(sock, EncodeSession(h.record), fds).ok()) return false;
      }
      return Answer(sock, 0, "").ok();
    default:
      (void)Answer(sock, EPROTO, "not a keeper request");
      return true;
  }
}

// Starts `exe serve --keeper --socket path` as a grandchild in a session
// of its own: neither the service's exit nor a signal to its process group
// reaches it. Returns once it is started, not once it listens.
Status StartKeeper(const std::string& path, const std::string& exe) {
  pid_t pid = fork();
  if (pid < 0) return ErrnoStatus("fork");
  if (pid == 0) {
    setsid();
    if (fork() != 0) _exit(0);
    // The service blocks the signals it reads from a signalfd; the keeper
    // must stop on SIGTERM like any other process.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      dup2(null_fd, STDIN_FILENO);
      dup2(null_fd, STDOUT_FILENO);
      dup2(null_fd, STDERR_FILENO);
    }
    execl(exe.c_str(), "sealfs", "serve", "--keeper", "--socket", path.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  waitpid(pid, nullptr, 0);
  return Status();
}

// The peer closed the connection (or had it closed with its listener).
bool WentAway(const Status& st) {
  return st.err() == ECONNRESET || st.err() == EPIPE || st.err() == ENOTCONN ||
         st.err() == ECONNREFUSED;
}

// A round trip that only a live keeper completes. A keeper in the middle
// of dying can still have its listener bound for a moment (the kernel
// closes a dying process's files in no promised order): a connection made
// then is queued, never accepted, and closed with the listener, and every
// session sent on it with it. So a link is used only once the keeper has
// answered. Every keeper answers kList: this one with what it holds, older
// ones with EPROTO, which is an answer all the same.
Status Greet(int sock) {
  Message ask;
  ask.type = Type::kList;
  SEALFS_ASSIGN_OR_RETURN(Received r, Call(sock, ask));
  return DecodeReply(r.message).status();
}

}  // namespace

Status RunKeeper(const std::string& path) {
  (void)signal(SIGPIPE, SIG_IGN);
  const std::string dir = path.substr(0, path.rfind('/') + 1);
  // At most one keeper runs per socket name: the one holding keeper.lock,
  // which the kernel releases only when its holder has exited. It binds
  // the name only if nobody listens there (Listen), so it never takes the
  // name from a keeper that holds sessions, and two keepers started at
  // once cannot both replace a stale socket file.
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoStatus(dir);
  UniqueFd lock(open((dir + "keeper.lock").c_str(),
                     O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock.valid()) return ErrnoStatus(dir + "keeper.lock");
  if (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    return Status::FromErrno(EADDRINUSE, path + ": another keeper runs");
  }
  SEALFS_ASSIGN_OR_RETURN(UniqueFd listener, Listen(path));
  {
    std::string pid_path = dir + "keeper.pid";
    std::string pid = std::to_string(getpid()) + "\n";
    UniqueFd f(
        open(pid_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (f.valid()) (void)!write(f.get(), pid.data(), pid.size());
  }
  std::map<uint64_t, HeldSession> held;
  std::vector<UniqueFd> clients;
  bool had_client = false;
  const auto started = std::chrono::steady_clock::now();
  for (;;) {
    if (held.empty() && clients.empty() &&
        (had_client || std::chrono::steady_clock::now() - started >
                           std::chrono::seconds(10))) {
      unlink(path.c_str());
      return Status();
    }
    std::vector<pollfd> fds;
    fds.push_back({listener.get(), POLLIN, 0});
    for (const UniqueFd& c : clients) fds.push_back({c.get(), POLLIN, 0});
    int n = poll(fds.data(), fds.size(), 1000);
    if (n < 0 && errno != EINTR) return ErrnoStatus("poll");
    if (n <= 0) continue;
    // Oldest first, and each client's queue whole: what a service killed
    // after sending Keeps left queued is heeded before the TakeBack of
    // the service started next.
    std::vector<bool> gone(clients.size(), false);
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      pollfd more = fds[i];
      while (!gone[i - 1] && (more.revents & POLLIN) != 0) {
        gone[i - 1] = !Handle(fds[i].fd, held);
        more.revents = 0;
        if (poll(&more, 1, 0) < 0) break;
      }
      if ((more.revents & POLLIN) == 0 && more.revents != 0) gone[i - 1] = true;
    }
    for (size_t i = clients.size(); i-- > 0;) {
      if (gone[i]) clients.erase(clients.begin() + static_cast<long>(i));
    }
    if ((fds[0].revents & POLLIN) != 0) {
      UniqueFd c(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c.valid()) continue;
      Result<PeerCred> peer = GetPeerCred(c.get());
      if (!peer.ok() || peer->uid != geteuid() ||
          clients.size() >= kMaxKeeperClients) {
        continue;  // closes it
      }
      // A stuck peer must not stall the keeper of everybody's mounts.
      SetTimeout(c.get(), 5);
      clients.push_back(std::move(c));
      had_client = true;
    }
  }
}

Result<KeeperLink> KeeperLink::ConnectOrStart(const std::string& path,
                                              const std::string& exe) {
  Status last;
  int since_start = -1;  // attempts since a keeper was started; -1: none yet
  for (int i = 0; i < 300; ++i) {  // ~3 s
    Result<UniqueFd> sock = Connect(path);
    if (sock.ok()) {
      SetTimeout(sock->get(), 5);
      Status greeted = Greet(sock->get());
      if (greeted.ok()) return KeeperLink(std::move(*sock));
      // A peer that hangs up without answering is a keeper in the middle
      // of dying (or of its clean exit): once its listener is gone, the
      // next round starts a keeper. Anything else (a keeper that does not
      // answer within the time-out, a reply that is not one) is not ours
      // to replace.
      if (!WentAway(greeted)) {
        return greeted.WithPrefix("keeper at " + path);
      }
      last = greeted;
    } else {
      last = sock.status();
      if (last.err() != ENOENT && last.err() != ECONNREFUSED) return last;
      // Nobody listens: start a keeper, and another if none listens 0.2 s
      // later (the last one may have refused to run because the dying
      // keeper still held the name; two started at once are harmless,
      // the lock lets one run).
      if (since_start < 0 || since_start >= 20) {
        SEALFS_RETURN_IF_ERROR(StartKeeper(path, exe));
        since_start = 0;
      }
    }
    if (since_start >= 0) ++since_start;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return last.WithPrefix("starting the keeper");
}

bool KeeperLink::connected() const {
  std::lock_guard lock(mu_);
  return sock_.valid();
}

int KeeperLink::fd() const {
  std::lock_guard lock(mu_);
  return sock_.get();
}

Status KeeperLink::Keep(const SessionRecord& record, std::span<const int> fds) {
  std::lock_guard lock(mu_);
  if (!sock_.valid()) return Status::FromErrno(ENOTCONN, "no keeper");
  SEALFS_RETURN_IF_ERROR(Send(sock_.get(), EncodeSession(record), fds));
  ++pending_;
  return Status();
}

Status KeeperLink::Drop(uint64_t id) {
  std::lock_guard lock(mu_);
  if (!sock_.valid()) return Status::FromErrno(ENOTCONN, "no keeper");
  SEALFS_RETURN_IF_ERROR(Send(sock_.get(), EncodeId(Type::kDrop, id)));
  ++pending_;
  return Status();
}

Status KeeperLink::TakeAnswers() {
  std::lock_guard lock(mu_);
  if (!sock_.valid()) return Status::FromErrno(ENOTCONN, "no keeper");
  Status refused;
  for (;;) {
    pollfd p{sock_.get(), POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) return refused;
    Result<Received> r = Receive(sock_.get());
    if (!r.ok()) return r.status();
    if (pending_ > 0) --pending_;
    Result<Reply> reply = DecodeReply(r->message);
    if (refused.ok() && (!reply.ok() || reply->err != 0)) {
      refused = Status::FromErrno(
          EPROTO, "keeper refused a session: " +
                      (reply.ok() ? reply->text : reply.status().ToString()));
    }
  }
}

void KeeperLink::Replace(KeeperLink other) {
  std::lock_guard lock(mu_);
  sock_ = std::move(other.sock_);
  pending_ = other.pending_;
}

Result<std::vector<HeldSession>> KeeperLink::TakeBack() {
  std::lock_guard lock(mu_);
  std::vector<HeldSession> out;
  if (!sock_.valid()) return out;
  // The answers to earlier Keeps and Drops come first.
  for (; pending_ > 0; --pending_) {
    SEALFS_ASSIGN_OR_RETURN(Received r, Receive(sock_.get()));
    (void)r;
  }
  Message ask;
  ask.type = Type::kTakeBack;
  SEALFS_RETURN_IF_ERROR(Send(sock_.get(), ask));
  for (;;) {
    SEALFS_ASSIGN_OR_RETURN(Received r, Receive(sock_.get()));
    if (r.message.type == Type::kReply) return out;
    SEALFS_ASSIGN_OR_RETURN(SessionRecord rec, DecodeSession(r.message));
    if (r.fds.size() != 3) {
      return Status::FromErrno(EPROTO, "keeper: session without its fds");
    }
    out.push_back({std::move(rec), std::move(r.fds)});
  }
}

}  // namespace sealfs::serve
