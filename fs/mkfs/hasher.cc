// SPDX-License-Identifier: Apache-2.0
// Worker pool for mkfs: each worker claims the next-largest file, reads and
// hashes it, and stores it.
#include "fs/mkfs/hasher.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <numeric>
#include <thread>

#include "fs/util/io.h"
#include "fs/util/progress.h"

namespace sealfs::mkfs {
namespace {

class Pool {
 public:
  Pool(int root_fd, const std::vector<FileJob>& files, StoreWriter& writer,
       const HashOptions& options)
      : root_fd_(root_fd), files_(files), writer_(writer), options_(options),
        results_(files.size()), order_(files.size()) {
    // Largest first, so one big file does not start last and run alone.
    std::iota(order_.begin(), order_.end(), size_t{0});
    std::stable_sort(order_.begin(), order_.end(), [&](size_t a, size_t b) {
      return files_[a].size > files_[b].size;
    });
  }

  Result<std::vector<HashedFile>> Run() {
    const int n = std::max(1, std::min<int>(options_.threads,
                                            static_cast<int>(files_.size())));
    std::vector<std::thread> threads;
    for (int i = 1; i < n; ++i) threads.emplace_back([this] { Work(); });
    Work();
    for (std::thread& t : threads) t.join();
    if (!error_.ok()) return error_;
    return std::move(results_);
  }

 private:
  void Work() {
    std::vector<uint8_t> buffer;
    for (;;) {
      if (failed_.load(std::memory_order_relaxed)) return;
      size_t k = next_.fetch_add(1, std::memory_order_relaxed);
      if (k >= order_.size()) return;
      size_t i = order_[k];
      Status s = HashOne(files_[i], buffer, results_[i]);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        if (error_.ok()) error_ = s;
        failed_.store(true);
        return;
      }
    }
  }

  std::string PathOf(const FileJob& job) const {
    return options_.source == "/" ? "/" + job.rel_path
                                  : options_.source + "/" + job.rel_path;
  }

  Status HashOne(const FileJob& job, std::vector<uint8_t>& buffer,
                 HashedFile& out) {
    const std::string path = PathOf(job);
    Result<UniqueFd> fd = OpenBeneath(root_fd_, job.rel_path);
    if (!fd.ok()) return Status::FromErrno(fd.status().err(), path);
    struct stat st;
    if (fstat(fd->get(), &st) != 0) return ErrnoStatus(path);
    if (!S_ISREG(st.st_mode) || st.st_dev != job.dev || st.st_ino != job.ino ||
        static_cast<uint64_t>(st.st_size) != job.size) {
      return Status::FromErrno(EAGAIN, path + ": changed during the build");
    }
    MerkleTree tree;
    if (job.size <= options_.in_memory_max) {
      // One extra byte detects a file that grew since it was walked.
      buffer.resize(job.size + 1);
      Result<size_t> got = PreadFull(fd->get(), buffer, 0);
      if (!got.ok()) return got.status().WithPrefix(path);
      if (*got != job.size) {
        return Status::FromErrno(EAGAIN, path + ": changed during the build");
      }
      std::span<const uint8_t> data(buffer.data(), job.size);
      tree = ComputeMerkleTree(data);
      SEALFS_RETURN_IF_ERROR(writer_.AddFromBytes(data, tree).WithPrefix(path));
    } else {
      Result<MerkleTree> computed = ComputeMerkleTree(fd->get());
      if (!computed.ok()) return computed.status().WithPrefix(path);
      tree = std::move(*computed);
      if (tree.data_size != job.size) {
        return Status::FromErrno(EAGAIN, path + ": changed during the build");
      }
      SEALFS_RETURN_IF_ERROR(writer_.AddFromFd(fd->get(), tree).WithPrefix(path));
    }
    out.node = job.node;
    out.digest = tree.digest;
    out.size = job.size;
    if (options_.progress != nullptr) options_.progress->Add(job.size);
    return Status();
  }

  const int root_fd_;
  const std::vector<FileJob>& files_;
  StoreWriter& writer_;
  const HashOptions& options_;
  std::vector<HashedFile> results_;  // slot i written only by its claimer
  std::vector<size_t> order_;
  std::atomic<size_t> next_{0};
  std::atomic<bool> failed_{false};
  std::mutex mu_;
  Status error_;  // guarded by mu_; the first failure
};

}  // namespace

Result<std::vector<HashedFile>> HashFiles(int root_fd,
                                          const std::vector<FileJob>& files,
                                          StoreWriter& writer,
                                          const HashOptions& options) {
  Pool pool(root_fd, files, writer, options);
  return pool.Run();
}

}  // namespace sealfs::mkfs
