// SPDX-License-Identifier: Apache-2.0
// HttpEngine: one thread, one curl multi handle, queues by priority. The
// thread starts queued transfers while slots are free, drives the multi
// handle, and finishes transfers; everything a sink sees happens there.
#include "fs/remote/http_engine.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "fs/remote/curl_api.h"

namespace sealfs::remote {
namespace {

constexpr int kPollMs = 1000;
// libcurl's receive buffer: bigger means fewer, larger OnBody calls.
constexpr long kReceiveBuffer = 128 * 1024;

enum class State { kQueued, kRunning, kDone };

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' ||
                        s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::string_view HttpResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

bool AddHeaderField(std::string_view line, HttpResponse* out) {
  // A hostile server may send endless fields; past this many the response
  // is refused.
  if (out->headers.size() >= kMaxHeaderFields) return false;
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    out->headers.emplace_back(Lower(Trim(line.substr(0, colon))),
                              std::string(Trim(line.substr(colon + 1))));
  }
  return true;
}

bool ParseContentRange(std::string_view value, HttpResponse* out) {
  value = Trim(value);
  if (!value.starts_with("bytes ")) return false;
  value.remove_prefix(6);
  const size_t dash = value.find('-');
  const size_t slash = value.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos ||
      slash < dash) {
    return false;
  }
  uint64_t first = 0;
  uint64_t last = 0;
  if (!ParseU64(value.substr(0, dash), &first) ||
      !ParseU64(value.substr(dash + 1, slash - dash - 1), &last) ||
      last < first) {
    return false;
  }
  const std::string_view total = value.substr(slash + 1);
  int64_t total_value = -1;
  if (total != "*") {
    uint64_t t = 0;
    if (!ParseU64(total, &t) || t <= last ||
        t > static_cast<uint64_t>(INT64_MAX)) {
      return false;
    }
    total_value = static_cast<int64_t>(t);
  }
  out->has_range = true;
  out->range_first = first;
  out->range_last = last;
  out->range_total = total_value;
  return true;
}

namespace {

class MemoryRequestBody : public RequestBody {
 public:
  explicit MemoryRequestBody(std::vector<uint8_t> bytes)
      : bytes_(std::move(bytes)) {}
  uint64_t size() const override { return bytes_.size(); }
  Result<size_t> Read(std::span<uint8_t> out) override {
    const size_t n = std::min(out.size(), bytes_.size() - pos_);
    std::copy_n(bytes_.begin() + static_cast<ptrdiff_t>(pos_), n, out.begin());
    pos_ += n;
    return n;
  }

 private:
  const std::vector<uint8_t> bytes_;
  size_t pos_ = 0;
};

}  // namespace

std::shared_ptr<RequestBody> MemoryBody(std::vector<uint8_t> bytes) {
  return std::make_shared<MemoryRequestBody>(std::move(bytes));
}

Status HttpStatusError(const HttpResponse& response, const std::string& what,
                       const std::string& url) {
  const std::string code = " (HTTP " + std::to_string(response.code) + ")";
  switch (response.code) {
    case 404:
    case 410:
      return Status::FromErrno(ENOENT, what + " not found at " + url + code);
    case 401:
    case 403:
      return Status::FromErrno(EACCES,
                               what + ": access denied by " + url + code);
    default:
      return Status::FromErrno(EIO, what + " not served by " + url + code);
  }
}

namespace {

class Transfer;

}  // namespace

struct HttpEngine::Impl : std::enable_shared_from_this<HttpEngine::Impl> {
  explicit Impl(const HttpEngineOptions& o) : options(o) {}
  ~Impl();

  void Wake() { Curl().multi_wakeup(multi); }
  void Loop();
  // Under mu: moves queued transfers to `out` while slots are free.
  void TakeStartable(std::vector<std::shared_ptr<Transfer>>* out);
  void Start(const std::shared_ptr<Transfer>& t);
  // Removes a running transfer and reports `status` to its sink.
  void Finish(const std::shared_ptr<Transfer>& t, const Status& status);

