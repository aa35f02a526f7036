// SPDX-License-Identifier: Apache-2.0
// Tests for ObjectFetcher (fs/remote/object_fetcher.cc): objects arrive
// verified from HTTP and directory sources, one transfer per object however
// many callers ask, wrong bytes never land, failures are not remembered.
#include "fs/remote/object_fetcher.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "fs/remote/object_source.h"
#include "fs/remote/partial_object.h"
#include "tests/http_store_server.h"
#include "tests/remote/remote_test_util.h"
#include "tests/test_util.h"

namespace sealfs::remote {
namespace {

namespace fs = std::filesystem;
using ::sealfs::testing::HttpStoreServer;
using ::sealfs::testing::RandomBytes;
using ::sealfs::testing::TempDir;

class ObjectFetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Small ones in memory, large ones (over 4 MiB) streamed to a file.
    for (size_t size : {1u, 4096u, 4097u, 100000u, 1u << 20, 5u << 20}) {
      contents_.push_back(RandomBytes(size, 11 + size));
    }
    items_ = ::sealfs::testing::MakeStore(remote_, contents_);
    store_ = ::sealfs::testing::OpenStore(tmp_ / "local");
  }

  std::shared_ptr<ObjectSource> Source(const std::string& spec) {
    SourceOptions options;
    options.limits.connect_timeout_s = 2;
    options.limits.stall_timeout_s = 2;
    Result<std::unique_ptr<ObjectSource>> source =
        OpenObjectSource(spec, options);
    EXPECT_TRUE(source.ok()) << source.status().ToString();
    return std::move(*source);
  }

  bool Present(size_t i) { return store_->HasObject(items_[i].digest); }

  TempDir tmp_;
  std::string remote_ = tmp_ / "remote";
  std::string log_ = tmp_ / "requests.log";
  std::vector<std::vector<uint8_t>> contents_;
  std::vector<PullItem> items_;
  std::shared_ptr<Store> store_;
  HttpStoreServer server_;
};

TEST_F(ObjectFetcherTest, FetchesEverySizeFromHttpAndDirectory) {
  ASSERT_EQ(server_.Start(remote_, "normal", log_), "");
  for (const std::string& spec : {server_.url(), remote_}) {
    fs::remove_all(tmp_ / "local");
    store_ = ::sealfs::testing::OpenStore(tmp_ / "local");
    for (Durability durability : {Durability::kSynced, Durability::kUnsynced}) {
      FetcherOptions options;
      options.durability = durability;
      ObjectFetcher fetcher(store_, Source(spec), options);
      for (const PullItem& item : items_) {
        EXPECT_TRUE(fetcher.Fetch(item, Priority::kNormal).ok()) << spec;
      }
      ASSERT_TRUE(fetcher.Commit().ok());
      for (size_t i = 0; i < items_.size(); ++i) {
        ASSERT_TRUE(Present(i)) << spec << " " << i;
        EXPECT_EQ(::sealfs::testing::ReadFile(
                      tmp_ / ("local/" + Store::ObjectPath(items_[i].digest))),
                  contents_[i]);
      }
    }
  }
}

