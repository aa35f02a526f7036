// SPDX-License-Identifier: Apache-2.0
// Registry blobs streamed into a BytePipe from the engine's thread.
#include "fs/remote/oci_registry_source.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "fs/util/byte_stream.h"

namespace sealfs::remote {
namespace {

constexpr size_t kPiece = size_t{1} << 20;
// Pieces queued per blob: bounds the memory of a layer its reader has not
// caught up with.
constexpr size_t kDepth = 8;

// Feeds a blob's body into a pipe. Runs on the engine's thread.
class PipeSink : public HttpSink {
 public:
  PipeSink(std::shared_ptr<BytePipe> pipe, std::string what, std::string url,
           std::shared_ptr<RegistryClient> client)
      : pipe_(std::move(pipe)),
        what_(std::move(what)),
        url_(std::move(url)),
        client_(std::move(client)) {}

  Status OnResponse(const HttpResponse& response) override {
    if (response.code == 200) return {};
    if (response.code == 401) client_->CredentialsExpired();
    return HttpStatusError(response, what_, url_);
  }

  Status OnBody(std::span<const uint8_t> data) override {
    while (!data.empty()) {
      SEALFS_ASSIGN_OR_RETURN(std::vector<uint8_t> buffer, pipe_->TakeBuffer());
      const size_t n = std::min(buffer.size(), data.size());
      std::memcpy(buffer.data(), data.data(), n);
      buffer.resize(n);
      SEALFS_RETURN_IF_ERROR(pipe_->Push(std::move(buffer)));
      data = data.subspan(n);
    }
    return {};
  }

  void OnDone(const Status& status) override { pipe_->Close(status); }

 private:
  const std::shared_ptr<BytePipe> pipe_;
  const std::string what_;
  const std::string url_;
  const std::shared_ptr<RegistryClient> client_;
};

// The consumer's end; stops the transfer when dropped early.
class BlobStream : public ByteStream {
 public:
  BlobStream(std::shared_ptr<BytePipe> pipe, std::unique_ptr<ByteStream> reader)
      : pipe_(std::move(pipe)), reader_(std::move(reader)) {}
  ~BlobStream() override {
    pipe_->Cancel();
    if (ticket_ != nullptr) ticket_->Cancel();
  }
  void set_ticket(std::shared_ptr<HttpTicket> ticket) {
    ticket_ = std::move(ticket);
  }
  Result<std::span<const uint8_t>> Next() override { return reader_->Next(); }

 private:
  const std::shared_ptr<BytePipe> pipe_;
  std::unique_ptr<ByteStream> reader_;
  std::shared_ptr<HttpTicket> ticket_;
};

class RegistryImageSource : public OciImageSource {
 public:
  explicit RegistryImageSource(std::shared_ptr<RegistryClient> client)
      : client_(std::move(client)) {}

  Result<OciDocument> ReadTop() override {
    const RegistryRef& ref = client_->ref();
    SEALFS_ASSIGN_OR_RETURN(RegistryClient::TypedManifest m,
                            client_->GetAnyManifest(ref.reference()));
    OciDocument doc;
    doc.descriptor.media_type = m.media_type;
    doc.descriptor.size = m.bytes.size();
    if (!ref.digest.empty()) {
      SEALFS_ASSIGN_OR_RETURN(doc.descriptor.digest,
                              ParseOciDigest(ref.digest));
    } else {
      // A tag names no digest: the bytes served are what it names.
      doc.descriptor.digest = BlobDigest(m.bytes);
    }
    doc.bytes = std::move(m.bytes);
    return doc;
  }

  Result<std::vector<uint8_t>> ReadManifest(
      const OciDescriptor& desc) override {
    SEALFS_RETURN_IF_ERROR(CheckManifestSize(desc));
    SEALFS_ASSIGN_OR_RETURN(RegistryClient::TypedManifest m,
                            client_->GetAnyManifest(OciDigest(desc.digest)));
    return std::move(m.bytes);
  }

  Result<std::unique_ptr<ByteStream>> OpenBlob(
      const OciDescriptor& desc) override {
    auto pipe = std::make_shared<BytePipe>(kPiece, kDepth);
    auto stream = std::make_unique<BlobStream>(pipe, pipe->Reader());
    HttpRequest request;
    request.url = client_->BlobUrl(desc.digest);
    // One byte over the descriptor's size is enough to know it is wrong.
    request.max_body = desc.size + 1;
    const std::string url = request.url;
    auto sink = std::make_shared<PipeSink>(
        pipe, "blob " + OciDigest(desc.digest), url, client_);
    stream->set_ticket(client_->Submit(std::move(request), sink));
    return std::unique_ptr<ByteStream>(std::move(stream));
  }

 private:
  const std::shared_ptr<RegistryClient> client_;
};

}  // namespace

Result<std::unique_ptr<OciImageSource>> OpenRegistryImageSource(
    const RegistryRef& ref, const RegistryOptions& options) {
  SEALFS_ASSIGN_OR_RETURN(std::shared_ptr<RegistryClient> client,
                          RegistryClient::Open(ref, options));
  return std::unique_ptr<OciImageSource>(
      std::make_unique<RegistryImageSource>(std::move(client)));
}

}  // namespace sealfs::remote
