// SPDX-License-Identifier: Apache-2.0
// Tests for HttpEngine (fs/remote/http_engine.cc) against the test server:
// connections are reused, ranges and limits are checked, queues are served
// by priority, cancellation and shutdown reach every sink once.
#include "fs/remote/http_engine.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "sealfs/store.h"
#include "tests/http_store_server.h"
#include "tests/remote/remote_test_util.h"
#include "tests/test_util.h"

namespace sealfs::remote {
namespace {

using ::sealfs::testing::HttpStoreServer;
using ::sealfs::testing::RandomBytes;
using ::sealfs::testing::TempDir;

// Records what the engine hands a sink; Wait() until OnDone.
class RecordingSink : public HttpSink {
 public:
  Status OnResponse(const HttpResponse& response) override {
    std::lock_guard lock(mu_);
    response_ = response;
    ++responses_;
    return {};
  }
  Status OnBody(std::span<const uint8_t> data) override {
    std::lock_guard lock(mu_);
    body_.insert(body_.end(), data.begin(), data.end());
    return {};
  }
  void OnDone(const Status& status) override {
    std::lock_guard lock(mu_);
    ++done_calls_;
    status_ = status;
    done_at_ = std::chrono::steady_clock::now();
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return done_calls_ > 0; });
  }

  std::mutex mu_;
  std::condition_variable cv_;
  HttpResponse response_;
  int responses_ = 0;
  std::vector<uint8_t> body_;
  int done_calls_ = 0;
  Status status_;
  std::chrono::steady_clock::time_point done_at_;
};

class HttpEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 40; ++i) {
      contents_.push_back(RandomBytes(1000 + 997 * i, 7 + i));
    }
    items_ = ::sealfs::testing::MakeStore(store_, contents_);
  }

  std::shared_ptr<HttpEngine> Engine(unsigned connections) {
    HttpEngineOptions options;
    options.max_connections = connections;
    options.limits.connect_timeout_s = 2;
    options.limits.stall_timeout_s = 2;
    Result<std::shared_ptr<HttpEngine>> engine = HttpEngine::Create(options);
    EXPECT_TRUE(engine.ok());
    return *engine;
  }

  HttpRequest Get(size_t i, Priority priority = Priority::kNormal) {
    HttpRequest r;
    r.url = server_.url() + "/" + Store::ObjectPath(items_[i].digest);
    r.max_body = items_[i].size;
    r.priority = priority;
    return r;
  }

  TempDir tmp_;
  std::string store_ = tmp_ / "store";
  std::string log_ = tmp_ / "requests.log";
  std::vector<std::vector<uint8_t>> contents_;
  std::vector<PullItem> items_;
  HttpStoreServer server_;
};

TEST(ContentRange, ParsesWhatServersSendAndRefusesTheRest) {
  HttpResponse r;
  ASSERT_TRUE(ParseContentRange("bytes 0-99/1000", &r));
  EXPECT_EQ(r.range_first, 0u);
  EXPECT_EQ(r.range_last, 99u);
  EXPECT_EQ(r.range_total, 1000);
  ASSERT_TRUE(ParseContentRange(" bytes 5-5/*\r\n", &r));
  EXPECT_EQ(r.range_total, -1);
  for (const char* bad :
       {"", "bytes", "bytes 5-4/10", "bytes 0-9/9", "items 0-1/2",
        "bytes -1-2/3", "bytes 0-1", "bytes 0 - 1/2", "bytes 1-2/x",
        "bytes 0-18446744073709551616/1", "bytes 0-1/99999999999999999999"}) {
    HttpResponse none;
    EXPECT_FALSE(ParseContentRange(bad, &none)) << bad;
  }
}

TEST_F(HttpEngineTest, ManyRequestsShareAFewConnections) {
  ASSERT_EQ(server_.Start(store_, "normal", log_), "");
  std::shared_ptr<HttpEngine> engine = Engine(3);
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  for (size_t i = 0; i < items_.size(); ++i) {
    sinks.push_back(std::make_shared<RecordingSink>());
    engine->Submit(Get(i), sinks.back());
  }
  for (size_t i = 0; i < items_.size(); ++i) {
    sinks[i]->Wait();
    ASSERT_TRUE(sinks[i]->status_.ok()) << sinks[i]->status_.ToString();
    EXPECT_EQ(sinks[i]->response_.code, 200);
    EXPECT_EQ(sinks[i]->body_, contents_[i]) << i;
    EXPECT_EQ(sinks[i]->done_calls_, 1);
  }
  const HttpEngineStats stats = engine->stats();
  EXPECT_EQ(stats.requests, items_.size());
  EXPECT_LE(stats.connections, 3u);
  EXPECT_GE(stats.connections, 1u);
  EXPECT_EQ(::sealfs::testing::MaxConcurrentRequests(log_) <= 3, true);
}

TEST_F(HttpEngineTest, RangeIsAskedForAndReported) {
  ASSERT_EQ(server_.Start(store_, "normal"), "");
  std::shared_ptr<HttpEngine> engine = Engine(2);
  HttpRequest r = Get(30);
  r.range_first = 100;
  r.range_length = 50;
  Result<HttpEngine::Reply> reply = engine->Fetch(r);
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->response.code, 206);
  EXPECT_TRUE(reply->response.has_range);
  EXPECT_EQ(reply->response.range_first, 100u);
  EXPECT_EQ(reply->response.range_last, 149u);
  EXPECT_EQ(reply->response.range_total,
            static_cast<int64_t>(contents_[30].size()));
  EXPECT_EQ(reply->body, std::vector<uint8_t>(contents_[30].begin() + 100,
                                              contents_[30].begin() + 150));
  EXPECT_EQ(reply->response.Header("content-type"), "application/octet-stream");
}

