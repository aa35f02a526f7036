// SPDX-License-Identifier: Apache-2.0
// RegistrySource: index lookups, and range requests whose answers are
// checked and translated from pack offsets to object offsets.
#include "fs/remote/registry_source.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include "fs/remote/http_engine.h"

namespace sealfs::remote {
namespace {

// One range of a pack that holds several requested parts, back to back
// or with small gaps: checks the answer, then hands each part's bytes to
// its own sink, at offsets within the part, and ends each part as soon as
// it is whole. A server that ignores Range sends the whole pack: the parts
// are cut out of it and the transfer stops once they are all delivered.
class RunSink : public HttpSink {
 public:
  struct Part {
    uint64_t start = 0;  // in the pack
    FetchRequest request;
    std::shared_ptr<FetchSink> sink;
    uint64_t delivered = 0;
    bool done = false;
  };

  // REQUIRES: `parts` sorted by start, each inside [first, end).
  RunSink(std::vector<Part> parts, uint64_t first, uint64_t end,
          uint64_t pack_size, std::shared_ptr<RegistryClient> client,
          std::string url)
      : parts_(std::move(parts)),
        first_(first),
        end_(end),
        pack_size_(pack_size),
        client_(std::move(client)),
        url_(std::move(url)) {}

  Status OnResponse(const HttpResponse& r) override {
    const std::string what = parts_.size() == 1
                                 ? PartName(parts_[0].request)
                                 : std::to_string(parts_.size()) + " objects";
    if (r.code == 206) {
      if (r.range_first != first_ || r.range_last != end_ - 1 ||
          (r.range_total >= 0 &&
           static_cast<uint64_t>(r.range_total) != pack_size_)) {
        return Status::Corrupt(
            what + ": " + url_ + " answered bytes " +
            std::to_string(r.range_first) + "-" + std::to_string(r.range_last) +
            " for " + std::to_string(first_) + "-" + std::to_string(end_ - 1));
      }
      pos_ = first_;
      return {};
    }
    if (r.code == 200) {
      if (r.content_length >= 0 &&
          static_cast<uint64_t>(r.content_length) != pack_size_) {
        return Status::Corrupt(
            what + ": " + url_ + " serves " + std::to_string(r.content_length) +
            " bytes, the manifest says " + std::to_string(pack_size_));
      }
      pos_ = 0;
      return {};
    }
    if (r.code == 401) client_->CredentialsExpired();
    return HttpStatusError(r, what, url_);
  }

  Status OnBody(std::span<const uint8_t> data) override {
    const uint64_t begin = pos_;
    const uint64_t stop = pos_ + data.size();
    pos_ = stop;
    while (active_ < parts_.size() && parts_[active_].done) ++active_;
    for (size_t i = active_; i < parts_.size() && parts_[i].start < stop; ++i) {
      Part& p = parts_[i];
      if (p.done) continue;
      const uint64_t from = std::max(begin, p.start + p.delivered);
      const uint64_t to = std::min(stop, p.start + p.request.length);
      if (from >= to) continue;
      Status st = p.sink->OnData(p.request.offset + (from - p.start),
                                 data.subspan(static_cast<size_t>(from - begin),
                                              static_cast<size_t>(to - from)));
      p.delivered = to - p.start;
      if (!st.ok() || p.delivered == p.request.length) {
        p.done = true;
        ++finished_;
        p.sink->OnDone(st);
      }
    }
    if (finished_ == parts_.size()) {
      return Status::FromErrno(ECANCELED, "every part delivered");
    }
    return {};
  }

  void OnDone(const Status& status) override {
    for (Part& p : parts_) {
      if (p.done) continue;
      p.done = true;
      p.sink->OnDone(!status.ok() ? status
                                  : Status::FromErrno(
                                        EIO, PartName(p.request) + " from " +
                                                 url_ + ": range ended early"));
    }
  }