  const HttpEngineOptions options;
  CURLM* multi = nullptr;

  std::mutex mu;  // guards the members down to `thread`, and Transfer::state
  std::array<std::deque<std::pair<std::shared_ptr<Transfer>, Priority>>,
             kPriorityLevels>
      queued;
  std::vector<std::shared_ptr<Transfer>> cancels;  // to stop, by the thread
  unsigned running = 0;                            // transfers started
  bool stop = false;
  bool started = false;
  std::thread thread;

  // Engine thread only.
  std::unordered_map<CURL*, std::shared_ptr<Transfer>> active;
  std::vector<CURL*> idle_handles;

  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> body_bytes{0};
  std::atomic<uint64_t> connections{0};
  std::atomic<bool> multiplexing{false};
};

namespace {

class Transfer : public HttpTicket {
 public:
  Transfer(std::weak_ptr<HttpEngine::Impl> engine, HttpRequest request,
           std::shared_ptr<HttpSink> sink)
      : priority_(request.priority),
        engine_(std::move(engine)),
        request_(std::move(request)),
        sink_(std::move(sink)) {}
  ~Transfer() override {
    if (headers_ != nullptr) Curl().slist_free_all(headers_);
  }

  void Promote(Priority priority) override {
    std::shared_ptr<HttpEngine::Impl> engine = engine_.lock();
    if (engine == nullptr) return;
    {
      std::lock_guard lock(engine->mu);
      if (state_ != State::kQueued || priority >= priority_) return;
      priority_ = priority;
      // The entry in the old queue is skipped when it comes up.
      engine->queued[static_cast<int>(priority)].emplace_back(
          std::static_pointer_cast<Transfer>(self_.lock()), priority);
    }
    engine->Wake();
  }

  void Cancel() override {
    std::shared_ptr<HttpEngine::Impl> engine = engine_.lock();
    if (engine == nullptr) return;
    {
      std::lock_guard lock(engine->mu);
      if (state_ == State::kDone || cancel_requested_) return;
      cancel_requested_ = true;
      engine->cancels.push_back(
          std::static_pointer_cast<Transfer>(self_.lock()));
    }
    engine->Wake();
  }

  // Sets up `easy` for this request. Engine thread.
  Status Setup(CURL* easy, const HttpEngineOptions& options);
  // The outcome of a finished transfer whose libcurl result is `result`.
  Status Outcome(CURLcode result) const;

  const HttpRequest& request() const { return request_; }
  HttpSink& sink() { return *sink_; }
  CURL* easy() const { return easy_; }
  uint64_t body_bytes() const { return body_; }

  // Guarded by the engine's mu.
  State state_ = State::kQueued;
  Priority priority_;
  bool cancel_requested_ = false;
  std::weak_ptr<HttpTicket> self_;

 private:
  static size_t OnHeader(char* data, size_t size, size_t n, void* self) {
    return static_cast<Transfer*>(self)->Header({data, size * n});
  }
  static size_t OnWrite(char* data, size_t size, size_t n, void* self) {
    return static_cast<Transfer*>(self)->Write(
        {reinterpret_cast<const uint8_t*>(data), size * n});
  }
  static size_t OnRead(char* data, size_t size, size_t n, void* self) {
    return static_cast<Transfer*>(self)->ReadBody(
        {reinterpret_cast<uint8_t*>(data), size * n});
  }
  size_t ReadBody(std::span<uint8_t> out);
  size_t Header(std::string_view line);
  size_t Write(std::span<const uint8_t> data);

  const std::weak_ptr<HttpEngine::Impl> engine_;
  const HttpRequest request_;
  const std::shared_ptr<HttpSink> sink_;

