// SPDX-License-Identifier: Apache-2.0
// Layers read on threads of their own, applied in order on the caller's.
#include "fs/mkfs/layer_build.h"

#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "sealfs/manifest_writer.h"

namespace sealfs::mkfs {
namespace {

class WatchedStream : public ByteStream {
 public:
  WatchedStream(ByteStream& in, const LayerContext& context)
      : in_(in), context_(context) {}

  Result<std::span<const uint8_t>> Next() override {
    if (context_.cancelled.load(std::memory_order_relaxed)) {
      return Status::FromErrno(ECANCELED, "stopped: another layer failed");
    }
    Result<std::span<const uint8_t>> piece = in_.Next();
    if (piece.ok() && context_.progress != nullptr) {
      context_.progress->Add(piece->size());
    }
    return piece;
  }

 private:
  ByteStream& in_;
  const LayerContext& context_;
};

// Counts what the image holds: distinct inodes reachable from the root, and
// the regular files whose content is in the store.
void CountTree(const ImageTree& tree, MkfsReport& report) {
  std::vector<bool> seen(tree.node_count(), false);
  std::vector<NodeId> todo = {ImageTree::kRoot};
  seen[ImageTree::kRoot] = true;
  report.inodes = 1;
  while (!todo.empty()) {
    NodeId dir = todo.back();
    todo.pop_back();
    for (const auto& [name, child] : tree.children(dir)) {
      if (seen[child]) continue;
      seen[child] = true;
      ++report.inodes;
      const InodeSpec& spec = tree.inode(child);
      if (S_ISDIR(spec.mode)) todo.push_back(child);
      if (S_ISREG(spec.mode) && spec.digest.has_value()) {
        ++report.files;
        report.file_bytes += spec.size;
      }
    }
  }
}

// The layers being read, and what became of each.
class LayerReaders {
 public:
  LayerReaders(std::vector<LayerInput>& layers, const LayerContext& context,
               std::atomic<bool>& cancelled)
      : layers_(layers),
        context_(context),
        cancelled_(cancelled),
        slots_(layers.size()) {}
  ~LayerReaders() { StopAll(); }

  // Starts reading layer `i` on a thread (in line if none can be had).
  void Start(size_t i) {
    try {
      slots_[i].thread = std::thread([this, i] { Read(i); });
    } catch (const std::system_error&) {
      Read(i);
    }
  }

  // Waits until layer `i` is read or any layer failed. The layer, or null
  // if one failed (then Failure() says which).
  RecordedLayer* Wait(size_t i) {
    std::unique_lock lock(mu_);
    done_cv_.wait(lock, [&] { return slots_[i].done || failed_; });
    if (failed_) return nullptr;
    lock.unlock();
    if (slots_[i].thread.joinable()) slots_[i].thread.join();
    return &slots_[i].layer;
  }

  // Records that applying layer `i` failed, and stops the others.
  void ApplyFailed(size_t i, Status status) {
    std::lock_guard lock(mu_);
    slots_[i].status = std::move(status);
    failed_ = true;
    cancelled_.store(true);
  }

  // Frees what layer `i` recorded once it has been applied.
  void Drop(size_t i) { slots_[i].layer = RecordedLayer(); }

  // Stops every reader and joins every thread.
  void StopAll() {
    cancelled_.store(true);
    for (Slot& slot : slots_) {
      if (slot.thread.joinable()) slot.thread.join();
    }
  }

  // The failure to report, once StopAll() has run: the first layer in
  // order that failed for a reason of its own rather than because it was
  // stopped, else the first that failed.
  Status Failure() const {
    const Slot* first = nullptr;
    for (size_t i = 0; i < slots_.size(); ++i) {
      const Status& st = slots_[i].status;
      if (st.ok()) continue;
      if (st.err() != ECANCELED) {
        return st.WithPrefix("layer " + layers_[i].name);
      }
      if (first == nullptr) first = &slots_[i];
    }
    if (first == nullptr) return Status::FromErrno(EIO, "a layer failed");
    const size_t i = static_cast<size_t>(first - slots_.data());
    return first->status.WithPrefix("layer " + layers_[i].name);
  }

 private:
  struct Slot {
    std::thread thread;
    RecordedLayer layer;
    Status status;
    bool done = false;  // guarded by mu_
  };

  void Read(size_t i) {
    Status st = layers_[i].decode(context_, &slots_[i].layer);
    std::lock_guard lock(mu_);
    slots_[i].status = std::move(st);
    slots_[i].done = true;
    if (!slots_[i].status.ok()) {
      failed_ = true;
      cancelled_.store(true);
    }
    done_cv_.notify_all();
  }

  std::vector<LayerInput>& layers_;
  const LayerContext& context_;
  std::atomic<bool>& cancelled_;
  std::vector<Slot> slots_;
  std::mutex mu_;  // guards Slot::done, Slot::status (once started), failed_
  std::condition_variable done_cv_;
  bool failed_ = false;
};

}  // namespace

std::unique_ptr<ByteStream> LayerContext::Watch(ByteStream& in) const {
  return std::make_unique<WatchedStream>(in, *this);
}

Result<MkfsReport> BuildImageFromLayers(
    std::vector<LayerInput> layers, const MkfsOptions& options,
    const std::optional<SigningKey>& key,
    const std::optional<std::string>& oci_config) {
  SEALFS_ASSIGN_OR_RETURN(std::shared_ptr<Store> store,
                          OpenStore(options.store));
  StoreWriter writer(store);
  std::unique_ptr<Progress> progress;
  if (options.progress) {
    uint64_t total = 0;
    for (const LayerInput& layer : layers) {
      // Unknown for one (stdin): no percentage at all.
      if (layer.bytes == 0) {
        total = 0;
        break;
      }
      total += layer.bytes;
    }
    progress = std::make_unique<Progress>("reading layers", total,
                                          Progress::Unit::kBytes);
  }
  std::atomic<bool> cancelled{false};
  const LayerContext context{writer, options.inline_max, progress.get(),
                             cancelled};
  // A layer that does not give the root its metadata ("./") gets the same
  // one as an implicit parent directory.
  ImageTree tree(ImplicitDirSpec());
  LayerApplier applier(tree);
  {
    LayerReaders readers(layers, context, cancelled);
    const size_t parallel = static_cast<size_t>(std::max(options.threads, 1));
    size_t started = 0;
    for (size_t i = 0; i < layers.size(); ++i) {
      while (started < layers.size() && started < i + parallel) {
        readers.Start(started++);
      }
      RecordedLayer* layer = readers.Wait(i);
      if (layer != nullptr) {
        Status st = layer->Replay(applier);
        if (st.ok()) {
          readers.Drop(i);
          continue;
        }
        readers.ApplyFailed(i, std::move(st));
      }
      readers.StopAll();
      return readers.Failure();
    }
  }
  if (progress != nullptr) progress->Finish();
  MkfsReport report;
  CountTree(tree, report);
  // Every object is durable before the image that names them exists.
  SEALFS_RETURN_IF_ERROR(writer.Commit().WithPrefix("store " + options.store));
  report.objects_written = writer.objects_written();
  report.bytes_written = writer.bytes_written();
  SEALFS_RETURN_IF_ERROR(WriteImage(tree, options, key, &report, oci_config));
  SEALFS_RETURN_IF_ERROR(TagImage(*store, options, report));
  return report;
}

}  // namespace sealfs::mkfs
