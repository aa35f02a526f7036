// SPDX-License-Identifier: Apache-2.0
// Quarantine: renameat2(RENAME_NOREPLACE) into quarantine/, then the record.
#include "fs/store/quarantine.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <span>
#include <utility>

#include "fs/core/store_io.h"
#include "fs/util/io.h"
#include "sealfs/format.h"

namespace sealfs::store {
namespace {

std::string Sanitise(const std::string& stem) {
  std::string out;
  for (char c : stem.substr(0, 100)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    out += ok ? c : '_';
  }
  if (out.empty() || out.front() == '.') out.insert(out.begin(), '_');
  return out;
}

}  // namespace

Result<int> Quarantine::Dir() {
  std::lock_guard lock(mu_);
  if (dir_.valid()) return dir_.get();
  // 0700: quarantined bytes are suspect; nobody but the owner needs them.
  if (::mkdirat(store_fd_, kQuarantineDir, 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(std::string("mkdir ") + kQuarantineDir);
  }
  Result<UniqueFd> fd =
      OpenBeneath(store_fd_, kQuarantineDir, O_RDONLY | O_DIRECTORY);
  if (!fd.ok()) {
    return StoreOpenError(fd.status().err(), std::string(kQuarantineDir) + "/");
  }
  dir_ = std::move(*fd);
  return dir_.get();
}

Result<std::string> Quarantine::Move(int dir_fd, const std::string& name,
                                     const std::string& stem,
                                     QuarantineRecord record) {
  SEALFS_ASSIGN_OR_RETURN(int qdir, Dir());
  record.time = static_cast<int64_t>(std::time(nullptr));
  const std::string base = Sanitise(stem) + "." + std::to_string(record.time);
  std::string target;
  for (int n = 0;; ++n) {
    target = n == 0 ? base : base + "." + std::to_string(n);
    if (::renameat2(dir_fd, name.c_str(), qdir, target.c_str(),
                    RENAME_NOREPLACE) == 0) {
      break;
    }
    if (errno != EEXIST || n >= 1000) {
      return ErrnoStatus("quarantine " + record.original);
    }
  }
  record.quarantined_as = std::string(kQuarantineDir) + "/" + target;
  std::string shown = record.quarantined_as;
  const std::string text = format_ ? format_(record) + "\n" : std::string();
  const std::string record_name = target + ".json";
  UniqueFd fd(::openat(qdir, record_name.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       0600));
  Status wrote =
      fd.valid() ? WriteFull(fd.get(),
                             std::span<const uint8_t>(
                                 reinterpret_cast<const uint8_t*>(text.data()),
                                 text.size()))
                 : ErrnoStatus(record_name);
  if (wrote.ok() && ::fsync(fd.get()) != 0) wrote = ErrnoStatus("fsync");
  if (!wrote.ok()) shown += " (record not written: " + wrote.ToString() + ")";
  (void)::fsync(qdir);
  (void)::fsync(dir_fd);
  return shown;
}

}  // namespace sealfs::store
