// SPDX-License-Identifier: Apache-2.0
// QuarantineObject: rename a corrupt object into quarantine/ with a record.
#include "fs/remote/quarantine.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <string>

#include "fs/core/store_io.h"
#include "fs/util/io.h"

namespace sealfs::remote {
namespace {

std::string JsonEscape(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace

Result<std::string> QuarantineObject(const Store& store, const Digest& digest,
                                     const std::string& reason,
                                     const std::optional<Digest>& actual) {
  const int dir = store.dir_fd();
  if (::mkdirat(dir, kQuarantineDir, 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(store.path() + "/" + kQuarantineDir + ": mkdir");
  }
  SEALFS_ASSIGN_OR_RETURN(
      UniqueFd qdir,
      OpenBeneath(dir, kQuarantineDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  SEALFS_ASSIGN_OR_RETURN(UniqueFd odir,
                          OpenFanoutDir(dir, kObjectsDir, digest, false));
  const std::string leaf = LeafName(digest);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const std::string stem = digest.Hex() + "." + std::to_string(now);
  std::string name;
  // <hex>.<time>, or <hex>.<time>.N when quarantined twice in one second.
  for (int attempt = 0;; ++attempt) {
    name = attempt == 0 ? stem : stem + "." + std::to_string(attempt);
    if (::renameat2(odir.get(), leaf.c_str(), qdir.get(), name.c_str(),
                    RENAME_NOREPLACE) == 0) {
      break;
    }
    if (errno != EEXIST || attempt >= 1000) {
      return ErrnoStatus("quarantine " + Store::ObjectPath(digest));
    }
  }
  // The tree may be bad too; it is rebuildable, so it goes (ENOENT: there
  // was none).
  Result<UniqueFd> tdir = OpenFanoutDir(dir, kTreesDir, digest, false);
  if (tdir.ok()) (void)::unlinkat(tdir->get(), leaf.c_str(), 0);

  const std::string record =
      "{\"original\":" + JsonEscape(Store::ObjectPath(digest)) +
      ",\"reason\":" + JsonEscape(reason) +
      ",\"expected\":" + JsonEscape(digest.ToString()) + ",\"actual\":" +
      (actual.has_value() ? JsonEscape(actual->ToString()) : "null") +
      ",\"time\":" + std::to_string(now) + ",\"quarantined_as\":" +
      JsonEscape(std::string(kQuarantineDir) + "/" + name) +
      ",\"by\":\"sealfs pull --verify\"}\n";
  SEALFS_RETURN_IF_ERROR(WriteNewFile(
      qdir.get(), name + ".json",
      {reinterpret_cast<const uint8_t*>(record.data()), record.size()}));
  (void)::fsync(qdir.get());
  (void)::fsync(odir.get());
  return name;
}

}  // namespace sealfs::remote
