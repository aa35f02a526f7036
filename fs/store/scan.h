// SPDX-License-Identifier: Apache-2.0
// Lists objects/ or trees/ of a store and classifies every name in it without
// opening or following anything (fstatat with AT_SYMLINK_NOFOLLOW only), so
// a symlink, directory or FIFO planted under an object's name is reported,
// never followed or waited on. Shared by fsck and gc. Reentrant.
#ifndef SEALFS_FS_STORE_SCAN_H_
#define SEALFS_FS_STORE_SCAN_H_

#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "sealfs/digest.h"
#include "sealfs/status.h"
#include "sealfs/unique_fd.h"

namespace sealfs::store {

struct ScanEntry {
  enum class Kind {
    kFile,        // a regular file named by a digest in its fan-out directory
    kTemp,        // a ".tmp-" partial write
    kNotRegular,  // a digest name that is a symlink, directory, FIFO, ...
    kBadName,     // a name in a fan-out directory that is not 62 hex digits
    kBadFanout,   // an entry of objects/ (trees/) that is not a fan-out dir
  };
  Kind kind = Kind::kFile;
  std::shared_ptr<UniqueFd> dir;  // the directory holding `name`
  std::string name;               // as found, may be any bytes but '/'
  std::string rel_path;           // "objects/ab/<62 hex>", from the store
  Digest digest;                  // for kFile and kNotRegular
  struct stat st {};              // lstat of the entry
};

// Every entry under `top` (kObjectsDir or kTreesDir) beneath `store_fd`,
// sorted by rel_path. ENOENT if `top` is missing; kErrCorrupt if it is not a
// real directory.
Result<std::vector<ScanEntry>> ScanStoreDir(int store_fd, const char* top);

// Names in the directory open at `fd` (which stays open), sorted, without
// "." and "..". `what` names the directory in errors.
Result<std::vector<std::string>> ListDirNames(int fd, const std::string& what);

// Lowercase hex only, as every tool writes it: "AB" is not a fan-out name.
bool IsFanoutName(const std::string& name);
bool IsLeafName(const std::string& name);

// A printable form of a name found on disk (control bytes and non-ASCII as
// \xNN), for messages and quarantine names.
std::string PrintableName(const std::string& name);

}  // namespace sealfs::store

#endif  // SEALFS_FS_STORE_SCAN_H_