 private:
  std::vector<Part> parts_;
  const uint64_t first_;
  const uint64_t end_;
  const uint64_t pack_size_;
  const std::shared_ptr<RegistryClient> client_;
  const std::string url_;
  uint64_t pos_ = 0;     // pack offset of the next body byte
  size_t active_ = 0;    // parts before this one are done
  size_t finished_ = 0;  // parts done
};

class Ticket : public FetchTicket {
 public:
  explicit Ticket(std::shared_ptr<HttpTicket> t) : t_(std::move(t)) {}
  void Promote(Priority priority) override { t_->Promote(priority); }
  void Cancel() override { t_->Cancel(); }

 private:
  std::shared_ptr<HttpTicket> t_;
};

}  // namespace

Result<RegistryImage> ReadRegistryImage(RegistryClient& client,
                                        const std::string& reference,
                                        bool with_packs) {
  RegistryImage out;
  SEALFS_ASSIGN_OR_RETURN(std::vector<uint8_t> manifest,
                          client.GetManifest(reference));
  Result<SealfsArtifact> artifact = ParseOciManifest(manifest);
  if (!artifact.ok()) {
    return artifact.status().WithPrefix(client.ref().ToString());
  }
  out.artifact = std::move(*artifact);
  out.manifest_digest = OciDigest(Sha256(manifest));
  SEALFS_ASSIGN_OR_RETURN(out.image, client.GetBlob(out.artifact.image));
  if (!with_packs) return out;
  for (const OciDescriptor& index_desc : out.artifact.indexes) {
    SEALFS_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes,
                            client.GetBlob(index_desc));
    Result<PackIndex> index = DecodePackIndex(bytes);
    if (!index.ok()) {
      return index.status().WithPrefix("blob " + OciDigest(index_desc.digest));
    }
    const OciDescriptor* pack = out.artifact.FindPack(index->pack_digest);
    if (pack == nullptr || pack->size != index->pack_size) {
      return Status::Corrupt("blob " + OciDigest(index_desc.digest) +
                             ": pack index for a pack not in the manifest");
    }
    out.packs.push_back({*pack, index_desc, std::move(*index)});
  }
  return out;
}

RegistrySource::RegistrySource(std::shared_ptr<RegistryClient> client,
                               std::vector<RegistryPack> packs,
                               std::string pinned)
    : client_(std::move(client)),
      packs_(std::move(packs)),
      location_(client_->ref().ToString()),
      pinned_(std::move(pinned)) {}

std::pair<const RegistryPack*, const PackEntry*> RegistrySource::Find(
    const Digest& digest) const {
  for (const RegistryPack& pack : packs_) {
    if (const PackEntry* e = pack.index.Find(digest)) return {&pack, e};
  }
  return {nullptr, nullptr};
}

Result<std::pair<const RegistryPack*, uint64_t>> RegistrySource::Locate(
    const FetchRequest& request, FetchSink& sink) const {
  auto [pack, entry] = Find(request.digest);
  const std::string what = PartName(request);
  Status st;
  if (entry == nullptr ||
      (request.part == ObjectPart::kTree && !entry->tree_offset.has_value())) {
    st = Status::FromErrno(ENOENT, what + " not in any pack of " + location_);
  } else if (entry->size != request.object_size) {
    st = Status::Corrupt(what + ": " + location_ + "'s pack index says " +
                         std::to_string(entry->size) +
                         " bytes, the manifest says " +
                         std::to_string(request.object_size));
  }
  if (!st.ok()) {
    sink.OnDone(st);
    return st;
  }
  const uint64_t start =
      request.part == ObjectPart::kData ? entry->offset : *entry->tree_offset;
  return std::make_pair(pack, start + request.offset);
}

std::shared_ptr<FetchTicket> RegistrySource::Fetch(
    const FetchRequest& request, std::shared_ptr<FetchSink> sink) {
  return FetchMany({request}, {std::move(sink)}).front();
}