  // Engine thread only.
  CURL* easy_ = nullptr;
  curl_slist* headers_ = nullptr;
  char errbuf_[CURL_ERROR_SIZE] = {};
  HttpResponse response_;
  bool delivered_ = false;  // OnResponse called
  Status abort_;            // why a callback stopped the transfer
  uint64_t body_ = 0;
};

Status Transfer::Setup(CURL* e, const HttpEngineOptions& options) {
  const CurlApi& curl = Curl();
  const FetchLimits& limits = options.limits;
  easy_ = e;
  curl.easy_reset(e);
  curl.easy_setopt(e, CURLOPT_PRIVATE, this);
  curl.easy_setopt(e, CURLOPT_URL, request_.url.c_str());
  // Only HTTP(S), also after a redirect: never file://, ftp://, ...
  curl.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl.easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl.easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
  curl.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM
  curl.easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf_);
  curl.easy_setopt(e, CURLOPT_HTTP_VERSION,
                   static_cast<long>(CURL_HTTP_VERSION_2TLS));
  // Over https, wait for a connection that can multiplex (HTTP/2, by
  // ALPN) rather than open another. Not over http://, which is HTTP/1.1
  // here: libcurl would hold every other transfer until the first
  // response, so a server that never answers would time them out one
  // after another instead of all at once.
  if (request_.url.starts_with("https://")) {
    curl.easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  }
  curl.easy_setopt(e, CURLOPT_BUFFERSIZE, kReceiveBuffer);
  curl.easy_setopt(e, CURLOPT_CONNECTTIMEOUT,
                   static_cast<long>(limits.connect_timeout_s));
  curl.easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, kLowSpeedBytes);
  curl.easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(limits.stall_timeout_s));
  curl.easy_setopt(e, CURLOPT_TIMEOUT,
                   static_cast<long>(limits.total_timeout_s));
  curl.easy_setopt(e, CURLOPT_USERAGENT, "sealfs");
  curl.easy_setopt(e, CURLOPT_HEADERFUNCTION, &Transfer::OnHeader);
  curl.easy_setopt(e, CURLOPT_HEADERDATA, this);
  curl.easy_setopt(e, CURLOPT_WRITEFUNCTION, &Transfer::OnWrite);
  curl.easy_setopt(e, CURLOPT_WRITEDATA, this);
  // The body's limit is checked in Header() and Write(), after the sink
  // has seen the response and can say what is wrong with it.
  switch (request_.method) {
    case HttpMethod::kGet:
      break;
    case HttpMethod::kHead:
      curl.easy_setopt(e, CURLOPT_NOBODY, 1L);
      break;
    case HttpMethod::kPost:
    case HttpMethod::kPut:
    case HttpMethod::kPatch:
      // UPLOAD sends PUT with a read callback; the method name is then
      // replaced for POST and PATCH, which keeps the streaming body.
      curl.easy_setopt(e, CURLOPT_UPLOAD, 1L);
      curl.easy_setopt(e, CURLOPT_READFUNCTION, &Transfer::OnRead);
      curl.easy_setopt(e, CURLOPT_READDATA, this);
      curl.easy_setopt(
          e, CURLOPT_INFILESIZE_LARGE,
          static_cast<curl_off_t>(request_.body ? request_.body->size() : 0));
      if (request_.method != HttpMethod::kPut) {
        curl.easy_setopt(
            e, CURLOPT_CUSTOMREQUEST,
            request_.method == HttpMethod::kPost ? "POST" : "PATCH");
      }
      break;
  }
  if (!request_.follow_redirects) {
    curl.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  }
  if (!options.tls_verify) {
    curl.easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl.easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (!options.ca_pem.empty()) {
    // libcurl copies the blob (CURL_BLOB_COPY).
    curl_blob blob{const_cast<char*>(options.ca_pem.data()),
                   options.ca_pem.size(), CURL_BLOB_COPY};
    curl.easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
  }
  std::vector<std::string> lines = request_.headers;
  // Expect: 100-continue costs a round trip per upload for nothing here.
  if (request_.body != nullptr) lines.push_back("Expect:");
  if (request_.range_length > 0) {
    lines.push_back(
        "Range: bytes=" + std::to_string(request_.range_first) + "-" +
        std::to_string(request_.range_first + request_.range_length - 1));
  }
  for (const std::string& line : lines) {
    curl_slist* next = curl.slist_append(headers_, line.c_str());
    if (next == nullptr) {
      return Status::FromErrno(ENOMEM, request_.url + ": request headers");
    }
    headers_ = next;
  }
  if (headers_ != nullptr) curl.easy_setopt(e, CURLOPT_HTTPHEADER, headers_);
  return {};
}

