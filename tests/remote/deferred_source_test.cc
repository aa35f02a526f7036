// SPDX-License-Identifier: Apache-2.0
#include "fs/remote/deferred_source.h"

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fs/remote/local_source.h"
#include "fs/remote/object_fetcher.h"
#include "tests/remote/remote_test_util.h"
#include "tests/test_util.h"

namespace sealfs::remote {
namespace {

using ::sealfs::testing::RandomBytes;
using ::sealfs::testing::TempDir;

// Keeps what one fetch delivers.
class Collect : public FetchSink {
 public:
  Status OnData(uint64_t, std::span<const uint8_t>) override { return {}; }
  void OnDone(const Status& status) override { done_.set_value(status); }
  std::future<Status> done() { return done_.get_future(); }

 private:
  std::promise<Status> done_;
};

class DeferredSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    contents_ = {RandomBytes(5000, 1), RandomBytes(100, 2)};
    items_ = ::sealfs::testing::MakeStore(remote_, contents_);
  }
  FetchRequest Whole(size_t i) const {
    FetchRequest r;
    r.digest = items_[i].digest;
    r.object_size = items_[i].size;
    r.length = items_[i].size;
    return r;
  }
  // A source over remote_ whose opening fails while `fail` is set, and
  // counts its attempts in `opens`.
  DeferredSource::Opener Opener() {
    return [this]() -> Result<std::unique_ptr<ObjectSource>> {
      opens_.fetch_add(1);
      if (fail_.load()) {
        return Status::FromErrno(ECONNREFUSED, "registry down");
      }
      return OpenLocalSource(remote_);
    };
  }

  TempDir tmp_;
  std::string remote_ = tmp_ / "remote";
  std::vector<std::vector<uint8_t>> contents_;
  std::vector<PullItem> items_;
  std::atomic<int> opens_{0};
  std::atomic<bool> fail_{false};
};

TEST_F(DeferredSourceTest, OpensOnTheFirstFetchOnly) {
  DeferredSource source("docker://h/r@sha256:00", Opener(), {32, 1 << 20});
  EXPECT_EQ(opens_.load(), 0);  // making it reaches nothing
  EXPECT_FALSE(source.opened());
  Result<std::vector<uint8_t>> got = FetchBytes(source, Whole(0));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, contents_[0]);
  EXPECT_TRUE(source.opened());
  got = FetchBytes(source, Whole(1));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, contents_[1]);
  EXPECT_EQ(opens_.load(), 1);
}

TEST_F(DeferredSourceTest, AFailedOpenFailsItsFetchesAndTheNextTriesAgain) {
  DeferredSource source("docker://h/r@sha256:00", Opener(), {32, 1 << 20});
  fail_ = true;
  Result<std::vector<uint8_t>> got = FetchBytes(source, Whole(0));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().err(), ECONNREFUSED);
  EXPECT_NE(got.status().context().find("docker://h/r@sha256:00"),
            std::string::npos)
      << got.status().ToString();
  EXPECT_FALSE(source.opened());
  fail_ = false;  // the registry is back
  got = FetchBytes(source, Whole(0));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, contents_[0]);
  EXPECT_EQ(opens_.load(), 2);
}

// A fetch cancelled while the source is still opening is answered at once
// (ECANCELED), not when the open gives up: a hand-over must not wait for a
// registry that does not answer.
TEST_F(DeferredSourceTest, CancelDoesNotWaitForTheOpen) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto source = std::make_unique<DeferredSource>(
      "docker://h/r@sha256:00",
      [&, released]() -> Result<std::unique_ptr<ObjectSource>> {
        released.wait();
        return Status::FromErrno(ETIMEDOUT, "no answer");
      },
      DeferredSource::Batching{32, 1 << 20});
  auto sink = std::make_shared<Collect>();
  std::future<Status> done = sink->done();
  std::shared_ptr<FetchTicket> ticket = source->Fetch(Whole(0), sink);
  ASSERT_NE(ticket, nullptr);
  ticket->Cancel();
  // A hang guard, not a measure: the open is still blocked.
  ASSERT_EQ(done.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(done.get().err(), ECANCELED);
  release.set_value();
  source.reset();  // joins the opener
}

// The fetcher a service mount uses, stopped at a hand-over while its
// source is still opening: Stop returns, each waiting caller gets
// ECANCELED.
TEST_F(DeferredSourceTest, FetcherStopCancelsFetchesWaitingForTheOpen) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto source = std::make_shared<DeferredSource>(
      "docker://h/r@sha256:00",
      [released]() -> Result<std::unique_ptr<ObjectSource>> {
        released.wait();
        return Status::FromErrno(ETIMEDOUT, "no answer");
      },
      DeferredSource::Batching{32, 1 << 20});
  FetcherOptions options;
  options.workers = 1;
  auto fetcher = std::make_unique<ObjectFetcher>(
      ::sealfs::testing::OpenStore(tmp_ / "local"), source, options);
  std::promise<Status> result;
  fetcher->FetchAsync(items_[0], Priority::kUrgent,
                      [&](const Status& st) { result.set_value(st); });
  fetcher->Stop();
  std::future<Status> got = result.get_future();
  ASSERT_EQ(got.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(got.get().err(), ECANCELED);
  fetcher.reset();
  release.set_value();
}

}  // namespace
}  // namespace sealfs::remote
