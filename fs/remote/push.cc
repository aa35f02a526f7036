// SPDX-License-Identifier: Apache-2.0
// PushImage: plan (the base's packs, then new packs in inode order), hash
// each new pack on its own thread while re-verifying its objects, then
// upload what the repository lacks, several blobs at once, and the
// manifest last.
#include "fs/remote/push.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "fs/remote/oci_manifest.h"
#include "fs/remote/pack_index.h"
#include "fs/remote/pull.h"
#include "fs/remote/registry_source.h"
#include "fs/util/io.h"
#include "sealfs/format.h"

namespace sealfs::remote {
namespace {

constexpr size_t kChunk = size_t{1} << 20;

// A pack this push writes: its objects in order, and once hashed, the trees
// computed from them, its index and descriptors.
struct NewPack {
  std::vector<PullItem> objects;
  std::vector<std::vector<uint8_t>> trees;  // per object; empty: none
  PackIndex index;
  std::vector<uint8_t> index_blob;
  OciDescriptor pack;
  OciDescriptor index_desc;
};

// The bytes of a pack: each object's data, read from the store, then its
// tree, from memory. Read on the engine thread, from the page cache.
class PackBody : public RequestBody {
 public:
  PackBody(std::shared_ptr<Store> store, const NewPack& pack,
           Progress* progress)
      : store_(std::move(store)), pack_(pack), progress_(progress) {}

  uint64_t size() const override { return pack_.pack.size; }

  Result<size_t> Read(std::span<uint8_t> out) override {
    while (object_ < pack_.objects.size()) {
      const PullItem& item = pack_.objects[object_];
      if (!in_tree_) {
        if (!fd_.valid()) {
          SEALFS_ASSIGN_OR_RETURN(fd_, store_->OpenObject(item.digest));
        }
        if (offset_ < item.size) {
          const size_t want = static_cast<size_t>(
              std::min<uint64_t>(out.size(), item.size - offset_));
          SEALFS_ASSIGN_OR_RETURN(
              size_t got, PreadFull(fd_.get(), out.first(want), offset_));
          if (got != want) {
            return Status::Corrupt("object " + item.digest.ToString() +
                                   " shrank while being pushed");
          }
          offset_ += got;
          if (progress_ != nullptr) progress_->Add(got);
          return got;
        }
        fd_.reset();
        in_tree_ = true;
        offset_ = 0;
      }
      const std::vector<uint8_t>& tree = pack_.trees[object_];
      if (offset_ < tree.size()) {
        const size_t n = std::min<size_t>(out.size(), tree.size() - offset_);
        std::copy_n(tree.begin() + static_cast<ptrdiff_t>(offset_), n,
                    out.begin());
        offset_ += n;
        return n;
      }
      ++object_;
      in_tree_ = false;
      offset_ = 0;
    }
    return size_t{0};
  }

