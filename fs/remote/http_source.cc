// SPDX-License-Identifier: Apache-2.0
// HttpSource: a pull-style stream over libcurl's multi interface. The write
// callback fills a bounded buffer (pausing the transfer when it is full) and
// Read() drains it, so AddFromStream hashes bytes as they arrive without the
// whole object ever being held in memory.
#include "fs/remote/http_source.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

#include "fs/core/store_io.h"
#include "fs/remote/curl_api.h"
#include "sealfs/store.h"

namespace sealfs::remote {
namespace {

// Unconsumed bytes above which the transfer is paused until Read() drains.
constexpr size_t kBufferHigh = size_t{1} << 20;
constexpr int kPollMs = 1000;

// One easy handle with its own multi handle (whose connection cache keeps
// the connection to the server alive between transfers).
struct Conn {
  Conn() : multi(Curl().multi_init()), easy(Curl().easy_init()) {}
  ~Conn() {
    if (easy != nullptr) Curl().easy_cleanup(easy);
    if (multi != nullptr) Curl().multi_cleanup(multi);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  CURLM* multi;
  CURL* easy;
  char errbuf[CURL_ERROR_SIZE] = {};
};

class HttpSource;

// One GET. `exact`: the body must be exactly `limit` bytes (an object);
// otherwise at most `limit` bytes (an image).
class Transfer : public ObjectStream {
 public:
  Transfer(HttpSource* source, std::unique_ptr<Conn> conn, std::string url,
           std::string what, uint64_t limit, bool exact)
      : source_(source),
        conn_(std::move(conn)),
        url_(std::move(url)),
        what_(std::move(what)),
        limit_(limit),
        exact_(exact) {}
  ~Transfer() override;

  // Sends the request and waits for the response headers: an HTTP error or
  // a Content-Length other than the expected size fails here, before any
  // body byte is read.
  Status Start(const FetchLimits& limits);
  Result<size_t> Read(std::span<uint8_t> out) override;
  // Reads the rest of the body (for an image).
  Result<std::vector<uint8_t>> ReadAll();

 private:
  static size_t OnHeader(char* data, size_t size, size_t n, void* self);
  static size_t OnWrite(char* data, size_t size, size_t n, void* self);
  size_t Header(std::string_view line);
  size_t Write(const char* data, size_t n);
  // One wait-and-perform step of the transfer.
  Status Step();
  // The Status for a finished transfer that failed.
  Status Failure() const;

  HttpSource* source_;
  std::unique_ptr<Conn> conn_;
  const std::string url_;
  const std::string what_;
  const uint64_t limit_;
  const bool exact_;
  bool added_ = false;
  bool headers_done_ = false;
  bool paused_ = false;
  bool done_ = false;
  CURLcode result_ = CURLE_OK;
  long http_code_ = 0;
  Status abort_;  // why a callback stopped the transfer
  std::vector<uint8_t> buffer_;
  size_t buffer_pos_ = 0;
  uint64_t received_ = 0;   // body bytes accepted into buffer_
  uint64_t delivered_ = 0;  // bytes handed out by Read()
};

class HttpSource : public ObjectSource {
 public:
  HttpSource(std::string url, const FetchLimits& limits)
      : location_(std::move(url)), limits_(limits) {
    base_ = location_;
    while (base_.size() > 1 && base_.back() == '/') base_.pop_back();
  }

  Result<std::unique_ptr<ObjectStream>> OpenObject(const Digest& digest,
                                                   uint64_t size) override {
    const std::string url = base_ + "/" + Store::ObjectPath(digest);
    SEALFS_ASSIGN_OR_RETURN(std::unique_ptr<Conn> conn, Take());
    auto transfer = std::make_unique<Transfer>(
        this, std::move(conn), url, "object " + digest.ToString(), size,
        /*exact=*/true);
    SEALFS_RETURN_IF_ERROR(transfer->Start(limits_));
    return std::unique_ptr<ObjectStream>(std::move(transfer));
  }

  Result<std::vector<uint8_t>> ReadImage(const std::string& name) override {
    const std::string url = base_ + "/images/" + name;
    SEALFS_ASSIGN_OR_RETURN(std::unique_ptr<Conn> conn, Take());
    Transfer transfer(this, std::move(conn), url, "image " + name,
                      kMaxImageBytes, /*exact=*/false);
    SEALFS_RETURN_IF_ERROR(transfer.Start(limits_));
    return transfer.ReadAll();
  }

  const std::string& location() const override { return location_; }