size_t Transfer::Header(std::string_view line) {
  if (line.starts_with("HTTP/")) {  // a new response (after a redirect)
    response_ = HttpResponse();
    return line.size();
  }
  if (line != "\r\n" && line != "\n") {
    if (!AddHeaderField(line, &response_)) {
      abort_ = Status::FromErrno(EIO, request_.url + ": more than " +
                                          std::to_string(kMaxHeaderFields) +
                                          " header fields");
      return 0;
    }
    return line.size();
  }
  // The end of one response's header block.
  long code = 0;
  Curl().easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &code);
  response_.code = code;
  if (code >= 100 && code < 200) return line.size();  // interim
  if (request_.follow_redirects && code >= 300 && code < 400 &&
      !response_.Header("location").empty()) {
    return line.size();  // libcurl follows it; the next response counts
  }
  curl_off_t length = -1;
  Curl().easy_getinfo(easy_, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  response_.content_length = length;
  if (code == 206) {
    const std::string_view range = response_.Header("content-range");
    if (!ParseContentRange(range, &response_)) {
      abort_ = Status::Corrupt(request_.url + ": bad Content-Range '" +
                               std::string(range.substr(0, 80)) + "'");
      return 0;
    }
  }
  delivered_ = true;
  abort_ = sink_->OnResponse(response_);
  if (abort_.ok() && request_.method != HttpMethod::kHead && length >= 0 &&
      static_cast<uint64_t>(length) > request_.max_body) {
    abort_ = Status::Corrupt(request_.url + ": " + std::to_string(length) +
                             " bytes (Content-Length), more than the limit " +
                             "of " + std::to_string(request_.max_body));
  }
  return abort_.ok() ? line.size() : 0;
}

size_t Transfer::ReadBody(std::span<uint8_t> out) {
  if (request_.body == nullptr) return 0;
  Result<size_t> got = request_.body->Read(out);
  if (!got.ok()) {
    abort_ = got.status().WithPrefix(request_.url + ": request body");
    return CURL_READFUNC_ABORT;
  }
  return *got;
}

size_t Transfer::Write(std::span<const uint8_t> data) {
  if (!delivered_) {
    abort_ = Status::FromErrno(EIO, request_.url + ": body without a response");
    return 0;
  }
  if (data.size() > request_.max_body - body_) {
    abort_ = Status::Corrupt(request_.url + ": body longer than " +
                             std::to_string(request_.max_body) + " bytes");
    return 0;  // aborts the transfer: nothing past the limit is read
  }
  body_ += data.size();
  abort_ = sink_->OnBody(data);
  return abort_.ok() ? data.size() : 0;
}

