// SPDX-License-Identifier: Apache-2.0
// HttpEngine: every HTTP(S) transfer of one source runs on one thread over
// one libcurl multi handle. Connections are kept alive and reused, HTTP/2
// streams are multiplexed where the server offers it (ALPN), and a bounded
// number of transfers runs at once, taken from per-priority queues; the rest
// wait in those queues, costing no thread and no connection. Callers submit
// from any thread; a request's sink is called on the engine's thread, so it
// must be quick and must not block (hand heavy work, like hashing, to
// another thread). Thread-safe.
#ifndef SEALFS_FS_REMOTE_HTTP_ENGINE_H_
#define SEALFS_FS_REMOTE_HTTP_ENGINE_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fs/remote/transfer.h"
#include "sealfs/status.h"

namespace sealfs::remote {

// What a request sends (an upload), read once, in order, on the engine's
// thread: it must not block for long. Thread-compatible.
class RequestBody {
 public:
  virtual ~RequestBody() = default;
  virtual uint64_t size() const = 0;  // bytes, sent as Content-Length
  // Fills `out` with the next bytes; returns how many (0 only at the end).
  virtual Result<size_t> Read(std::span<uint8_t> out) = 0;
};

// A body held in memory.
std::shared_ptr<RequestBody> MemoryBody(std::vector<uint8_t> bytes);

enum class HttpMethod { kGet, kHead, kPost, kPut, kPatch };

struct HttpRequest {
  std::string url;  // http:// or https:// (redirects only to those)
  HttpMethod method = HttpMethod::kGet;
  // With range_length > 0, asks for bytes [range_first, range_first +
  // range_length) with a Range header; a server may still answer 200 with
  // the whole resource, which the sink sees in OnResponse.
  uint64_t range_first = 0;
  uint64_t range_length = 0;
  std::vector<std::string> headers;   // extra request headers, "Name: value"
  std::shared_ptr<RequestBody> body;  // POST/PUT/PATCH; null: empty
  // A response body longer than this aborts the transfer with kErrCorrupt,
  // before the excess is read.
  uint64_t max_body = 0;
  bool follow_redirects = true;  // else a 3xx is the final response
  Priority priority = Priority::kNormal;
};

// The final response (after any redirects the engine followed).
struct HttpResponse {
  long code = 0;                // HTTP status
  int64_t content_length = -1;  // -1: not given
  // Content-Range "bytes FIRST-LAST/TOTAL" of a 206; total -1 for "*".
  bool has_range = false;
  uint64_t range_first = 0;
  uint64_t range_last = 0;
  int64_t range_total = -1;
  // Header fields of the final response, names in lower case, in order.
  std::vector<std::pair<std::string, std::string>> headers;

  // The value of the first field named `name` (lower case), or "".
  std::string_view Header(std::string_view name) const;
};

// Adds one response header line ("Name: value\r\n") to `out->headers`,
// the name lower-cased and the value trimmed; a line without a colon is
// ignored. False (and nothing added) once `out` holds kMaxHeaderFields.
inline constexpr size_t kMaxHeaderFields = 200;
bool AddHeaderField(std::string_view line, HttpResponse* out);

// Parses a Content-Range value ("bytes 0-99/1000", "bytes 0-99/*") into
// `out`; false if it is not of that form or LAST < FIRST.
bool ParseContentRange(std::string_view value, HttpResponse* out);

// The Status for a response that is not what the caller wanted: ENOENT for
// 404 and 410, EACCES for 401 and 403, EIO otherwise; `what` names the
// resource.
Status HttpStatusError(const HttpResponse& response, const std::string& what,
                       const std::string& url);

// Receives one transfer's outcome, on the engine's thread. The engine holds
// a reference until OnDone has returned.
class HttpSink {
 public:
  virtual ~HttpSink() = default;
  // The final response's status and headers, before any body byte. A
  // non-OK Status aborts the transfer, and OnDone then receives it.
  virtual Status OnResponse(const HttpResponse& response) = 0;
  // The next bytes of the body, in order. Non-OK aborts, as above.
  virtual Status OnBody(std::span<const uint8_t> data) = 0;
  // Called once, last: OK iff the response arrived whole and every call
  // above accepted it. Otherwise the reason, naming the URL: ETIMEDOUT,
  // ECONNREFUSED, EHOSTUNREACH, ECANCELED, EIO, or what a callback returned.
  virtual void OnDone(const Status& status) = 0;
};

// A submitted request. Promote and Cancel work from any thread, and do
// nothing once the transfer has finished.
class HttpTicket {
 public:
  virtual ~HttpTicket() = default;
  // Moves a request that is still queued to a more urgent queue. A request
  // already running keeps running; it is never pre-empted.
  virtual void Promote(Priority priority) = 0;
  // Stops the transfer, queued or running; OnDone gets ECANCELED unless it
  // was already called.
  virtual void Cancel() = 0;
};

struct HttpEngineOptions {
  FetchLimits limits;
  // Connections to one host at most. Over HTTP/1.1 that is also the number
  // of transfers running at once; over HTTP/2 each connection carries many.
  unsigned max_connections = 8;
  // HTTP/2 streams running at once, once the server has shown it speaks it.
  unsigned max_streams = 64;
  // Transfers (and connections) urgent requests may run beyond the
  // limits above, so that a reader never waits behind a background fetch.
  unsigned urgent_reserve = 2;
  // TLS: verify the server's certificate and name (off: skopeo's
  // --tls-verify=false), against the system's CAs, or against `ca_pem`
  // (PEM certificates) when it is not empty.
  bool tls_verify = true;
  std::string ca_pem;
};

struct HttpEngineStats {
  uint64_t requests = 0;      // transfers finished (any outcome)
  uint64_t body_bytes = 0;    // body bytes received
  uint64_t connections = 0;   // connections opened (the rest were reused)
  bool multiplexing = false;  // the server answered over HTTP/2
};

class HttpEngine {
 public:
  // Loads libcurl (once per process; call before starting threads). The
  // engine's thread starts with the first request.
  static Result<std::shared_ptr<HttpEngine>> Create(
      const HttpEngineOptions& options);
  // Cancels what is left (each OnDone gets ECANCELED) and joins the thread.
  ~HttpEngine();
  HttpEngine(const HttpEngine&) = delete;
  HttpEngine& operator=(const HttpEngine&) = delete;

  // Queues `request`. `sink` is called on the engine thread, perhaps
  // before Submit returns. If no thread can be started, OnDone(EAGAIN) is
  // called at once, on the caller's thread.
  std::shared_ptr<HttpTicket> Submit(HttpRequest request,
                                     std::shared_ptr<HttpSink> sink);

  // Submits and waits: the body of a 2xx response (at most
  // request.max_body bytes), or the failure. Any other status is an error
  // (HttpStatusError) unless `accept_any_status`, in which case the
  // response is returned with whatever body it had.
  struct Reply {
    HttpResponse response;
    std::vector<uint8_t> body;
  };
  Result<Reply> Fetch(HttpRequest request, bool accept_any_status = false);

  HttpEngineStats stats() const;

  // Whether the caller runs on the engine's thread (inside a sink), where
  // it must not wait for a transfer.
  bool OnEngineThread() const;

  // Opaque; named here only so that the engine's transfers can refer to it.
  struct Impl;

 private:
  explicit HttpEngine(std::shared_ptr<Impl> impl);
  // Shared with the tickets, which hold it weakly: a ticket may outlive
  // the engine, and then does nothing.
  std::shared_ptr<Impl> impl_;
};

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_HTTP_ENGINE_H_