  Result<std::unique_ptr<Conn>> Take() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        std::unique_ptr<Conn> conn = std::move(idle_.back());
        idle_.pop_back();
        return conn;
      }
    }
    auto conn = std::make_unique<Conn>();
    if (conn->multi == nullptr || conn->easy == nullptr) {
      return Status::FromErrno(ENOMEM, "libcurl: cannot create a handle");
    }
    return conn;
  }

  void Give(std::unique_ptr<Conn> conn) {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(conn));
  }

 private:
  std::string location_;
  std::string base_;  // location_ without trailing slashes
  FetchLimits limits_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Conn>> idle_;  // guarded by mu_
};

Transfer::~Transfer() {
  if (added_) Curl().multi_remove_handle(conn_->multi, conn_->easy);
  // An aborted transfer's connection is closed by libcurl; the handles are
  // still good for the next request.
  if (conn_ != nullptr) source_->Give(std::move(conn_));
}

size_t Transfer::OnHeader(char* data, size_t size, size_t n, void* self) {
  return static_cast<Transfer*>(self)->Header({data, size * n});
}

size_t Transfer::OnWrite(char* data, size_t size, size_t n, void* self) {
  return static_cast<Transfer*>(self)->Write(data, size * n);
}

size_t Transfer::Header(std::string_view line) {
  if (line != "\r\n" && line != "\n") return line.size();
  // End of one response's headers.
  long code = 0;
  Curl().easy_getinfo(conn_->easy, CURLINFO_RESPONSE_CODE, &code);
  http_code_ = code;
  if (code >= 300 && code < 400) return line.size();  // redirect followed
  if (code != 200) {
    const int err = (code == 404 || code == 410) ? ENOENT : EIO;
    abort_ = Status::FromErrno(
        err, what_ + (err == ENOENT ? " not found at " : " not served by ") +
                 url_ + " (HTTP " + std::to_string(code) + ")");
    return 0;
  }
  curl_off_t length = -1;
  Curl().easy_getinfo(conn_->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  if (length >= 0 && (exact_ ? static_cast<uint64_t>(length) != limit_
                             : static_cast<uint64_t>(length) > limit_)) {
    abort_ =
        Status::Corrupt(what_ + ": " + url_ + " serves " +
                        std::to_string(length) + " bytes (Content-Length), " +
                        (exact_ ? "the manifest says " : "the limit is ") +
                        std::to_string(limit_));
    return 0;
  }
  headers_done_ = true;
  return line.size();
}

size_t Transfer::Write(const char* data, size_t n) {
  if (n > limit_ - received_) {
    abort_ = Status::Corrupt(what_ + ": " + url_ + " sent more than " +
                             std::to_string(limit_) + " bytes");
    return 0;  // aborts the transfer: nothing past the limit is read
  }
  if (buffer_.size() - buffer_pos_ >= kBufferHigh) {
    paused_ = true;
    return CURL_WRITEFUNC_PAUSE;  // delivered again on unpause
  }
  if (buffer_pos_ == buffer_.size()) {
    buffer_.clear();
    buffer_pos_ = 0;
  }
  buffer_.insert(buffer_.end(), data, data + n);
  received_ += n;
  return n;
}

Status Transfer::Start(const FetchLimits& limits) {
  const CurlApi& curl = Curl();
  CURL* e = conn_->easy;
  curl.easy_reset(e);
  conn_->errbuf[0] = '\0';
  curl.easy_setopt(e, CURLOPT_URL, url_.c_str());
  // Only HTTP(S), also after a redirect: never file://, ftp://, ...
  curl.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl.easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl.easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
  curl.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM
  curl.easy_setopt(e, CURLOPT_ERRORBUFFER, conn_->errbuf);
  curl.easy_setopt(e, CURLOPT_CONNECTTIMEOUT,
                   static_cast<long>(limits.connect_timeout_s));
  curl.easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, kLowSpeedBytes);
  curl.easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(limits.stall_timeout_s));
  curl.easy_setopt(e, CURLOPT_TIMEOUT,
                   static_cast<long>(limits.total_timeout_s));
  // For an object, a wrong Content-Length gets our own message (Header());
  // for an image, libcurl refuses an oversized one before the body.
  if (!exact_) {
    curl.easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(limit_));
  }
  curl.easy_setopt(e, CURLOPT_HEADERFUNCTION, &Transfer::OnHeader);
  curl.easy_setopt(e, CURLOPT_HEADERDATA, this);
  curl.easy_setopt(e, CURLOPT_WRITEFUNCTION, &Transfer::OnWrite);
  curl.easy_setopt(e, CURLOPT_WRITEDATA, this);
  curl.easy_setopt(e, CURLOPT_USERAGENT, "sealfs");
  if (CURLMcode mc = curl.multi_add_handle(conn_->multi, e); mc != CURLM_OK) {
    return Status::FromErrno(EIO,
                             what_ + ": libcurl: " + curl.multi_strerror(mc));
  }
  added_ = true;
  while (!headers_done_ && !done_) SEALFS_RETURN_IF_ERROR(Step());
  if (done_ && result_ != CURLE_OK) return Failure();
  return {};
}