Status Transfer::Outcome(CURLcode result) const {
  if (!abort_.ok()) return abort_;
  const std::string from = request_.url + ": ";
  if (result == CURLE_OK) {
    if (!delivered_) return Status::FromErrno(EIO, from + "no response");
    return {};
  }
  const std::string detail = errbuf_[0] != '\0'
                                 ? std::string(errbuf_)
                                 : std::string(Curl().easy_strerror(result));
  switch (result) {
    case CURLE_OPERATION_TIMEDOUT:
      return Status::FromErrno(ETIMEDOUT, from + "timed out (" + detail + ")");
    case CURLE_COULDNT_CONNECT:
      return Status::FromErrno(ECONNREFUSED, from + detail);
    case CURLE_COULDNT_RESOLVE_HOST:
      return Status::FromErrno(EHOSTUNREACH, from + detail);
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Status::FromErrno(EPROTONOSUPPORT, from + detail);
    case CURLE_PARTIAL_FILE:
      return Status::FromErrno(EIO, from + "connection closed after " +
                                        std::to_string(body_) +
                                        " body bytes (" + detail + ")");
    default:
      return Status::FromErrno(EIO, from + detail);
  }
}

// Collects one body for HttpEngine::Fetch.
class CollectSink : public HttpSink {
 public:
  explicit CollectSink(bool accept_any_status, std::string url)
      : accept_any_(accept_any_status), url_(std::move(url)) {}

  Status OnResponse(const HttpResponse& response) override {
    reply_.response = response;
    if (!accept_any_ && (response.code < 200 || response.code >= 300)) {
      return HttpStatusError(response, "resource", url_);
    }
    return {};
  }
  Status OnBody(std::span<const uint8_t> data) override {
    reply_.body.insert(reply_.body.end(), data.begin(), data.end());
    return {};
  }
  void OnDone(const Status& status) override {
    if (status.ok()) {
      done_.set_value(std::move(reply_));
    } else {
      done_.set_value(status);
    }
  }
  std::future<Result<HttpEngine::Reply>> future() { return done_.get_future(); }

 private:
  const bool accept_any_;
  const std::string url_;
  HttpEngine::Reply reply_;
  std::promise<Result<HttpEngine::Reply>> done_;
};

}  // namespace

HttpEngine::Impl::~Impl() {
  for (CURL* e : idle_handles) Curl().easy_cleanup(e);
  if (multi != nullptr) Curl().multi_cleanup(multi);
}

void HttpEngine::Impl::TakeStartable(
    std::vector<std::shared_ptr<Transfer>>* out) {
  const unsigned limit =
      std::max(1u, multiplexing.load(std::memory_order_relaxed)
                       ? std::max(options.max_streams, options.max_connections)
                       : options.max_connections);
  for (int level = 0; level < kPriorityLevels; ++level) {
    // Readers may run `urgent_reserve` transfers beyond the limit, so a
    // background fetch can use the whole limit, as a pull does, and a
    // reader still never waits behind it for a connection.
    const unsigned cap = level == static_cast<int>(Priority::kUrgent)
                             ? limit + options.urgent_reserve
                             : limit;
    auto& queue = queued[level];
    while (!queue.empty() && running < cap) {
      auto [t, priority] = std::move(queue.front());
      queue.pop_front();
      // Stale: promoted (queued again elsewhere), cancelled or done.
      if (t->state_ != State::kQueued || t->priority_ != priority) continue;
      t->state_ = State::kRunning;
      ++running;
      out->push_back(std::move(t));
    }
  }
}

void HttpEngine::Impl::Start(const std::shared_ptr<Transfer>& t) {
  CURL* easy = nullptr;
  if (!idle_handles.empty()) {
    easy = idle_handles.back();
    idle_handles.pop_back();
  } else {
    easy = Curl().easy_init();
  }
  Status st = easy == nullptr ? Status::FromErrno(ENOMEM, "libcurl handle")
                              : t->Setup(easy, options);
  if (st.ok()) {
    if (CURLMcode mc = Curl().multi_add_handle(multi, easy); mc != CURLM_OK) {
      st = Status::FromErrno(
          EIO, t->request().url + ": libcurl: " + Curl().multi_strerror(mc));
    }
  }
  if (!st.ok()) {
    if (easy != nullptr) idle_handles.push_back(easy);
    {
      std::lock_guard lock(mu);
      t->state_ = State::kDone;
      --running;
    }
    t->sink().OnDone(st);
    return;
  }
  active.emplace(easy, t);
}

