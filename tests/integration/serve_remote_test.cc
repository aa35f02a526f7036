// SPDX-License-Identifier: Apache-2.0
// remote= mounts served by `sealfs serve`, each with a fetcher of its own:
// a stalled remote holds only its own mount's readers, who get EIO after
// remote_timeout; a killed server fails only its own mount's reads; other
// mounts, a new mount and `sealfs mounts` carry on meanwhile; a mount's
// fetcher threads and connections end with it; a remote mount fetches
// again after --replace and kill -9, and prefetches in the background.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sealfs/unique_fd.h"
#include "tests/http_store_server.h"
#include "tests/integration/serve_fixture.h"
#include "tests/integration/store_files.h"

namespace sealfs::testing {
namespace {

namespace fs = std::filesystem;

// A remote that never answers: a socket listening on loopback that nobody
// accepts on. The kernel completes each connection and queues it; the
// request is never read.
class StalledRemote {
 public:
  // Empty once it listens, else what failed.
  std::string Start() {
    fd_.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (!fd_.valid() ||
        bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(fd_.get(), 64) != 0 ||
        getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return "stalled remote: " + std::string(strerror(errno));
    }
    port_ = ntohs(addr.sin_port);
    return "";
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }
  // Connections waiting to be accepted (a listening socket's tcpi_unacked).
  unsigned queued() const {
    tcp_info info{};
    socklen_t len = sizeof(info);
    if (getsockopt(fd_.get(), IPPROTO_TCP, TCP_INFO, &info, &len) != 0) {
      return 0;
    }
    return info.tcpi_unacked;
  }