 private:
  const std::shared_ptr<Store> store_;
  const NewPack& pack_;
  Progress* const progress_;
  size_t object_ = 0;
  bool in_tree_ = false;
  uint64_t offset_ = 0;
  UniqueFd fd_;
};

// Reads every object of `pack` from the store, checks it is the object its
// name says, computes the pack's digest and index, and keeps the trees.
Status HashPack(const Store& store, NewPack& pack, Progress* progress) {
  Sha256Stream sha;
  std::vector<uint8_t> buffer(kChunk);
  uint64_t offset = 0;
  for (const PullItem& item : pack.objects) {
    const std::string what = "object " + item.digest.ToString();
    Result<UniqueFd> fd = store.OpenObject(item.digest);
    if (!fd.ok()) {
      if (fd.status().err() == ENOENT) {
        return Status::FromErrno(ENOENT, what + " is not in the store " +
                                             store.path() +
                                             " (pull it, or build the image "
                                             "into this store)");
      }
      return fd.status().WithPrefix(what);
    }
    MerkleBuilder merkle;
    for (uint64_t at = 0; at < item.size;) {
      const size_t want =
          static_cast<size_t>(std::min<uint64_t>(kChunk, item.size - at));
      SEALFS_ASSIGN_OR_RETURN(
          size_t got,
          PreadFull(fd->get(), std::span<uint8_t>(buffer).first(want), at));
      if (got != want) {
        return Status::Corrupt(what + ": shorter than the manifest says");
      }
      const std::span<const uint8_t> chunk(buffer.data(), got);
      merkle.Update(chunk);
      sha.Update(chunk);
      at += got;
      if (progress != nullptr) progress->Add(got);
    }
    MerkleTree tree = merkle.Finish();
    if (tree.digest != item.digest) {
      return Status::FromErrno(kErrDigest,
                               what + " in the store hashes to " +
                                   tree.digest.ToString() +
                                   ": run sealfs fsck, then pull it again");
    }
    PackEntry entry{item.digest, offset, item.size, std::nullopt};
    offset += item.size;
    if (!tree.tree.empty()) {
      entry.tree_offset = offset;
      sha.Update(tree.tree);
      offset += tree.tree.size();
    }
    pack.index.entries.push_back(entry);
    pack.trees.push_back(std::move(tree.tree));
  }
  std::sort(pack.index.entries.begin(), pack.index.entries.end(),
            [](const PackEntry& a, const PackEntry& b) {
              return a.digest < b.digest;
            });
  pack.index.pack_digest = sha.Finish();
  pack.index.pack_size = offset;
  pack.index_blob = EncodePackIndex(pack.index);
  pack.pack = {kOciPackMediaType, pack.index.pack_digest, offset};
  pack.index_desc = {kOciPackIndexMediaType, BlobDigest(pack.index_blob),
                     pack.index_blob.size()};
  return {};
}

// Runs `work(i)` for i in [0, n) on up to `threads` threads; the first
// failure wins and stops the rest from starting.
Status ForEach(size_t n, unsigned threads,
               const std::function<Status(size_t)>& work) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status first;
  auto run = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      {
        std::lock_guard lock(mu);
        if (!first.ok()) return;
      }
      Status st = work(i);
      if (!st.ok()) {
        std::lock_guard lock(mu);
        if (first.ok()) first = st;
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < std::min<size_t>(threads, n); ++t) {
    try {
      pool.emplace_back(run);
    } catch (const std::system_error&) {
      break;
    }
  }
  run();
  for (std::thread& t : pool) t.join();
  return first;
}

}  // namespace

