// SPDX-License-Identifier: Apache-2.0
// The keeper heeds everything a service sent, even when the service is
// gone before the keeper reads it: a session kept just before a kill -9
// must survive, and one dropped just before a clean stop must not keep
// the keeper alive.
#include "fs/serve/keeper.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "fs/serve/channel.h"
#include "tests/test_util.h"

namespace sealfs::serve {
namespace {

constexpr int kSessions = 20;

class KeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = tmp_ / "keeper.sock";
    keeper_ = fork();
    if (keeper_ == 0) _exit(RunKeeper(path_).ok() ? 0 : 1);
    ASSERT_GT(keeper_, 0);
  }
  void TearDown() override {
    if (keeper_ > 0) {
      kill(keeper_, SIGKILL);
      waitpid(keeper_, nullptr, 0);
    }
  }
  // A link to the running keeper (never starts another).
  KeeperLink Link() {
    Result<KeeperLink> k = KeeperLink::ConnectOrStart(path_, "/nonexistent");
    EXPECT_TRUE(k.ok()) << k.status().ToString();
    return k.ok() ? std::move(*k) : KeeperLink();
  }
  // Waits (a hang guard, not a timing) for the keeper to exit by itself.
  bool KeeperExits() {
    for (int i = 0; i < 1000; ++i) {
      int status = 0;
      if (waitpid(keeper_, &status, WNOHANG) == keeper_) {
        keeper_ = -1;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  sealfs::testing::TempDir tmp_;
  std::string path_;
  pid_t keeper_ = -1;
};

// The pids of the live `sealfs serve --keeper` processes serving `path`
// (a zombie's command line reads empty).
std::vector<pid_t> KeepersAt(const std::string& path) {
  const std::string args =
      std::string("--keeper") + '\0' + "--socket" + '\0' + path + '\0';
  std::vector<pid_t> pids;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const pid_t pid = std::atoi(it->path().filename().c_str());
    if (pid <= 0) continue;
    std::ifstream f(it->path() / "cmdline", std::ios::binary);
    const std::string cmdline((std::istreambuf_iterator<char>(f)),
                              std::istreambuf_iterator<char>());
    if (cmdline.find(args) != std::string::npos) pids.push_back(pid);
  }
  return pids;
}

// Waits (a hang guard, not a timing) until `keeper` is the only keeper at
// `path`. The link starts one more keeper when none answers within 0.2 s,
// as on a slow (sanitized) build; that one finds keeper.lock taken and
// exits at once. Left running, it would take over once `keeper` is killed
// and make the test's directory again after the test removed it.
bool OnlyKeeperAt(const std::string& path, pid_t keeper) {
  for (int i = 0; i < 1000; ++i) {
    if (KeepersAt(path) == std::vector<pid_t>{keeper}) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// On leaving a test, also a failed one: kills every keeper still serving
// `path` and waits until none is left, before the test's directory goes.
class KeepersKilled {
 public:
  explicit KeepersKilled(std::string path) : path_(std::move(path)) {}
  ~KeepersKilled() {
    for (int i = 0; i < 1000; ++i) {
      const std::vector<pid_t> left = KeepersAt(path_);
      if (left.empty()) return;
      for (pid_t pid : left) kill(pid, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  KeepersKilled(const KeepersKilled&) = delete;
  KeepersKilled& operator=(const KeepersKilled&) = delete;

 private:
  const std::string path_;
};

SessionRecord Record(uint64_t id) {
  SessionRecord rec;
  rec.id = id;
  rec.spec.image_label = "/img";
  rec.spec.store_label = "/store";
  rec.spec.mountpoint = "/mnt/" + std::to_string(id);
  rec.init = {1, 2, 3};
  return rec;
}

TEST_F(KeeperTest, HeedsWhatAServiceSentBeforeItWentAway) {
  // The keeper reads nothing until the sender is gone, as when a service
  // is killed right after sending: every answer it gives then fails.
  {
    KeeperLink sender = Link();
    ASSERT_TRUE(sender.connected());
    ASSERT_EQ(kill(keeper_, SIGSTOP), 0);
    UniqueFd null_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(null_fd.valid());
    const int fds[3] = {null_fd.get(), null_fd.get(), null_fd.get()};
    for (int id = 1; id <= kSessions; ++id) {
      ASSERT_TRUE(sender.Keep(Record(id), fds).ok());
    }
  }
  ASSERT_EQ(kill(keeper_, SIGCONT), 0);
  KeeperLink next = Link();
  Result<std::vector<HeldSession>> held = next.TakeBack();
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  EXPECT_EQ(held->size(), static_cast<size_t>(kSessions));

  // Dropped by a service that then stopped: the keeper holds nothing and
  // exits.
  ASSERT_EQ(kill(keeper_, SIGSTOP), 0);
  for (int id = 1; id <= kSessions; ++id) ASSERT_TRUE(next.Drop(id).ok());
  next.Replace(KeeperLink());
  ASSERT_EQ(kill(keeper_, SIGCONT), 0);
  EXPECT_TRUE(KeeperExits()) << "the keeper still holds dropped sessions";
}

// Issue 20: a keeper killed with -9 closes its files in no promised order,
// so for a moment its listener can still take connections that nobody
// will ever accept; they are closed with the listener, and whatever was
// sent on them is lost. Here the test is that listener, held open as long
// as it takes: the link must not count as a keeper until one answers, and
// must then reach a live keeper it started.
TEST(KeeperStart, Issue20ListenerOfADyingKeeperIsNeverTakenForAKeeper) {
  sealfs::testing::TempDir tmp;
  const std::string path = tmp / "keeper.sock";
  const KeepersKilled keepers_killed(path);
  Result<UniqueFd> dying = Listen(path);
  ASSERT_TRUE(dying.ok()) << dying.status().ToString();
  auto linked = std::async(std::launch::async, [&] {
    return KeeperLink::ConnectOrStart(path, SEALFS_BIN);
  });
  // The service has connected once its connection waits to be accepted.
  pollfd p{dying->get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1) << "no connection to the listener";
  // The dying keeper's files are closed: its queued connection with them.
  dying->reset();
  Result<KeeperLink> k = linked.get();
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  pid_t keeper = 0;
  std::ifstream(tmp / "keeper.pid") >> keeper;
  ASSERT_GT(keeper, 0) << "the link did not start a keeper";
  // A session handed over now is held by that keeper.
  UniqueFd null_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int fds[3] = {null_fd.get(), null_fd.get(), null_fd.get()};
  EXPECT_TRUE(k->Keep(Record(7), fds).ok());
  Result<std::vector<HeldSession>> held = k->TakeBack();
  EXPECT_TRUE(held.ok()) << held.status().ToString();
  if (held.ok()) {
    ASSERT_EQ(held->size(), 1u);
    EXPECT_EQ((*held)[0].record.id, 7u);
  }
  EXPECT_TRUE(OnlyKeeperAt(path, keeper)) << "a second keeper did not exit";
  kill(keeper, SIGKILL);
}

// The service starts the keeper with SIGTERM blocked (it reads its
// signals from a signalfd); the keeper must not inherit that.
TEST(KeeperStart, StartedKeeperStopsOnSigtermThoughItsStarterBlocksIt) {
  sealfs::testing::TempDir tmp;
  const std::string path = tmp / "keeper.sock";
  const KeepersKilled keepers_killed(path);
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &term, &old), 0);
  Result<KeeperLink> k = KeeperLink::ConnectOrStart(path, SEALFS_BIN);
  sigprocmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  pid_t keeper = 0;  // written just after it listens
  for (int i = 0; i < 500 && keeper <= 0; ++i) {
    std::ifstream(tmp / "keeper.pid") >> keeper;
    if (keeper <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(keeper, 0);
  EXPECT_TRUE(OnlyKeeperAt(path, keeper)) << "a second keeper did not exit";
  ASSERT_EQ(kill(keeper, SIGTERM), 0);
  // Gone, or a zombie (it is not this process's child).
  const auto gone_or_zombie = [keeper] {
    std::ifstream stat("/proc/" + std::to_string(keeper) + "/stat");
    std::string pid, comm, state;
    return !(stat >> pid >> comm >> state) || state == "Z";
  };
  bool gone = false;
  for (int i = 0; i < 500 && !gone; ++i) {  // a hang guard
    gone = gone_or_zombie();
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!gone) kill(keeper, SIGKILL);
  EXPECT_TRUE(gone) << "the keeper ignored SIGTERM";
}

}  // namespace
}  // namespace sealfs::serve