void HttpEngine::Impl::Finish(const std::shared_ptr<Transfer>& t,
                              const Status& status) {
  CURL* easy = t->easy();
  Curl().multi_remove_handle(multi, easy);
  active.erase(easy);
  long connects = 0;
  if (Curl().easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK &&
      connects > 0) {
    connections.fetch_add(static_cast<uint64_t>(connects),
                          std::memory_order_relaxed);
  }
  long version = 0;
  if (Curl().easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version) == CURLE_OK &&
      version == CURL_HTTP_VERSION_2_0) {
    multiplexing.store(true, std::memory_order_relaxed);
  }
  idle_handles.push_back(easy);
  requests.fetch_add(1, std::memory_order_relaxed);
  body_bytes.fetch_add(t->body_bytes(), std::memory_order_relaxed);
  {
    std::lock_guard lock(mu);
    t->state_ = State::kDone;
    --running;
  }
  t->sink().OnDone(status);
}

void HttpEngine::Impl::Loop() {
  std::vector<std::shared_ptr<Transfer>> starting;
  std::vector<std::shared_ptr<Transfer>> stopping;
  for (;;) {
    bool quit = false;
    {
      std::lock_guard lock(mu);
      stopping = std::move(cancels);
      cancels.clear();
      quit = stop;
      if (!quit) TakeStartable(&starting);
    }
    for (const std::shared_ptr<Transfer>& t : stopping) {
      const Status cancelled =
          Status::FromErrno(ECANCELED, t->request().url + ": cancelled");
      State state;
      {
        std::lock_guard lock(mu);
        state = t->state_;
        if (state == State::kQueued) t->state_ = State::kDone;
      }
      if (state == State::kRunning) Finish(t, cancelled);
      if (state == State::kQueued) t->sink().OnDone(cancelled);
    }
    stopping.clear();
    if (quit) break;
    for (const std::shared_ptr<Transfer>& t : starting) Start(t);
    starting.clear();

    int still_running = 0;
    CURLMcode mc = Curl().multi_perform(multi, &still_running);
    int left = 0;
    bool finished = false;
    while (CURLMsg* msg = Curl().multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      auto it = active.find(msg->easy_handle);
      if (it == active.end()) continue;
      std::shared_ptr<Transfer> t = it->second;
      Finish(t, t->Outcome(msg->data.result));
      finished = true;
    }
    // A finished transfer freed a slot: start the next before waiting.
    if (mc == CURLM_OK && finished) continue;
    if (mc == CURLM_OK) {
      // Waits for a socket, libcurl's next time-out, or a Wake().
      mc = Curl().multi_poll(multi, nullptr, 0, kPollMs, nullptr);
    }
    if (mc != CURLM_OK) {
      // The multi handle itself failed: nothing running can finish.
      const Status broken = Status::FromErrno(
          EIO, std::string("libcurl: ") + Curl().multi_strerror(mc));
      std::vector<std::shared_ptr<Transfer>> all;
      for (auto& [easy, t] : active) all.push_back(t);
      for (const std::shared_ptr<Transfer>& t : all) Finish(t, broken);
    }
  }
  // Stopping: every transfer left gets ECANCELED.
  std::vector<std::shared_ptr<Transfer>> all;
  for (auto& [easy, t] : active) all.push_back(t);
  for (const std::shared_ptr<Transfer>& t : all) {
    Finish(t, Status::FromErrno(ECANCELED, t->request().url + ": cancelled"));
  }
  std::vector<std::shared_ptr<Transfer>> waiting;
  {
    std::lock_guard lock(mu);
    for (auto& queue : queued) {
      for (auto& [t, priority] : queue) {
        if (t->state_ != State::kQueued) continue;
        t->state_ = State::kDone;
        waiting.push_back(t);
      }
      queue.clear();
    }
  }
  for (const std::shared_ptr<Transfer>& t : waiting) {
    t->sink().OnDone(
        Status::FromErrno(ECANCELED, t->request().url + ": cancelled"));
  }
}

