// SPDX-License-Identifier: Apache-2.0
// `sealfs serve` with real mounts: mounting through it, one manifest copy
// shared by the mounts of one image with each mount's trust still checked,
// readers that see neither a wrong byte nor an error while the service is
// replaced and killed with -9, a keeper killed and restarted, systemd's
// fd store (emulated) in place of the keeper, stopping, and a user's own
// service.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "fs/serve/protocol.h"
#include "sealfs/unique_fd.h"
#include "tests/integration/fake_systemd.h"
#include "tests/integration/host_state.h"
#include "tests/integration/mount_fixture.h"
#include "tests/integration/random_readers.h"
#include "tests/integration/serve_fixture.h"

namespace sealfs::testing {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = 0; (at = text.find(what, at)) != std::string::npos; ++at)
    ++n;
  return n;
}

// The live (not zombie) keepers of the sockets in `run_dir`, by their
// command line.
std::vector<pid_t> KeeperPids(const std::string& run_dir) {
  std::string want = "serve";
  for (const char* arg : {"--keeper", "--socket"}) {
    want.push_back('\0');
    want += arg;
  }
  want.push_back('\0');
  want += run_dir + "/keeper.sock";
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string cmd = ReadProcFile(e.path() / "cmdline");
    if (cmd.find(want) == std::string::npos) continue;
    std::string stat = ReadProcFile(e.path() / "stat");
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos || stat.substr(paren + 2, 1) == "Z")
      continue;
    out.push_back(std::atoi(name.c_str()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A listener at `path` (a SOCK_SEQPACKET socket, as the keeper's), in
// place of the socket file there; invalid with errno set on failure.
UniqueFd ListenAt(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    errno = ENAMETOOLONG;
    return UniqueFd();
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd sock(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  unlink(path.c_str());
  if (!sock.valid() ||
      bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(sock.get(), 8) != 0) {
    return UniqueFd();
  }
  return sock;
}

TEST_F(ServeTest, TwoMountsShareOneManifestEachWithItsOwnTrust) {
  BuildImage();
  ASSERT_GT(Serve(), 0);
  std::string m1 = tmp_ / "m1";
  std::string m2 = tmp_ / "m2";
  MountOk(tmp_ / "image", m1, opts_);
  MountOk(tmp_ / "image", m2, opts_ + ",uidmap=0:5000:10");
  // No daemon of their own: the service serves them.
  EXPECT_TRUE(DaemonPids(m1).empty());
  EXPECT_EQ(ReadFile(m1 + "/big"), big_);
  EXPECT_EQ(ReadFile(m2 + "/big"), big_);
  struct stat st {};
  ASSERT_EQ(stat((m2 + "/big").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 5000u);  // each mount keeps its own owner map
  ASSERT_EQ(stat((m1 + "/big").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);

  CommandResult list = RunCmd({SealfsBin(), "mounts", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  // One copy for both: the same address and a count of two.
  EXPECT_NE(list.out.find("\"mountpoint\":\"" + m1 + "\""), std::string::npos);
  size_t first = list.out.find("\"image_copy\":");
  size_t second = list.out.find("\"image_copy\":", first + 1);
  ASSERT_NE(second, std::string::npos) << list.out;
  std::string copy1 = list.out.substr(first, list.out.find(',', first) - first);
  std::string copy2 =
      list.out.substr(second, list.out.find(',', second) - second);
  EXPECT_EQ(copy1, copy2) << list.out;
  EXPECT_NE(list.out.find("\"image_mounts\":2"), std::string::npos) << list.out;
  CommandResult stats = RunCmd({SealfsBin(), "stats", m1});
  EXPECT_EQ(stats.exit_code, 0) << stats.err;

  // The held image does not vouch for a mount with another key.
  MakeKey(tmp_ / "other");
  CommandResult wrong =
      Mount(tmp_ / "image", tmp_ / "m3",
            "store=" + store_ + ",pubkey=" + (tmp_ / "other.pub"));
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("not trusted"), std::string::npos) << wrong.err;
  EXPECT_FALSE(IsMounted(tmp_ / "m3"));
  // Nor does a broken image affect the mounts served.
  WriteFile(tmp_ / "broken", std::string("not an image"));
  CommandResult broken = Mount(tmp_ / "broken", tmp_ / "m4", opts_);
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_EQ(ReadFile(m2 + "/etc/hostname"), ReadFile(src_ + "/etc/hostname"));

  // -o standalone: a daemon of its own.
  std::string m5 = tmp_ / "m5";
  MountOk(tmp_ / "image", m5, opts_ + ",standalone");
  EXPECT_EQ(DaemonPids(m5).size(), 1u);

  // As root the service keeps CAP_SYS_ADMIN, CAP_DAC_READ_SEARCH,
  // CAP_SYS_CHROOT and CAP_SYS_PTRACE only.
  std::string status =
      ReadProcFile("/proc/" + std::to_string(serve_pids_[0]) + "/status");
  EXPECT_NE(status.find("CapEff:\t00000000002c0004"), std::string::npos)
      << status;
  EXPECT_NE(status.find("CapBnd:\t00000000002c0004"), std::string::npos)
      << status;

  // A connection aborted through /sys/fs/fuse/connections: the service
  // unmounts it rather than leave a mount answering ENOTCONN; the other
  // mount of the image is untouched.
  std::string m6 = tmp_ / "m6";
  MountOk(tmp_ / "image", m6, opts_);
  ASSERT_EQ(stat(m6.c_str(), &st), 0);
  ASSERT_TRUE(AbortConnection(minor(st.st_dev)));
  EXPECT_FALSE(WaitMounted(m6, false));
  Forget(m6);
  EXPECT_EQ(ReadFile(m1 + "/big"), big_);

  // An unmount ends the session.
  ASSERT_EQ(RunCmd({"fusermount3", "-u", m2}).exit_code, 0);
  Forget(m2);
  // A session that has just ended no longer counts, reaped or not.
  for (int i = 0; i < 100; ++i) {
    list = RunCmd({SealfsBin(), "mounts", "--json"});
    if (list.out.find("\"image_mounts\":2") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(list.out.find("\"image_mounts\":1"), std::string::npos) << list.out;
  for (int i = 0; i < 100 && list.out.find(m2) != std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    list = RunCmd({SealfsBin(), "mounts", "--json"});
  }
  EXPECT_EQ(list.out.find(m2), std::string::npos) << list.out;
}

TEST_F(ServeTest, ReadersSurviveReplaceAndKill9) {
  BuildImage();
  ASSERT_GT(Serve(), 0);
  std::string mnt = tmp_ / "mnt";
  MountOk(tmp_ / "image", mnt, opts_);
  std::vector<ReaderFile> files = {{mnt + "/big", big_}};
  auto readers = std::async(std::launch::async, [&] {
    return ReadRandomly(files, 4, std::chrono::seconds(8));
  });
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    pid_t old = serve_pids_.back();
    ASSERT_GT(Serve({"--replace"}), 0);
    Reap(old);  // it exits once it has handed over
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    old = serve_pids_.back();
    kill(old, SIGKILL);
    Reap(old);
    ASSERT_GT(Serve(), 0);  // takes the sessions back from the keeper
  }
  ReaderStats stats = readers.get();
  EXPECT_GT(stats.reads, 100u);
  EXPECT_EQ(stats.mismatches, 0u);
  EXPECT_EQ(stats.errors, 0u);
  EXPECT_EQ(ReadFile(mnt + "/big"), big_);

  // SIGTERM unmounts every session; the keeper, holding nothing, exits.
  pid_t last = serve_pids_.back();
  kill(last, SIGTERM);
  Reap(last);
  EXPECT_FALSE(IsMounted(mnt));
  Forget(mnt);
  std::ifstream in(run_ + "/keeper.pid");
  pid_t keeper = 0;
  ASSERT_TRUE(in >> keeper);
  EXPECT_TRUE(WaitGone(keeper));
}

// A service started by a process with a file open on a mount it takes
// over must not keep that descriptor: when it is killed, closing it would
// wait, uninterruptibly, for the answer to a FLUSH that only the dying
// service could give, and it would never finish exiting.
// A session ends when its mount is unmounted, and the service then
// unmounts what is left at its path only if it is the session's own
// mount. A mount made at the path meanwhile can get the old mount id
// (the kernel gives the lowest free one) and the same device: it must
// be told apart by the id that is never reused (mount_id.h).
TEST_F(ServeTest, MountMadeWhereAnEndedSessionWasIsNotUnmounted) {
  BuildImage();
  const pid_t serve = Serve();
  ASSERT_GT(serve, 0);
  const std::string mnt = tmp_ / "m";
  for (int round = 0; round < 5; ++round) {
    MountOk(tmp_ / "image", mnt, opts_);
    // The service sees the session end only once it runs again, after the
    // new mount is there.
    ASSERT_EQ(kill(serve, SIGSTOP), 0);
    ASSERT_EQ(umount2(mnt.c_str(), MNT_DETACH), 0);
    MountOk(tmp_ / "image", mnt, opts_ + ",standalone");
    ASSERT_EQ(kill(serve, SIGCONT), 0);
    ASSERT_TRUE(WaitLog(LogOf(0), "session " + std::to_string(round + 1) +
                                      " ended"))
        << ReadProcFile(LogOf(0));
    EXPECT_TRUE(IsMounted(mnt)) << "round " << round;
    EXPECT_EQ(ReadFile(mnt + "/big"), big_);
    ASSERT_EQ(RunCmd({"fusermount3", "-u", mnt}).exit_code, 0);
  }
}

TEST_F(ServeTest, KilledServiceKeepsNoInheritedFileOfItsMounts) {
  BuildImage();
  ASSERT_GT(Serve(), 0);
  std::string mnt = tmp_ / "mnt";
  MountOk(tmp_ / "image", mnt, opts_);
  struct stat st {};
  ASSERT_EQ(stat(mnt.c_str(), &st), 0);
  // No file of the mount was closed yet, so the kernel still sends FLUSH.
  pid_t old = serve_pids_.back();
  const pid_t heir = Serve({"--replace"}, mnt + "/etc/hostname");
  ASSERT_GT(heir, 0);
  Reap(old);
  kill(heir, SIGKILL);
  bool gone = false;
  for (int i = 0; i < 1000 && !gone; ++i) {  // a hang guard, not a timing
    gone = waitpid(heir, nullptr, WNOHANG) == heir;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!gone) {
    // Free the stuck process (and this test) before failing.
    std::ofstream(std::string("/sys/fs/fuse/connections/") +
                  std::to_string(minor(st.st_dev)) + "/abort")
        << "1";
    waitpid(heir, nullptr, 0);
  }
  std::erase(serve_pids_, heir);
  ASSERT_TRUE(gone) << "the killed service hung exiting";
  EXPECT_NE(ReadProcFile(LogOf(1)).find("closed 1 inherited"),
            std::string::npos)
      << ReadProcFile(LogOf(1));
  ASSERT_GT(Serve(), 0);  // takes the session back from the keeper
  EXPECT_EQ(ReadFile(mnt + "/etc/hostname"), ReadFile(src_ + "/etc/hostname"));
}

TEST_F(ServeTest, KilledKeeperIsRestartedAndMountsSurviveTheService) {
  BuildImage();
  ASSERT_GT(Serve(), 0);
  std::string mnt = tmp_ / "mnt";
  MountOk(tmp_ / "image", mnt, opts_);
  const pid_t keeper = KeeperPid();
  ASSERT_GT(keeper, 0);
  kill(keeper, SIGKILL);
  ASSERT_TRUE(WaitGone(keeper));
  // The service notices, starts another and hands it the session, once:
  // it never takes the dying keeper's listener for a keeper (issue 20).
  EXPECT_TRUE(WaitLog(LogOf(0), "keeper: restarted, 1 sessions"))
      << ReadProcFile(LogOf(0));
  EXPECT_EQ(Count(ReadProcFile(LogOf(0)), "keeper: gone"), 1u)
      << ReadProcFile(LogOf(0));
  EXPECT_EQ(KeeperPids(run_), std::vector<pid_t>{KeeperPid()});
  EXPECT_EQ(ReadFile(mnt + "/etc/hostname"), ReadFile(src_ + "/etc/hostname"));
  // Now the service dies too: the new keeper has what it needs.
  pid_t old = serve_pids_.back();
  kill(old, SIGKILL);
  Reap(old);
  ASSERT_GT(Serve(), 0);
  EXPECT_EQ(ReadFile(mnt + "/big"), big_);
}

// Issue 20: a keeper killed with -9 closes its files in no promised order,
// so for a moment its listener may still take connections that nobody
// will ever accept, and that close with it, with every session sent on
// them. Here the test holds that listener, for as long as it takes, while
// the service is stopped: the service must send it no session before a
// keeper answered, start a live keeper once the listener is gone, and
// that keeper alone must hold the session, for the next service after a
// kill -9.
TEST_F(ServeTest, Issue20RestartNeverHandsSessionsToADyingKeeper) {
  BuildImage();
  ASSERT_GT(Serve(), 0);
  const pid_t service = serve_pids_.back();
  std::string mnt = tmp_ / "mnt";
  MountOk(tmp_ / "image", mnt, opts_);
  const pid_t keeper = KeeperPid();
  ASSERT_GT(keeper, 0);
  ASSERT_EQ(kill(service, SIGSTOP), 0);
  kill(keeper, SIGKILL);
  ASSERT_TRUE(WaitGone(keeper));
  UniqueFd dying = ListenAt(run_ + "/keeper.sock");
  ASSERT_TRUE(dying.valid()) << strerror(errno);
  ASSERT_EQ(kill(service, SIGCONT), 0);
  pollfd p{dying.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1) << ReadProcFile(LogOf(0));
  {
    // What the service sends first, before any keeper answered it.
    UniqueFd queued(accept4(dying.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(queued.valid());
    timeval tv{10, 0};
    setsockopt(queued.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::vector<uint8_t> packet(1 << 16);
    ssize_t n = recv(queued.get(), packet.data(), packet.size(), 0);
    ASSERT_GT(n, 0) << strerror(errno);
    Result<serve::Message> first = serve::ParseMessage(
        std::span<const uint8_t>(packet.data(), static_cast<size_t>(n)));
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    EXPECT_NE(static_cast<int>(first->type),
              static_cast<int>(serve::Type::kSession))
        << "a session sent to a keeper that never answered";
  }
  dying.reset();  // the dying keeper is gone now, unanswered
  ASSERT_TRUE(WaitLog(LogOf(0), "keeper: restarted, 1 sessions"))
      << ReadProcFile(LogOf(0));
  EXPECT_EQ(Count(ReadProcFile(LogOf(0)), "keeper: gone"), 1u)
      << ReadProcFile(LogOf(0));
  const std::vector<pid_t> keepers = KeeperPids(run_);
  ASSERT_EQ(keepers.size(), 1u);
  EXPECT_NE(keepers[0], keeper);
  // The service dies right after the restart: the new keeper alone has
  // the session, and the next service takes it back.
  kill(service, SIGKILL);
  Reap(service);
  ASSERT_GT(Serve(), 0);
  EXPECT_EQ(ReadFile(mnt + "/big"), big_);
  EXPECT_EQ(KeeperPids(run_), keepers);
}

// `sealfs serve --replace` by an older build, which refuses the session
// records of this one (fields it does not know: mount_ns, mount_dev),
// takes nothing over and exits. The running service must serve on: had it
// stopped, nobody would serve the sessions (the keeper holds them, but an
// older build cannot read them back), and under systemd the unit would
// stop and its fd store would go with it.
TEST_F(ServeTest, ReplaceRefusedBySuccessorLeavesTheServiceServing) {
  BuildImage();
  ASSERT_GT(Serve(), 0);
  const pid_t service = serve_pids_.back();
  std::string mnt = tmp_ / "mnt";
  MountOk(tmp_ / "image", mnt, opts_);
  // The older build: asks for the sessions, reads the first record (and
  // would refuse it), and exits.
  serve::Message ask;
  ask.type = serve::Type::kHandOver;
  const std::vector<uint8_t> request = serve::EncodeMessage(ask);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(socket_.size(), sizeof(addr.sun_path));
  std::memcpy(addr.sun_path, socket_.c_str(), socket_.size() + 1);
  const pid_t older = fork();
  ASSERT_GE(older, 0);
  if (older == 0) {
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    static uint8_t packet[1 << 16];
    bool got =
        s >= 0 &&
        connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        send(s, request.data(), request.size(), 0) ==
            static_cast<ssize_t>(request.size()) &&
        recv(s, packet, sizeof(packet), 0) > 0;
    _exit(got ? 0 : 1);
  }
  int status = -1;
  ASSERT_EQ(waitpid(older, &status, 0), older);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the older build got no session";
  // Checked before any read: a mount nobody serves would hang the reader.
  ASSERT_TRUE(WaitLog(LogOf(0), "serving on")) << ReadProcFile(LogOf(0));
  ASSERT_EQ(waitpid(service, nullptr, WNOHANG), 0) << "the service stopped";
  EXPECT_EQ(ReadFile(mnt + "/big"), big_);
  CommandResult list = RunCmd({SealfsBin(), "mounts"});
  EXPECT_NE(list.out.find(mnt), std::string::npos) << list.out;
  // A build that takes over still can, and the session still survives a
  // kill -9 (the keeper holds it).
  const pid_t heir = Serve({"--replace"});
  ASSERT_GT(heir, 0);
  Reap(service);
  EXPECT_EQ(ReadFile(mnt + "/etc/hostname"), ReadFile(src_ + "/etc/hostname"));
  kill(heir, SIGKILL);
  Reap(heir);
  ASSERT_GT(Serve(), 0);
  EXPECT_EQ(ReadFile(mnt + "/big"), big_);
}

// `systemctl reload` (SIGUSR2) upgrades in place: the service starts the
// program at its path again, which takes every session over and tells
// systemd it is the main process, while readers go on. A program that
// cannot start leaves the old service serving.
TEST_F(ServeTest, Usr2StartsTheProgramAtItsPathAgainToTakeOver) {
  BuildImage();
  // A copy of the binary, so that the test can "upgrade" the file.
  const std::string program = tmp_ / "sealfs-copy";
  ASSERT_EQ(RunCmd({"cp", SealfsBin(), program}).exit_code, 0);
  FakeSystemd systemd(tmp_ / "notify.sock");
  const pid_t old =
      ServeUnder(systemd, {program, "serve", "--socket", socket_}, 0);
  ASSERT_GT(old, 0);
  std::string mnt = tmp_ / "mnt";
  MountOk(tmp_ / "image", mnt, opts_);

  // The file is gone: nothing starts, and the service goes on.
  ASSERT_EQ(unlink(program.c_str()), 0);
  kill(old, SIGUSR2);
  EXPECT_TRUE(WaitLog(LogOf(0), "still serving")) << ReadProcFile(LogOf(0));
  EXPECT_EQ(ReadFile(mnt + "/etc/hostname"), ReadFile(src_ + "/etc/hostname"));

  // A new build at the path takes over while 4 readers compare bytes.
  ASSERT_EQ(RunCmd({"cp", SealfsBin(), program}).exit_code, 0);
  std::vector<ReaderFile> files = {{mnt + "/big", big_}};
  auto readers = std::async(std::launch::async, [&] {
    return ReadRandomly(files, 4, std::chrono::seconds(3));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(old, SIGUSR2);
  const std::string main_pid =
      systemd.WaitForPrefix("MAINPID=", std::chrono::seconds(10));
  ASSERT_FALSE(main_pid.empty()) << ReadProcFile(LogOf(0));
  const pid_t heir = std::atoi(main_pid.c_str() + 8);
  ASSERT_GT(heir, 0);
  serve_pids_.push_back(heir);
  int status = -1;
  ASSERT_EQ(waitpid(old, &status, 0), old);  // it exits once handed over
  std::erase(serve_pids_, old);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_NE(heir, old);
  ReaderStats stats = readers.get();
  EXPECT_GT(stats.reads, 10u);
  EXPECT_EQ(stats.mismatches, 0u);
  EXPECT_EQ(stats.errors, 0u);
  CommandResult list = RunCmd({SealfsBin(), "mounts"});
  EXPECT_NE(list.out.find(mnt), std::string::npos) << list.out;

  // The new service is the one that serves and stops: SIGTERM unmounts.
  kill(heir, SIGTERM);
  EXPECT_TRUE(WaitGone(heir));
  std::erase(serve_pids_, heir);
  EXPECT_FALSE(IsMounted(mnt));
  Forget(mnt);
}

// systemd is emulated: its notify socket keeps what FDSTORE=1 sends, and a
// restart passes it back as LISTEN_FDS, as after a crash of the unit.
TEST_F(ServeTest, FdStoreKeepsSessionsAcrossKill9WithoutAKeeper) {
  BuildImage();
  FakeSystemd systemd(tmp_ / "notify.sock");
  const std::vector<std::string> argv = {SealfsBin(), "serve", "--socket",
                                         socket_, "--fd-store"};
  pid_t serve = ServeUnder(systemd, argv, 0);
  ASSERT_GT(serve, 0);
  std::string m1 = tmp_ / "m1";
  std::string m2 = tmp_ / "m2";
  std::string m3 = tmp_ / "m3";
  // (Pumped after each: a datagram socket queues only a few messages.)
  for (const std::string& m : {m1, m2, m3}) {
    MountOk(tmp_ / "image", m, opts_);
    systemd.Pump();
  }
  // Four descriptors a session: connection, image, store, record.
  EXPECT_EQ(systemd.stored_count(), 12u);
  EXPECT_EQ(systemd.store().count("sealfs-1-fuse"), 1u);
  EXPECT_EQ(systemd.store().count("sealfs-3-record"), 1u);
  EXPECT_EQ(KeeperPid(), 0);  // no keeper

  // A record that is not what the service sealed is refused (session 3);
  // the others are served again after kill -9.
  {
    std::vector<UniqueFd>& record = systemd.store()["sealfs-3-record"];
    ASSERT_EQ(record.size(), 1u);
    UniqueFd forged(memfd_create("forged", MFD_CLOEXEC));
    ASSERT_TRUE(forged.valid());
    ASSERT_EQ(write(forged.get(), "SFS1", 4), 4);
    record[0] = std::move(forged);
  }
  kill(serve, SIGKILL);
  Reap(serve);
  serve = ServeUnder(systemd, argv, 1);
  ASSERT_GT(serve, 0);
  EXPECT_EQ(ReadFile(m1 + "/big"), big_);
  EXPECT_EQ(ReadFile(m2 + "/etc/hostname"), ReadFile(src_ + "/etc/hostname"));
  EXPECT_NE(ReadProcFile(LogOf(1)).find("stored session 3: "),
            std::string::npos)
      << ReadProcFile(LogOf(1));
  systemd.Pump();
  EXPECT_EQ(systemd.store().count("sealfs-3-fuse"), 0u);  // removed
  // m3 is dead now (nobody serves it): unmount it.
  EXPECT_EQ(RunCmd({"umount", "-l", m3}).exit_code, 0);
  Forget(m3);

  // An unmount removes the session from the store.
  ASSERT_EQ(RunCmd({"fusermount3", "-u", m2}).exit_code, 0);
  Forget(m2);
  for (int i = 0; i < 100 && systemd.stored_count() != 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    systemd.Pump();
  }
  EXPECT_EQ(systemd.stored_count(), 4u);
  EXPECT_EQ(systemd.store().count("sealfs-1-fuse"), 1u);
  // SIGTERM unmounts the rest and empties the store.
  kill(serve, SIGTERM);
  Reap(serve);
  systemd.Pump();
  EXPECT_EQ(systemd.stored_count(), 0u);
  EXPECT_FALSE(IsMounted(m1));
  Forget(m1);
}

// A user's own service, started by the test as that user, with an image
// of the user's own.
class ServeRootlessTest : public UserMountTest {
 protected:
  void TearDown() override {
    for (pid_t pid : stop_) {
      kill(pid, SIGKILL);
      WaitGone(pid);
    }
    if (serve_ > 0 && kill(serve_, SIGTERM) == 0) WaitGone(serve_);
    std::ifstream in(home_ + "/run/keeper.pid");
    pid_t keeper = 0;
    if (in >> keeper && keeper > 0 && kill(keeper, SIGKILL) == 0) {
      WaitGone(keeper);
    }
    UserMountTest::TearDown();
  }

  // Builds the image and starts the service as the user (serve_).
  void StartUsersService() {
    src_ = home_ + "/src";
    store_ = home_ + "/store";
    image_ = home_ + "/app.sealfs";
    key_ = home_ + "/key";
    mnt_ = home_ + "/mnt";
    socket_ = home_ + "/run/serve.sock";
    uid_ = std::to_string(user_->uid());
    ASSERT_EQ(Shell("mkdir -p '" + src_ + "/etc' && echo user > '" + src_ +
                    "/etc/hostname' && chown -R " + uid_ + " '" + src_ + "'")
                  .exit_code,
              0);
    ASSERT_EQ(AsUser({user_sealfs_, "keygen", key_}).exit_code, 0);
    ASSERT_EQ(AsUser({user_sealfs_, "mkfs", "--store", store_, "--key", key_,
                      src_, image_})
                  .exit_code,
              0);
    ASSERT_EQ(AsUser({"mkdir", "-p", mnt_, home_ + "/run"}).exit_code, 0);
    CommandResult started =
        AsUser({"sh", "-c",
                "setsid " + user_sealfs_ + " serve --socket " + socket_ +
                    " </dev/null >" + home_ +
                    "/serve.log 2>&1 & echo $!; for i in $(seq 200); do [ -S " +
                    socket_ + " ] && break; sleep 0.02; done"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    serve_ = std::atoi(started.out.c_str());
    ASSERT_GT(serve_, 0);
  }

  std::string src_, store_, image_, key_, mnt_, socket_, uid_;
  pid_t serve_ = -1;
  std::vector<pid_t> stop_;  // killed in TearDown
};

TEST_F(ServeRootlessTest, UsersOwnServiceMountsThroughFusermount3) {
  ASSERT_NO_FATAL_FAILURE(StartUsersService());
  const std::string& store = store_;
  const std::string& image = image_;
  const std::string& key = key_;
  const std::string& mnt = mnt_;
  const std::string& socket = socket_;
  const std::string& uid = uid_;
  const pid_t serve = serve_;
  Track(mnt);
  const std::string env = "SEALFS_SERVE_SOCKET=" + socket;
  CommandResult m =
      AsUser({"env", env, user_sealfs_, "mount", "-o",
              "store=" + store + ",pubkey=" + key + ".pub", image, mnt});
  EXPECT_EQ(m.exit_code, 0) << m.err;
  CommandResult cat = AsUser({"cat", mnt + "/etc/hostname"});
  EXPECT_EQ(cat.out, "user\n") << cat.err;
  CommandResult list = AsUser({"env", env, user_sealfs_, "mounts", "--json"});
  EXPECT_NE(list.out.find("\"uid\":" + uid), std::string::npos) << list.out;
  // The service runs as the user, with no capability.
  std::string status =
      ReadProcFile("/proc/" + std::to_string(serve) + "/status");
  EXPECT_NE(status.find("\nUid:\t" + uid), std::string::npos) << status;
  EXPECT_NE(status.find("CapEff:\t0000000000000000"), std::string::npos);
  EXPECT_TRUE(DaemonPids(mnt).empty());
  // Stopping it unmounts through fusermount3.
  kill(serve, SIGTERM);
  EXPECT_TRUE(WaitGone(serve));
  serve_ = -1;
  EXPECT_FALSE(WaitMounted(mnt, false));
  std::ifstream in(home_ + "/run/keeper.pid");
  pid_t keeper = 0;
  if (in >> keeper) {
    EXPECT_TRUE(WaitGone(keeper));
  }
}

// Rootless, in a user and mount namespace of the user's own (`unshare
// -Urm`): the caller is root there and mounts with mount(2); the user's
// service, outside it, enters it to unmount an aborted mount.
TEST_F(ServeRootlessTest, AbortedMountInUsersOwnNamespaceIsUnmountedThere) {
  if (RunCmd({"sh", "-c", "command -v unshare && command -v nsenter"})
          .exit_code != 0) {
    GTEST_SKIP() << "unshare or nsenter is not installed";
  }
  ASSERT_NO_FATAL_FAILURE(StartUsersService());
  // The namespace's first process mounts, then stays as its holder.
  const std::string mounted = home_ + "/mount.out";
  CommandResult held = AsUser(
      {"sh", "-c",
       "setsid unshare --user --map-root-user --mount --propagation private "
       "sh -c 'SEALFS_SERVE_SOCKET=" +
           socket_ + " " + user_sealfs_ + " mount -o store=" + store_ +
           ",pubkey=" + key_ + ".pub " + image_ + " " + mnt_ +
           "; echo mount exit $?; exec sleep 600' </dev/null >" + mounted +
           " 2>&1 & echo $!"});
  ASSERT_EQ(held.exit_code, 0) << held.err;
  const pid_t ns = std::atoi(held.out.c_str());
  ASSERT_GT(ns, 0);
  stop_.push_back(ns);
  const std::string proc = "/proc/" + std::to_string(ns);
  for (int i = 0;
       i < 1000 && !ReadProcFile(proc + "/cmdline").starts_with("sleep");
       ++i) {  // a hang guard, not a timing
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_NE(ReadProcFile(mounted).find("mount exit 0"), std::string::npos)
      << ReadProcFile(mounted) << ReadProcFile(home_ + "/serve.log");
  std::vector<std::string> inside = SealfsMountsAt(ns, mnt_);
  ASSERT_EQ(inside.size(), 1u);
  EXPECT_TRUE(SealfsMountsAt(getpid(), mnt_).empty());  // not here
  CommandResult cat =
      AsUser({"nsenter", "-t", std::to_string(ns), "-U", "-m",
              "--preserve-credentials", "cat", mnt_ + "/etc/hostname"});
  EXPECT_EQ(cat.out, "user\n") << cat.err;  // served by the user's service

  ASSERT_TRUE(AbortConnection(MinorOf(inside[0])));
  EXPECT_TRUE(WaitSealfsMounts(ns, mnt_, 0))
      << ReadProcFile(home_ + "/serve.log");
  const std::string log = home_ + "/serve.log";
  bool logged = false;
  for (int i = 0; i < 500 && !logged; ++i) {  // a hang guard
    logged = ReadProcFile(log).find(mnt_ +
                                    ": unmounted in its mount "
                                    "namespace") != std::string::npos;
    if (!logged) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(logged) << ReadProcFile(log);
}

}  // namespace
}  // namespace sealfs::testing
