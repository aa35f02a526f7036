// SPDX-License-Identifier: Apache-2.0
// libarchive, loaded on first use (see fs/util/shared_library.h): the
// functions the tar importer calls, as a table.
#ifndef SEALFS_FS_MKFS_ARCHIVE_API_H_
#define SEALFS_FS_MKFS_ARCHIVE_API_H_

#include <archive.h>
#include <archive_entry.h>

#include "sealfs/status.h"

namespace sealfs::mkfs {

// X(name) for each archive_<name> used.
// clang-format off
#define SEALFS_ARCHIVE_FUNCTIONS(X)                                        \
  X(read_new) X(read_free) X(read_open) X(read_next_header) X(read_data)   \
  X(read_support_format_tar) X(read_support_filter_gzip)                   \
  X(read_support_filter_zstd) X(read_support_filter_xz)                    \
  X(read_support_filter_bzip2) X(error_string) X(set_error)                \
  X(entry_pathname) X(entry_hardlink) X(entry_symlink) X(entry_filetype)   \
  X(entry_perm) X(entry_uid) X(entry_gid) X(entry_mtime)                   \
  X(entry_mtime_nsec) X(entry_mtime_is_set) X(entry_size)                  \
  X(entry_sparse_count) X(entry_rdevmajor) X(entry_rdevminor)              \
  X(entry_acl_types) X(entry_xattr_reset) X(entry_xattr_next)            \
  X(read_support_format_raw) X(read_data_block) X(filter_code)
// clang-format on

struct ArchiveApi {
#define SEALFS_ARCHIVE_POINTER(name) \
  decltype(&::archive_##name) name = nullptr;
  SEALFS_ARCHIVE_FUNCTIONS(SEALFS_ARCHIVE_POINTER)
#undef SEALFS_ARCHIVE_POINTER
};

// The loaded library; the same answer on every call.
const Result<const ArchiveApi*>& LoadArchive();

// The table, once LoadArchive() has succeeded.
const ArchiveApi& Archive();

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_ARCHIVE_API_H_