Status Transfer::Step() {
  int running = 0;
  CURLMcode mc = Curl().multi_perform(conn_->multi, &running);
  if (mc == CURLM_OK && running > 0) {
    // Waits for the socket, but never past libcurl's own next time-out.
    mc = Curl().multi_poll(conn_->multi, nullptr, 0, kPollMs, nullptr);
  }
  if (mc != CURLM_OK) {
    return Status::FromErrno(EIO,
                             what_ + ": libcurl: " + Curl().multi_strerror(mc));
  }
  int queued = 0;
  while (CURLMsg* msg = Curl().multi_info_read(conn_->multi, &queued)) {
    if (msg->msg == CURLMSG_DONE && msg->easy_handle == conn_->easy) {
      done_ = true;
      result_ = msg->data.result;
    }
  }
  return {};
}

Status Transfer::Failure() const {
  if (!abort_.ok()) return abort_;
  std::string detail = conn_->errbuf[0] != '\0'
                           ? std::string(conn_->errbuf)
                           : std::string(Curl().easy_strerror(result_));
  const std::string from = what_ + " from " + url_ + ": ";
  switch (result_) {
    case CURLE_OPERATION_TIMEDOUT:
      return Status::FromErrno(ETIMEDOUT, from + "timed out (" + detail + ")");
    case CURLE_COULDNT_CONNECT:
      return Status::FromErrno(ECONNREFUSED, from + detail);
    case CURLE_COULDNT_RESOLVE_HOST:
      return Status::FromErrno(EHOSTUNREACH, from + detail);
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Status::FromErrno(EPROTONOSUPPORT, from + detail);
    case CURLE_FILESIZE_EXCEEDED:
      return Status::Corrupt(from + "larger than " + std::to_string(limit_) +
                             " bytes");
    case CURLE_PARTIAL_FILE:
      return Status::FromErrno(EIO, from + "connection closed after " +
                                        std::to_string(received_) + " bytes (" +
                                        detail + ")");
    default:
      return Status::FromErrno(EIO, from + detail);
  }
}

Result<size_t> Transfer::Read(std::span<uint8_t> out) {
  for (;;) {
    if (buffer_pos_ < buffer_.size()) {
      const size_t n = std::min(out.size(), buffer_.size() - buffer_pos_);
      std::memcpy(out.data(), buffer_.data() + buffer_pos_, n);
      buffer_pos_ += n;
      delivered_ += n;
      if (buffer_pos_ == buffer_.size() && paused_) {
        paused_ = false;
        // May call Write() at once with the held-back data.
        if (CURLcode rc = Curl().easy_pause(conn_->easy, CURLPAUSE_CONT);
            rc != CURLE_OK) {
          return Status::FromErrno(
              EIO, what_ + " from " + url_ +
                       ": cannot resume: " + Curl().easy_strerror(rc));
        }
      }
      return n;
    }
    if (done_) {
      if (result_ != CURLE_OK) return Failure();
      if (exact_ && delivered_ < limit_) {
        return Status::FromErrno(EIO, what_ + " from " + url_ +
                                          ": body ended after " +
                                          std::to_string(delivered_) + " of " +
                                          std::to_string(limit_) + " bytes");
      }
      return size_t{0};
    }
    if (out.empty()) return size_t{0};
    SEALFS_RETURN_IF_ERROR(Step());
  }
}

Result<std::vector<uint8_t>> Transfer::ReadAll() {
  std::vector<uint8_t> all;
  std::vector<uint8_t> chunk(64 * 1024);
  for (;;) {
    SEALFS_ASSIGN_OR_RETURN(size_t n, Read(chunk));
    if (n == 0) return all;
    all.insert(all.end(), chunk.begin(),
               chunk.begin() + static_cast<ptrdiff_t>(n));
  }
}

}  // namespace

Result<std::unique_ptr<ObjectSource>> OpenHttpSource(
    const std::string& url, const FetchLimits& limits) {
  if (!IsHttpSource(url)) {
    return Status::FromErrno(EPROTONOSUPPORT,
                             url + ": only http:// and https:// URLs");
  }
  SEALFS_RETURN_IF_ERROR(LoadCurl().status());
  return std::unique_ptr<ObjectSource>(new HttpSource(url, limits));
}

}  // namespace sealfs::remote
