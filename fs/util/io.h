// SPDX-License-Identifier: Apache-2.0
// System-call loops that handle EINTR and short transfers, and the atomic
// replace-a-file sequence (temp, fsync, rename, directory fsync). Reentrant.
#ifndef SEALFS_FS_UTIL_IO_H_
#define SEALFS_FS_UTIL_IO_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sealfs/status.h"
#include "sealfs/unique_fd.h"

namespace sealfs {

// Reads up to out.size() bytes at `offset`, stopping early only at EOF.
// Returns the byte count read.
Result<size_t> PreadFull(int fd, std::span<uint8_t> out, uint64_t offset);
// Writes all of `data` at the current position.
Status WriteFull(int fd, std::span<const uint8_t> data);
// Writes all of `data` at `offset`.
Status PwriteFull(int fd, std::span<const uint8_t> data, uint64_t offset);

// Opens `path` read-only (O_NONBLOCK: a FIFO there cannot block) and fills
// `*st`; EINVAL, naming the path, if it is not a regular file.
Result<UniqueFd> OpenRegularFile(const std::string& path, struct stat* st);

// Reads a whole file (regular files only; EINVAL otherwise). EFBIG, before
// reading, for a file larger than `max_bytes`.
Result<std::vector<uint8_t>> ReadFileBytes(const std::string& path,
                                           uint64_t max_bytes = UINT64_MAX);

// Writes `text` to the file that already exists at `path` (a sysfs or
// other control file: never created), in one write where the kernel takes
// it whole. Errors name the path.
Status WriteExistingFile(const std::string& path, std::string_view text);

// Replaces (or creates) `path` with `data` atomically: a temp file in the
// same directory, fsync, rename over `path`, fsync of the directory. The temp
// file is removed on any failure. With `no_replace`, an existing `path` is
// EEXIST and left alone.
Status WriteFileAtomic(const std::string& path, std::span<const uint8_t> data,
                       mode_t mode, bool no_replace = false);

// fsync of the directory at `path` (makes a rename or link in it durable).
Status SyncDirectory(const std::string& path);

// Raises this process's soft limit on open files to its hard limit (best
// effort). For processes whose descriptors grow with their work: the
// usual soft limit of 1024 runs out at a few mounts read at once.
void UseWholeFdLimit();

}  // namespace sealfs

#endif  // SEALFS_FS_UTIL_IO_H_