std::vector<std::shared_ptr<FetchTicket>> RegistrySource::FetchMany(
    const std::vector<FetchRequest>& requests,
    const std::vector<std::shared_ptr<FetchSink>>& sinks) {
  // Each located part, by pack and offset.
  struct Located {
    const RegistryPack* pack;
    RunSink::Part part;
    size_t index;  // in requests
  };
  std::vector<Located> located;
  std::vector<std::shared_ptr<FetchTicket>> tickets(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    auto where = Locate(requests[i], *sinks[i]);
    if (!where.ok()) continue;
    located.push_back(
        {where->first, {where->second, requests[i], sinks[i]}, i});
  }
  std::sort(
      located.begin(), located.end(), [](const Located& a, const Located& b) {
        return a.pack != b.pack ? a.pack < b.pack : a.part.start < b.part.start;
      });
  for (size_t i = 0; i < located.size();) {
    const RegistryPack* pack = located[i].pack;
    const uint64_t first = located[i].part.start;
    uint64_t end = first + located[i].part.request.length;
    Priority priority = located[i].part.request.priority;
    std::vector<RunSink::Part> parts = {located[i].part};
    const size_t run_begin = i;
    size_t j = i + 1;
    for (; j < located.size() && located[j].pack == pack; ++j) {
      const RunSink::Part& next = located[j].part;
      const uint64_t next_end = next.start + next.request.length;
      if (next.start > end + kMaxRunGap ||
          std::max(end, next_end) - first > kMaxRunBytes) {
        break;
      }
      end = std::max(end, next_end);
      priority = std::min(priority, next.request.priority);
      parts.push_back(next);
    }
    i = j;
    HttpRequest http;
    http.url = client_->BlobUrl(pack->pack.digest);
    http.range_first = first;
    http.range_length = end - first;
    // A server that ignores Range sends the whole pack; cut short once the
    // parts are in.
    http.max_body = pack->pack.size;
    http.priority = priority;
    std::string url = http.url;
    auto ticket = std::make_shared<Ticket>(client_->Submit(
        std::move(http),
        std::make_shared<RunSink>(std::move(parts), first, end, pack->pack.size,
                                  client_, std::move(url))));
    for (size_t k = run_begin; k < j; ++k) tickets[located[k].index] = ticket;
  }
  return tickets;
}

Result<std::vector<uint8_t>> RegistrySource::ReadImage(
    const std::string& name) {
  SEALFS_ASSIGN_OR_RETURN(RegistryImage image,
                          ReadRegistryImage(*client_, name, false));
  return std::move(image.image);
}

Result<std::unique_ptr<RegistrySource>> OpenRegistrySource(
    const std::string& spec, const RegistryOptions& options,
    std::vector<uint8_t>* image) {
  SEALFS_ASSIGN_OR_RETURN(RegistryRef ref, ParseRegistryRef(spec, true));
  SEALFS_ASSIGN_OR_RETURN(std::shared_ptr<RegistryClient> client,
                          RegistryClient::Open(ref, options));
  SEALFS_ASSIGN_OR_RETURN(RegistryImage read,
                          ReadRegistryImage(*client, ref.reference(), true));
  if (image != nullptr) *image = std::move(read.image);
  client->Quiesce();
  RegistryRef pinned = ref;
  pinned.tag.clear();
  pinned.digest = read.manifest_digest;
  return std::make_unique<RegistrySource>(
      std::move(client), std::move(read.packs), pinned.ToString());
}

RegistryOptions RegistryOptionsFor(const SourceOptions& options) {
  RegistryOptions registry;
  registry.limits = options.limits;
  registry.connections = options.connections;
  registry.tls_verify = options.tls_verify;
  registry.cert_dir = options.cert_dir;
  registry.authfile = options.authfile;
  return registry;
}

std::string RegistryImageName(const RegistryRef& ref) {
  std::string name = ref.host + "_" + ref.repository + "_" +
                     (ref.digest.empty() ? ref.tag : ref.digest);
  for (char& c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  if (name.front() == '.') name.front() = '_';
  for (size_t at; (at = name.find(".tmp-")) != std::string::npos;) {
    name[at] = '_';  // never a temp file's name
  }
  if (name.size() > 128) {
    const std::string hash =
        Sha256({reinterpret_cast<const uint8_t*>(name.data()), name.size()})
            .Hex()
            .substr(0, 16);
    name = name.substr(0, 111) + "_" + hash;
  }
  return name;
}

}  // namespace sealfs::remote