TEST_F(HttpEngineTest, BodyLimitAndStatusAreErrors) {
  ASSERT_EQ(server_.Start(store_, "normal"), "");
  std::shared_ptr<HttpEngine> engine = Engine(2);
  HttpRequest r = Get(5);
  r.max_body = contents_[5].size() - 1;
  Result<HttpEngine::Reply> reply = engine->Fetch(r);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().err(), kErrCorrupt);
  EXPECT_NE(reply.status().context().find("Content-Length"), std::string::npos)
      << reply.status().ToString();

  r = Get(5);
  r.url = server_.url() + "/objects/00/" + std::string(62, '0');
  reply = engine->Fetch(r);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().err(), ENOENT);
  // With accept_any_status the response comes back for the caller to judge.
  reply = engine->Fetch(r, /*accept_any_status=*/true);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->response.code, 404);
}

TEST_F(HttpEngineTest, UrgentRequestsOvertakeQueuedBackgroundOnes) {
  ASSERT_EQ(server_.Start(store_, "latency", "", 0, {"--delay", "0.05"}), "");
  HttpEngineOptions options;
  options.max_connections = 1;
  options.urgent_reserve = 0;
  Result<std::shared_ptr<HttpEngine>> engine = HttpEngine::Create(options);
  ASSERT_TRUE(engine.ok());
  std::vector<std::shared_ptr<RecordingSink>> background;
  for (size_t i = 0; i < 6; ++i) {
    background.push_back(std::make_shared<RecordingSink>());
    (*engine)->Submit(Get(i, Priority::kBackground), background.back());
  }
  auto urgent = std::make_shared<RecordingSink>();
  (*engine)->Submit(Get(10, Priority::kUrgent), urgent);
  // A promoted request overtakes the rest of the background queue too.
  auto promoted = std::make_shared<RecordingSink>();
  std::shared_ptr<HttpTicket> ticket =
      (*engine)->Submit(Get(11, Priority::kBackground), promoted);
  ticket->Promote(Priority::kNormal);
  for (auto& s : background) s->Wait();
  urgent->Wait();
  promoted->Wait();
  ASSERT_TRUE(urgent->status_.ok());
  int finished_before_urgent = 0;
  int finished_before_promoted = 0;
  for (auto& s : background) {
    finished_before_urgent += s->done_at_ < urgent->done_at_ ? 1 : 0;
    finished_before_promoted += s->done_at_ < promoted->done_at_ ? 1 : 0;
  }
  // At most the one already running when they were queued.
  EXPECT_LE(finished_before_urgent, 1);
  EXPECT_LE(finished_before_promoted, 1);
}

TEST_F(HttpEngineTest, UrgentRequestsRunBeyondTheLimitBackgroundFills) {
  ASSERT_EQ(server_.Start(store_, "latency", "", 0, {"--delay", "0.5"}), "");
  HttpEngineOptions options;
  options.max_connections = 1;
  options.urgent_reserve = 1;
  Result<std::shared_ptr<HttpEngine>> engine = HttpEngine::Create(options);
  ASSERT_TRUE(engine.ok());
  // Until a first response shows the server speaks HTTP/1.1, libcurl holds
  // new transfers back for the connection it has (CURLOPT_PIPEWAIT).
  ASSERT_TRUE((*engine)->Fetch(Get(9)).ok());
  std::vector<std::shared_ptr<RecordingSink>> background;
  for (size_t i = 0; i < 3; ++i) {
    background.push_back(std::make_shared<RecordingSink>());
    (*engine)->Submit(Get(i, Priority::kBackground), background.back());
  }
  // The first background request is running by now.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto urgent = std::make_shared<RecordingSink>();
  (*engine)->Submit(Get(10, Priority::kUrgent), urgent);
  for (auto& s : background) s->Wait();
  urgent->Wait();
  ASSERT_TRUE(urgent->status_.ok()) << urgent->status_.ToString();
  // The background ones ran one at a time (the limit), and the urgent one
  // beside the first of them, not after it.
  EXPECT_LT(urgent->done_at_,
            background[0]->done_at_ + std::chrono::milliseconds(300));
  EXPECT_LT(background[0]->done_at_ + std::chrono::milliseconds(400),
            background[1]->done_at_);
}

TEST_F(HttpEngineTest, CancelAndShutdownReachEverySinkOnce) {
  ASSERT_EQ(server_.Start(store_, "latency", "", 0, {"--delay", "0.2"}), "");
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  {
    std::shared_ptr<HttpEngine> engine = Engine(1);
    for (size_t i = 0; i < 5; ++i) {
      sinks.push_back(std::make_shared<RecordingSink>());
      std::shared_ptr<HttpTicket> t = engine->Submit(Get(i), sinks.back());
      if (i == 3) t->Cancel();
    }
    sinks[3]->Wait();
    EXPECT_EQ(sinks[3]->status_.err(), ECANCELED);
  }  // the engine goes away with requests running and queued
  for (auto& s : sinks) {
    EXPECT_EQ(s->done_calls_, 1);
    EXPECT_TRUE(s->status_.ok() || s->status_.err() == ECANCELED)
        << s->status_.ToString();
  }
}

TEST_F(HttpEngineTest, ServerDownIsRefusedQuickly) {
  ASSERT_EQ(server_.Start(store_, "normal"), "");
  const int port = server_.port();
  server_.Stop();
  std::shared_ptr<HttpEngine> engine = Engine(2);
  HttpRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(port) + "/images/x";
  r.max_body = 100;
  Result<HttpEngine::Reply> reply = engine->Fetch(r);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().err(), ECONNREFUSED);
}

}  // namespace
}  // namespace sealfs::remote
