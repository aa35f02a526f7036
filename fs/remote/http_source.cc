// SPDX-License-Identifier: Apache-2.0
// HttpSource: a store's layout over HTTP(S), on an HttpEngine. Each fetch
// is one GET (with a Range header for part of a file); PartSink checks the
// response against what the manifest says before passing bytes on.
#include "fs/remote/http_source.h"

#include <cerrno>
#include <utility>

#include "fs/remote/http_engine.h"
#include "sealfs/store.h"

namespace sealfs::remote {
namespace {

// Checks one response against the request and hands its body on.
class PartSink : public HttpSink {
 public:
  PartSink(const FetchRequest& request, std::shared_ptr<FetchSink> out,
           std::string url)
      : request_(request),
        out_(std::move(out)),
        url_(std::move(url)),
        part_size_(PartSize(request.part, request.object_size)) {}

  Status OnResponse(const HttpResponse& r) override {
    const std::string what = PartName(request_);
    if (r.code == 200) {
      // The whole file: asked for, or a server that ignores Range.
      if (r.content_length >= 0 &&
          static_cast<uint64_t>(r.content_length) != part_size_) {
        return Status::Corrupt(what + ": " + url_ + " serves " +
                               std::to_string(r.content_length) +
                               " bytes (Content-Length), the manifest says " +
                               std::to_string(part_size_));
      }
      pos_ = 0;
      end_ = part_size_;
      return {};
    }
    if (r.code == 206) {
      const uint64_t last = request_.offset + request_.length - 1;
      if (r.range_first != request_.offset || r.range_last != last ||
          (r.range_total >= 0 &&
           static_cast<uint64_t>(r.range_total) != part_size_) ||
          (r.content_length >= 0 &&
           static_cast<uint64_t>(r.content_length) != request_.length)) {
        return Status::Corrupt(
            what + ": " + url_ + " answered bytes " +
            std::to_string(r.range_first) + "-" + std::to_string(r.range_last) +
            "/" + (r.range_total < 0 ? "*" : std::to_string(r.range_total)) +
            " for " + std::to_string(request_.offset) + "-" +
            std::to_string(last) + "/" + std::to_string(part_size_));
      }
      pos_ = request_.offset;
      end_ = request_.offset + request_.length;
      return {};
    }
    return HttpStatusError(r, what, url_);
  }

  Status OnBody(std::span<const uint8_t> data) override {
    if (data.size() > end_ - pos_) {
      return Status::Corrupt(PartName(request_) + ": " + url_ +
                             " sent more than " + std::to_string(end_) +
                             " bytes");
    }
    Status st = out_->OnData(pos_, data);
    pos_ += data.size();
    return st;
  }

  void OnDone(const Status& status) override {
    if (status.ok() && pos_ < end_) {
      out_->OnDone(Status::FromErrno(
          EIO, PartName(request_) + " from " + url_ + ": body ended at byte " +
                   std::to_string(pos_) + " of " + std::to_string(end_)));
      return;
    }
    out_->OnDone(status);
  }

 private:
  const FetchRequest request_;
  const std::shared_ptr<FetchSink> out_;
  const std::string url_;
  const uint64_t part_size_;
  uint64_t pos_ = 0;  // offset of the next body byte within the part
  uint64_t end_ = 0;  // where the body ends
};

class Ticket : public FetchTicket {
 public:
  explicit Ticket(std::shared_ptr<HttpTicket> t) : t_(std::move(t)) {}
  void Promote(Priority priority) override { t_->Promote(priority); }
  void Cancel() override { t_->Cancel(); }

 private:
  std::shared_ptr<HttpTicket> t_;
};

class HttpSource : public ObjectSource {
 public:
  HttpSource(std::string url, std::shared_ptr<HttpEngine> engine)
      : location_(std::move(url)), engine_(std::move(engine)) {
    base_ = location_;
    while (base_.size() > 1 && base_.back() == '/') base_.pop_back();
  }

  std::shared_ptr<FetchTicket> Fetch(const FetchRequest& request,
                                     std::shared_ptr<FetchSink> sink) override {
    const uint64_t part_size = PartSize(request.part, request.object_size);
    HttpRequest http;
    http.url =
        base_ + "/" +
        (request.part == ObjectPart::kData ? Store::ObjectPath(request.digest)
                                           : Store::TreePath(request.digest));
    if (request.offset != 0 || request.length != part_size) {
      http.range_first = request.offset;
      http.range_length = request.length;
    }
    // A server that ignores Range sends the whole file: allowed, no more.
    http.max_body = part_size;
    http.priority = request.priority;
    std::string url = http.url;
    return std::make_shared<Ticket>(engine_->Submit(
        std::move(http),
        std::make_shared<PartSink>(request, std::move(sink), std::move(url))));
  }

  Result<std::vector<uint8_t>> ReadImage(const std::string& name) override {
    HttpRequest http;
    http.url = base_ + "/images/" + name;
    http.max_body = kMaxImageBytes;
    http.priority = Priority::kUrgent;
    const std::string url = http.url;
    SEALFS_ASSIGN_OR_RETURN(HttpEngine::Reply reply,
                            engine_->Fetch(std::move(http), true));
    if (reply.response.code != 200) {
      return HttpStatusError(reply.response, "image " + name, url);
    }
    return std::move(reply.body);
  }

  bool synchronous() const override { return false; }
  const std::string& location() const override { return location_; }

 private:
  std::string location_;
  std::string base_;  // location_ without trailing slashes
  std::shared_ptr<HttpEngine> engine_;
};

}  // namespace

Result<std::unique_ptr<ObjectSource>> OpenHttpSource(
    const std::string& url, const SourceOptions& options) {
  if (!IsHttpSource(url)) {
    return Status::FromErrno(EPROTONOSUPPORT,
                             url + ": only http:// and https:// URLs");
  }
  HttpEngineOptions engine_options;
  engine_options.limits = options.limits;
  engine_options.max_connections = options.connections;
  SEALFS_ASSIGN_OR_RETURN(std::shared_ptr<HttpEngine> engine,
                          HttpEngine::Create(engine_options));
  return std::unique_ptr<ObjectSource>(new HttpSource(url, std::move(engine)));
}

}  // namespace sealfs::remote