Result<PushReport> PushImage(RegistryClient& client, const std::string& tag,
                             std::span<const uint8_t> image_bytes,
                             const Manifest& manifest,
                             const std::shared_ptr<Store>& store,
                             const PushOptions& options, Progress* progress) {
  PushReport report;
  SEALFS_ASSIGN_OR_RETURN(std::vector<PullItem> items, ObjectsOf(manifest));
  report.objects = items.size();

  // The base's packs that hold something this image needs are reused.
  std::unordered_set<Digest, DigestHash> covered;
  std::vector<RegistryPack> reused;
  std::string base_repository;
  if (!options.base.empty()) {
    SEALFS_ASSIGN_OR_RETURN(RegistryRef base,
                            ParseRegistryRef(options.base, true));
    if (base.host != client.ref().host) {
      return Status::FromErrno(
          EINVAL, "--base " + options.base + ": not on " + client.ref().host);
    }
    base_repository = base.repository;
    std::shared_ptr<RegistryClient> base_client;
    if (base.repository != client.ref().repository) {
      SEALFS_ASSIGN_OR_RETURN(base_client,
                              RegistryClient::Open(base, options.registry));
    }
    RegistryClient& from = base_client != nullptr ? *base_client : client;
    SEALFS_ASSIGN_OR_RETURN(RegistryImage image,
                            ReadRegistryImage(from, base.reference(), true));
    for (RegistryPack& pack : image.packs) {
      bool useful = false;
      for (const PullItem& item : items) {
        const PackEntry* e = pack.index.Find(item.digest);
        if (e != nullptr && e->size == item.size &&
            !covered.contains(item.digest)) {
          useful = true;
        }
      }
      if (!useful) continue;
      for (const PullItem& item : items) {
        if (const PackEntry* e = pack.index.Find(item.digest);
            e != nullptr && e->size == item.size) {
          covered.insert(item.digest);
        }
      }
      reused.push_back(std::move(pack));
    }
  }

  // New packs for the rest, in the image's inode order.
  std::vector<NewPack> packs;
  uint64_t fill = 0;
  for (const PullItem& item : items) {
    if (covered.contains(item.digest)) continue;
    if (packs.empty() || fill >= options.pack_bytes) {
      packs.emplace_back();
      fill = 0;
    }
    packs.back().objects.push_back(item);
    fill += item.size + TreeGeometry::For(item.size).tree_bytes();
  }
  Status hashed =
      ForEach(packs.size(), std::max(1u, std::thread::hardware_concurrency()),
              [&](size_t i) { return HashPack(*store, packs[i], progress); });
  SEALFS_RETURN_IF_ERROR(hashed);

  // What goes up: packs and their indexes, the image, the empty config.
  struct Blob {
    OciDescriptor desc;
    RegistryClient::BodyFactory body;
    bool mountable = false;  // a reused blob, in the base's repository
  };
  std::vector<Blob> blobs;
  for (const RegistryPack& pack : reused) {
    blobs.push_back({pack.pack, nullptr, true});
    blobs.push_back({pack.index_blob, nullptr, true});
  }
  for (NewPack& pack : packs) {
    blobs.push_back({pack.pack, [&store, &pack, progress] {
                       return std::shared_ptr<RequestBody>(
                           std::make_shared<PackBody>(store, pack, progress));
                     }});
    blobs.push_back(
        {pack.index_desc, [&pack] { return MemoryBody(pack.index_blob); }});
  }
  const OciDescriptor image_desc{kOciImageMediaType, BlobDigest(image_bytes),
                                 image_bytes.size()};
  blobs.push_back({image_desc, [image_bytes] {
                     return MemoryBody(std::vector<uint8_t>(image_bytes.begin(),
                                                            image_bytes.end()));
                   }});
  blobs.push_back({OciEmptyConfigDescriptor(), [] {
                     std::span<const uint8_t> c = OciEmptyConfig();
                     return MemoryBody(
                         std::vector<uint8_t>(c.begin(), c.end()));
                   }});
  std::mutex mu;
  Status uploaded = ForEach(blobs.size(), options.parallel, [&](size_t i) {
    const Blob& blob = blobs[i];
    SEALFS_ASSIGN_OR_RETURN(bool present, client.HasBlob(blob.desc.digest));
    if (present) {
      std::lock_guard lock(mu);
      ++report.blobs_present;
      return Status();
    }
    if (blob.mountable) {
      SEALFS_ASSIGN_OR_RETURN(
          bool mounted, client.MountBlob(blob.desc.digest, base_repository));
      if (!mounted) {
        return Status::FromErrno(
            EIO, "blob " + OciDigest(blob.desc.digest) + " of --base " +
                     options.base + " could not be mounted into " +
                     client.ref().repository + " (push without --base)");
      }
      std::lock_guard lock(mu);
      ++report.blobs_mounted;
      return Status();
    }
    SEALFS_RETURN_IF_ERROR(client.PutBlob(blob.desc.digest, blob.body));
    std::lock_guard lock(mu);
    ++report.blobs_uploaded;
    report.bytes_uploaded += blob.desc.size;
    return Status();
  });
  SEALFS_RETURN_IF_ERROR(uploaded);

  SealfsArtifact artifact;
  artifact.image = image_desc;
  artifact.identity = manifest.identity();
  for (const RegistryPack& pack : reused) {
    artifact.indexes.push_back(pack.index_blob);
    artifact.packs.push_back(pack.pack);
  }
  for (const NewPack& pack : packs) {
    artifact.indexes.push_back(pack.index_desc);
    artifact.packs.push_back(pack.pack);
  }
  report.packs = artifact.packs.size();
  report.packs_reused = reused.size();
  SEALFS_ASSIGN_OR_RETURN(report.manifest_digest,
                          client.PutManifest(tag, BuildOciManifest(artifact)));
  return report;
}

}  // namespace sealfs::remote