TEST_F(ObjectFetcherTest, ConcurrentCallersShareOneTransfer) {
  ASSERT_EQ(server_.Start(remote_, "slow", log_, 0, {"--delay", "0.3"}), "");
  FetcherOptions options;
  options.durability = Durability::kUnsynced;
  ObjectFetcher fetcher(store_, Source(server_.url()), options);
  std::atomic<int> ok{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 8; ++t) {
    callers.emplace_back([&, t] {
      const Priority p = t % 2 == 0 ? Priority::kBackground : Priority::kUrgent;
      if (fetcher.Fetch(items_[3], p).ok()) ++ok;
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(fetcher.transfers(), 1u);
  EXPECT_EQ(::sealfs::testing::CountLogLines(log_, "/objects/"), 1);
  EXPECT_TRUE(Present(3));
}

TEST_F(ObjectFetcherTest, WrongBytesNeverLandAndAreNotRemembered) {
  ASSERT_EQ(server_.Start(remote_, "corrupt", log_), "");
  FetcherOptions options;
  ObjectFetcher fetcher(store_, Source(server_.url()), options);
  for (size_t i : {1u, 5u}) {  // in memory, and streamed to a file
    Status st = fetcher.Fetch(items_[i], Priority::kNormal);
    EXPECT_EQ(st.err(), kErrDigest) << st.ToString();
    EXPECT_NE(st.context().find("served wrong bytes"), std::string::npos)
        << st.ToString();
  }
  ASSERT_TRUE(fetcher.Commit().ok());
  EXPECT_FALSE(Present(1));
  EXPECT_FALSE(Present(5));
  // Nothing left behind among the objects: no name, no temp file.
  for (const auto& e :
       fs::recursive_directory_iterator(tmp_ / "local/objects")) {
    EXPECT_FALSE(e.is_regular_file()) << e.path();
  }
  // Each try asks again (the server logs a request after answering it).
  EXPECT_EQ(fetcher.Fetch(items_[1], Priority::kNormal).err(), kErrDigest);
  EXPECT_EQ(::sealfs::testing::CountLogLinesAtLeast(
                log_, items_[1].digest.Hex().substr(2), 2),
            2);
}

TEST_F(ObjectFetcherTest, SizeMismatchIsRefusedBeforeTheBody) {
  ASSERT_EQ(server_.Start(remote_, "normal", log_), "");
  ObjectFetcher fetcher(store_, Source(server_.url()), FetcherOptions());
  PullItem wrong = items_[3];
  wrong.size += 1;
  Status st = fetcher.Fetch(wrong, Priority::kNormal);
  EXPECT_EQ(st.err(), kErrCorrupt) << st.ToString();
  EXPECT_NE(st.context().find("the manifest says"), std::string::npos)
      << st.ToString();
}

// A remote that takes every request and never answers: its transfers end
// only when cancelled (ECANCELED), as an HTTP transfer does.
class SilentSource : public ObjectSource {
 public:
  class Ticket : public FetchTicket {
   public:
    explicit Ticket(std::shared_ptr<FetchSink> sink) : sink_(std::move(sink)) {}
    void Promote(Priority /*priority*/) override {}
    void Cancel() override {
      if (auto sink = std::exchange(sink_, nullptr)) {
        sink->OnDone(Status::FromErrno(ECANCELED, "cancelled"));
      }
    }

   private:
    std::shared_ptr<FetchSink> sink_;
  };

  std::shared_ptr<FetchTicket> Fetch(const FetchRequest& /*request*/,
                                     std::shared_ptr<FetchSink> sink) override {
    auto ticket = std::make_shared<Ticket>(std::move(sink));
    {
      std::lock_guard lock(mu_);
      tickets_.push_back(ticket);
    }
    cv_.notify_all();
    return ticket;
  }
  Result<std::vector<uint8_t>> ReadImage(const std::string& name) override {
    return Status::FromErrno(ENOENT, name);
  }
  bool synchronous() const override { return false; }
  const std::string& location() const override { return location_; }

  // Ends every transfer as a cancel would: unwinds a test that failed.
  void CancelAll() {
    std::vector<std::shared_ptr<Ticket>> tickets;
    {
      std::lock_guard lock(mu_);
      tickets = tickets_;
    }
    for (const auto& t : tickets) t->Cancel();
  }

  // Waits (a hang guard, not a timing) until `n` transfers have started.
  bool WaitStarted(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30),
                        [&] { return tickets_.size() >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<Ticket>> tickets_;  // guarded by mu_
  std::string location_ = "silent";
};

TEST_F(ObjectFetcherTest, Issue20StopWakesReadersWaitingForATree) {
  auto source = std::make_shared<SilentSource>();
  FetcherOptions options;
  options.range_reads = true;
  ObjectFetcher fetcher(store_, source, options);
  const PullItem big = items_[5];  // over kRangeReadMinBytes: by range
  ASSERT_GT(big.size, kRangeReadMinBytes);
  // One reader fetches the tree; a second, if it comes before Stop, waits
  // for the first's.
  auto first =
      std::async(std::launch::async, [&] { return fetcher.OpenPartial(big); });
  ASSERT_TRUE(source->WaitStarted(1));
  auto second =
      std::async(std::launch::async, [&] { return fetcher.OpenPartial(big); });
  auto stopped = std::async(std::launch::async, [&] { fetcher.Stop(); });
  // Hang guards: without the cancel, the readers and Stop wait for ever on
  // this source; then it is made to answer, so the test fails, not hangs.
  const bool woken =
      first.wait_for(std::chrono::seconds(30)) == std::future_status::ready &&
      second.wait_for(std::chrono::seconds(30)) == std::future_status::ready &&
      stopped.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  if (!woken) source->CancelAll();
  ASSERT_TRUE(woken) << "Stop did not wake the readers";
  Result<std::shared_ptr<PartialObject>> a = first.get();
  Result<std::shared_ptr<PartialObject>> b = second.get();
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().err(), ECANCELED) << a.status().ToString();
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().err(), ECANCELED) << b.status().ToString();
  EXPECT_FALSE(Present(5));
}

}  // namespace
}  // namespace sealfs::remote