 private:
  UniqueFd fd_;
  int port_ = 0;
};

// A reader on a thread of its own, never joined: one that hangs fails the
// test instead of blocking it. result: -1 while reading, then 0 or the
// errno of ReadAll, or with `one_block` of ReadBlock (one request: no
// retry by the kernel after a failed readahead).
std::shared_ptr<std::atomic<int>> StartReader(const std::string& path,
                                              bool one_block = false) {
  auto result = std::make_shared<std::atomic<int>>(-1);
  std::thread([path, result, one_block] {
    std::vector<uint8_t> got;
    result->store(one_block ? ReadBlock(path, 0, &got) : ReadAll(path, &got));
  }).detach();
  return result;
}

// Polls until `done()` or about `seconds` pass (a hang guard, not a
// measure); returns done().
template <typename Done>
bool WaitFor(Done done, int seconds) {
  for (int i = 0; i < seconds * 50 && !done(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// How many of `what` ("task", "fd") process `pid` has.
size_t CountIn(pid_t pid, const std::string& what) {
  std::error_code ec;
  size_t n = 0;
  for (fs::directory_iterator
           it("/proc/" + std::to_string(pid) + "/" + what, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    ++n;
  }
  return n;
}

class ServeRemoteTest : public ServeTest {
 protected:
  void SetUp() override {
    ServeTest::SetUp();
    if (IsSkipped()) return;
    for (int i = 0; i < 4; ++i) {
      contents_.push_back(RandomBytes(100000 + i * 50000, 40 + i));
      WriteFile(tmp_ / ("src/f" + std::to_string(i)), contents_.back());
    }
    BuildImage();  // the store_ it fills is the remote's copy and C's
    remote_ = tmp_ / "remote";
    ASSERT_EQ(RunCmd({"cp", "-a", store_, remote_}).exit_code, 0);
    log_ = tmp_ / "requests.log";
  }
  void TearDown() override {
    server_.Stop();
    ServeTest::TearDown();
  }
  // A lazy mount from an empty store of its own (made by the mount).
  std::string LazyOptions(const std::string& store, const std::string& url,
                          const std::string& extra) {
    return "store=" + store + ",pubkey=" + (tmp_ / "key.pub") +
           ",remote=" + url + extra;
  }
  std::string F(const std::string& mnt, int i) {
    return mnt + "/f" + std::to_string(i);
  }

  std::vector<std::vector<uint8_t>> contents_;
  std::string remote_, log_;
  HttpStoreServer server_;
};

TEST_F(ServeRemoteTest, StalledAndKilledRemotesAffectOnlyTheirOwnMount) {
  const pid_t serve = Serve();
  ASSERT_GT(serve, 0);
  ASSERT_EQ(server_.Start(remote_, "normal", log_), "");
  StalledRemote stalled;
  ASSERT_EQ(stalled.Start(), "");
  const std::string image = tmp_ / "image";
  const std::string a = tmp_ / "a", b = tmp_ / "b", c = tmp_ / "c";
  // Another image, with a store of its own, to mount while A is stuck.
  const std::vector<uint8_t> other = RandomBytes(50000, 99);
  WriteFile(tmp_ / "src-d/other", other);
  Mkfs(tmp_ / "src-d", tmp_ / "image-d", tmp_ / "key");
  ASSERT_EQ(RunCmd({"cp", "-a", store_, tmp_ / "store-d"}).exit_code, 0);
  MountOk(image, c, opts_);
  // C has been read before the count, and the objects its reads held are
  // dropped again (2 s after their last read: idle_reaper.h), so that
  // the count is of a service at rest, which it must return to.
  EXPECT_EQ(ReadFile(c + "/big"), big_);
  EXPECT_EQ(ReadFile(c + "/f1"), contents_[1]);
  EXPECT_TRUE(WaitFor(
      [&] {
        CommandResult r = RunCmd({SealfsBin(), "stats", c});
        return r.out.find("\"open_objects\":0") != std::string::npos;
      },
      30));
  const size_t threads_before = CountIn(serve, "task");
  const size_t fds_before = CountIn(serve, "fd");
  MountOk(image, a,
          LazyOptions(tmp_ / "store-a", stalled.url(),
                      ",remote_timeout=10,prefetch=none"));
  MountOk(image, b,
          LazyOptions(tmp_ / "store-b", server_.url(),
                      ",remote_timeout=10,prefetch=none"));
  // The service serves them: no daemon of their own.
  EXPECT_TRUE(DaemonPids(a).empty());
  EXPECT_TRUE(DaemonPids(b).empty());

  // A reader per file of A, each waiting on the stalled remote.
  std::vector<std::shared_ptr<std::atomic<int>>> stuck;
  stuck.push_back(StartReader(a + "/big"));
  for (int i = 0; i < 4; ++i) stuck.push_back(StartReader(F(a, i)));
  ASSERT_TRUE(WaitFor([&] { return stalled.queued() > 0; }, 30))
      << "no fetch reached the stalled remote";

  // Meanwhile: B fetches and C reads, correct bytes; a new mount through
  // the same service works; `sealfs mounts` answers.
  EXPECT_EQ(ReadFile(F(b, 0)), contents_[0]);
  EXPECT_EQ(ReadFile(c + "/big"), big_);
  const std::string d = tmp_ / "d";
  MountOk(tmp_ / "image-d", d,
          "store=" + (tmp_ / "store-d") + ",pubkey=" + (tmp_ / "key.pub"));
  EXPECT_EQ(ReadFile(d + "/other"), other);
  CommandResult list = RunCmd({SealfsBin(), "mounts", "--json"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("\"mountpoint\":\"" + a + "\""), std::string::npos)
      << list.out;
  // All of that came before A's readers were answered (remote_timeout=10).
  for (const auto& r : stuck) EXPECT_EQ(r->load(), -1);

  // Then each of them gets EIO; none hangs (guard: 60 s).
  for (const auto& r : stuck) {
    ASSERT_TRUE(WaitFor([&] { return r->load() != -1; }, 60))
        << "a reader of the stalled mount hangs";
    EXPECT_EQ(r->load(), EIO);
  }
  EXPECT_EQ(ReadFile(F(b, 2)), contents_[2]);

  // B's server is killed mid-run: B's next fetch fails with EIO, what B
  // has already fetched still reads, the other mounts do not notice.
  const int port = server_.port();
  server_.Stop();
  std::vector<uint8_t> got;
  EXPECT_EQ(ReadAll(F(b, 1), &got), EIO);
  EXPECT_EQ(ReadAll(F(b, 0), &got), 0);
  EXPECT_EQ(got, contents_[0]);
  EXPECT_EQ(ReadFile(c + "/f1"), contents_[1]);
  EXPECT_EQ(ReadFile(d + "/other"), other);
  // Back on its port, it serves B again: no failure is remembered.
  ASSERT_EQ(server_.Start(remote_, "normal", log_, port), "");
  EXPECT_EQ(ReadAll(F(b, 1), &got), 0);
  EXPECT_EQ(got, contents_[1]);

  // Unmounted, the lazy mounts leave nothing behind in the service: their
  // fetchers' threads and connections end with them.
  for (const std::string& m : {a, b, d}) {
    EXPECT_EQ(RunCmd({"fusermount3", "-u", m}).exit_code, 0) << m;
    Forget(m);
  }
  EXPECT_TRUE(WaitFor(
      [&] {
        return CountIn(serve, "task") == threads_before &&
               CountIn(serve, "fd") == fds_before;
      },
      30))
      << "threads " << CountIn(serve, "task") << " (were " << threads_before
      << "), fds " << CountIn(serve, "fd") << " (were " << fds_before << ")";
  EXPECT_EQ(ReadFile(c + "/big"), big_);
}

TEST_F(ServeRemoteTest, RemoteMountFetchesAgainAfterReplaceAndKill9) {
  ASSERT_GT(Serve(), 0);
  ASSERT_EQ(server_.Start(remote_, "normal", log_), "");
  const std::string image = tmp_ / "image";
  const std::string mnt = tmp_ / "mnt";
  const std::string store = tmp_ / "store-lazy";
  MountOk(image, mnt, LazyOptions(store, server_.url(), ",prefetch=none"));
  EXPECT_TRUE(DaemonPids(mnt).empty());
  EXPECT_EQ(ReadFile(F(mnt, 0)), contents_[0]);
  // The new service makes the mount's fetcher again from its record.
  pid_t old = serve_pids_.back();
  ASSERT_GT(Serve({"--replace"}), 0);
  Reap(old);
  EXPECT_EQ(ReadFile(F(mnt, 1)), contents_[1]);
  // So does one that takes the session back from the keeper.
  old = serve_pids_.back();
  kill(old, SIGKILL);
  Reap(old);
  ASSERT_GT(Serve(), 0);
  EXPECT_EQ(ReadFile(F(mnt, 2)), contents_[2]);
  // Fetched, each once, into the mount's own store.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ReadFile(ObjectPathFor(store, F(src_, i))), contents_[i]) << i;
  }
  EXPECT_FALSE(fs::exists(ObjectPathFor(store, F(src_, 3))));

  // prefetch=all (the default): the service brings every object in the
  // background (guard: 60 s).
  const std::string full = tmp_ / "full";
  const std::string store_full = tmp_ / "store-full";
  MountOk(image, full, LazyOptions(store_full, server_.url(), ""));
  EXPECT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < 4; ++i) {
          if (!fs::exists(ObjectPathFor(store_full, F(src_, i)))) return false;
        }
        return fs::exists(ObjectPathFor(store_full, src_ + "/big"));
      },
      60));
  server_.Stop();
  EXPECT_EQ(ReadFile(full + "/big"), big_);

  // Stopping the service unmounts both.
  const pid_t last = serve_pids_.back();
  kill(last, SIGTERM);
  Reap(last);
  EXPECT_FALSE(IsMounted(mnt));
  EXPECT_FALSE(IsMounted(full));
  Forget(mnt);
  Forget(full);
}

// A hand-over waits for requests in hand, but not for a stalled remote's
// time-out: their fetches are cancelled (EIO) after a short grace, and the
// new service serves every mount, the stalled one included.
TEST_F(ServeRemoteTest, StalledRemoteDoesNotHoldUpReplace) {
  ASSERT_GT(Serve(), 0);
  StalledRemote stalled;
  ASSERT_EQ(stalled.Start(), "");
  const std::string image = tmp_ / "image";
  const std::string a = tmp_ / "a", c = tmp_ / "c";
  MountOk(image, c, opts_);
  MountOk(image, a,
          LazyOptions(tmp_ / "store-a", stalled.url(),
                      ",remote_timeout=3600,prefetch=none"));
  // One request, cancelled by the old service: a retry would wait on the
  // remote again, in the new one.
  std::shared_ptr<std::atomic<int>> reader = StartReader(F(a, 0), true);
  ASSERT_TRUE(WaitFor([&] { return stalled.queued() > 0; }, 30))
      << "no fetch reached the stalled remote";
  const pid_t old = serve_pids_.back();
  ASSERT_GT(Serve({"--replace"}), 0);
  // Guards, far below remote_timeout=3600: neither waits for the remote.
  if (!WaitGone(old)) {
    ADD_FAILURE() << "the old service waits for the remote";
    kill(old, SIGKILL);
  }
  Reap(old);
  ASSERT_TRUE(WaitFor([&] { return reader->load() != -1; }, 60))
      << "the reader of the stalled mount hangs";
  EXPECT_EQ(reader->load(), EIO);
  EXPECT_EQ(ReadFile(c + "/big"), big_);
  // The stalled mount is served by the new service too (its remote still
  // stalls; only the test's patience ends it).
  struct stat st {};
  EXPECT_EQ(stat(F(a, 0).c_str(), &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(contents_[0].size()));
}

}  // namespace
}  // namespace sealfs::testing
