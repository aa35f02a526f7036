// SPDX-License-Identifier: Apache-2.0
// Choosing an ObjectSource implementation from what the user wrote.
#include "fs/remote/object_source.h"

#include <algorithm>
#include <cerrno>
#include <future>

#include "fs/remote/http_source.h"
#include "fs/remote/local_source.h"
#include "fs/remote/registry_ref.h"
#include "fs/remote/registry_source.h"

namespace sealfs::remote {

uint64_t PartSize(ObjectPart part, uint64_t object_size) {
  return part == ObjectPart::kData
             ? object_size
             : TreeGeometry::For(object_size).tree_bytes();
}

std::string PartName(const FetchRequest& request) {
  return (request.part == ObjectPart::kData ? "object " : "tree of ") +
         request.digest.ToString();
}

std::vector<std::shared_ptr<FetchTicket>> ObjectSource::FetchMany(
    const std::vector<FetchRequest>& requests,
    const std::vector<std::shared_ptr<FetchSink>>& sinks) {
  std::vector<std::shared_ptr<FetchTicket>> tickets;
  for (size_t i = 0; i < requests.size(); ++i) {
    tickets.push_back(Fetch(requests[i], sinks[i]));
  }
  return tickets;
}

namespace {

// Keeps the requested range of what a source delivers.
class BytesSink : public FetchSink {
 public:
  explicit BytesSink(const FetchRequest& request) : request_(request) {
    bytes_.resize(static_cast<size_t>(request.length));
  }
  Status OnData(uint64_t offset, std::span<const uint8_t> data) override {
    // A source may start before the range (it ignored Range): keep the
    // overlap only.
    const uint64_t end = offset + data.size();
    const uint64_t from = std::max(offset, request_.offset);
    const uint64_t to = std::min(end, request_.offset + request_.length);
    if (from < to) {
      std::copy_n(
          data.begin() + static_cast<ptrdiff_t>(from - offset), to - from,
          bytes_.begin() + static_cast<ptrdiff_t>(from - request_.offset));
    }
    return {};
  }
  void OnDone(const Status& status) override {
    if (status.ok()) {
      done_.set_value(std::move(bytes_));
    } else {
      done_.set_value(status);
    }
  }
  std::future<Result<std::vector<uint8_t>>> future() {
    return done_.get_future();
  }

 private:
  const FetchRequest request_;
  std::vector<uint8_t> bytes_;
  std::promise<Result<std::vector<uint8_t>>> done_;
};

}  // namespace

Result<std::vector<uint8_t>> FetchBytes(ObjectSource& source,
                                        const FetchRequest& request,
                                        const TicketHolder& started) {
  auto sink = std::make_shared<BytesSink>(request);
  std::future<Result<std::vector<uint8_t>>> done = sink->future();
  std::shared_ptr<FetchTicket> ticket = source.Fetch(request, sink);
  if (started) started(std::move(ticket));
  return done.get();
}

bool IsHttpSource(std::string_view spec) {
  return spec.starts_with("http://") || spec.starts_with("https://");
}

bool IsValidImageName(std::string_view name) {
  if (name.empty() || name.size() > 128 || name.front() == '.') return false;
  // NAME.tmp-XXXXXXXX is an atomic tag write in progress, never a tag.
  if (name.find(".tmp-") != std::string_view::npos) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<std::unique_ptr<ObjectSource>> OpenObjectSource(
    const std::string& spec, const SourceOptions& options) {
  return OpenObjectSourceAndImage(spec, options, nullptr);
}

Result<std::unique_ptr<ObjectSource>> OpenObjectSourceAndImage(
    const std::string& spec, const SourceOptions& options,
    std::vector<uint8_t>* image) {
  if (spec.empty()) return Status::FromErrno(EINVAL, "empty source");
  if (IsHttpSource(spec)) return OpenHttpSource(spec, options);
  if (IsDockerRef(spec)) {
    SEALFS_ASSIGN_OR_RETURN(
        std::unique_ptr<RegistrySource> source,
        OpenRegistrySource(spec, RegistryOptionsFor(options), image));
    return std::unique_ptr<ObjectSource>(std::move(source));
  }
  // "scheme://" that is not HTTP: refuse rather than treat it as a path.
  const size_t colon = spec.find("://");
  if (colon != std::string::npos && spec.find('/') > colon) {
    return Status::FromErrno(
        EPROTONOSUPPORT,
        spec +
            ": only http://, https:// and docker:// sources (or a store "
            "directory)");
  }
  return OpenLocalSource(spec);
}

}  // namespace sealfs::remote