HttpEngine::HttpEngine(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpEngine::~HttpEngine() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop = true;
  }
  if (!impl_->thread.joinable()) return;
  impl_->Wake();
  if (impl_->thread.get_id() == std::this_thread::get_id()) {
    // The last owner let go inside a sink, on the engine's own thread: the
    // loop ends once the sink returns, holding Impl until then.
    impl_->thread.detach();
  } else {
    impl_->thread.join();
  }
}

Result<std::shared_ptr<HttpEngine>> HttpEngine::Create(
    const HttpEngineOptions& options) {
  SEALFS_RETURN_IF_ERROR(LoadCurl().status());
  auto impl = std::make_shared<Impl>(options);
  impl->multi = Curl().multi_init();
  if (impl->multi == nullptr) {
    return Status::FromErrno(ENOMEM, "libcurl: cannot create a multi handle");
  }
  const CurlApi& curl = Curl();
  curl.multi_setopt(impl->multi, CURLMOPT_PIPELINING,
                    static_cast<long>(CURLPIPE_MULTIPLEX));
  const long connections = static_cast<long>(
      std::max(1u, options.max_connections) + options.urgent_reserve);
  curl.multi_setopt(impl->multi, CURLMOPT_MAX_HOST_CONNECTIONS, connections);
  // Idle connections kept for reuse.
  curl.multi_setopt(impl->multi, CURLMOPT_MAXCONNECTS, connections);
  return std::shared_ptr<HttpEngine>(new HttpEngine(std::move(impl)));
}

std::shared_ptr<HttpTicket> HttpEngine::Submit(HttpRequest request,
                                               std::shared_ptr<HttpSink> sink) {
  const Priority priority = request.priority;
  auto t = std::make_shared<Transfer>(impl_, std::move(request), sink);
  t->self_ = t;
  Status refused;
  bool wake = false;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stop) {
      refused = Status::FromErrno(ECANCELED, "HTTP engine stopped");
    } else {
      if (!impl_->started) {
        try {
          impl_->thread = std::thread([impl = impl_] { impl->Loop(); });
          impl_->started = true;
        } catch (const std::system_error& e) {
          refused = Status::FromErrno(EAGAIN,
                                      std::string("HTTP thread: ") + e.what());
        }
      }
      if (refused.ok()) {
        // A queue that already held something has a wake-up pending, or
        // the engine is at its limit and will look again when a transfer
        // ends: waking it for every request would cost a loop each.
        auto& queue = impl_->queued[static_cast<int>(priority)];
        wake = queue.empty();
        queue.emplace_back(t, priority);
      }
    }
  }
  if (!refused.ok()) {
    t->state_ = State::kDone;
    sink->OnDone(refused.WithPrefix(t->request().url));
    return t;
  }
  if (wake) impl_->Wake();
  return t;
}

Result<HttpEngine::Reply> HttpEngine::Fetch(HttpRequest request,
                                            bool accept_any_status) {
  auto sink = std::make_shared<CollectSink>(accept_any_status, request.url);
  std::future<Result<Reply>> done = sink->future();
  Submit(std::move(request), sink);
  return done.get();
}

bool HttpEngine::OnEngineThread() const {
  return impl_->thread.get_id() == std::this_thread::get_id();
}

HttpEngineStats HttpEngine::stats() const {
  HttpEngineStats s;
  s.requests = impl_->requests.load(std::memory_order_relaxed);
  s.body_bytes = impl_->body_bytes.load(std::memory_order_relaxed);
  s.connections = impl_->connections.load(std::memory_order_relaxed);
  s.multiplexing = impl_->multiplexing.load(std::memory_order_relaxed);
  return s;
}

}  // namespace sealfs::remote
