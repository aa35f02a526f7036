// SPDX-License-Identifier: Apache-2.0
// `oci-archive:FILE`: an OCI image layout in an uncompressed tar file, as
// skopeo, umoci and buildah write it. The archive is never extracted: one
// pass over its headers (not its data) indexes where each file of the
// layout lies, and blobs are then read in place with pread. No name from
// the archive is ever used as a path. Thread-safe once built.
#ifndef SEALFS_FS_MKFS_OCI_ARCHIVE_H_
#define SEALFS_FS_MKFS_OCI_ARCHIVE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "fs/mkfs/oci_layout.h"
#include "sealfs/status.h"

namespace sealfs::mkfs {

// Where a member's data lies in the archive.
struct ArchiveMember {
  uint64_t offset = 0;
  uint64_t size = 0;
};

// Reads up to out.size() bytes at `offset`; fewer only at the end.
using ReadAtFn =
    std::function<Result<size_t>(std::span<uint8_t> out, uint64_t offset)>;

// Indexes the regular files of an uncompressed ustar, pax or GNU tar of
// `size` bytes whose names an image layout defines ("oci-layout",
// "index.json", "blobs/<alg>/<hex>", after any leading "./"); other members
// are skipped. Reads only the headers (512-byte blocks, pax and GNU long
// name records of at most 1 MiB), never more than `size` bytes. kErrCorrupt
// naming the member and the check for a bad checksum or magic, a number
// that does not parse, a member running past the end, a malformed pax
// record, a global pax header that sets a path or size, a sparse or unknown
// member type, or a layout file given twice.
Result<std::map<std::string, ArchiveMember>> IndexTarArchive(
    const ReadAtFn& read, uint64_t size);

// The layout in the archive at `path` (a regular file: not probed for
// compression; a compressed one fails as not a tar).
Result<std::unique_ptr<LayoutFiles>> OpenLayoutArchive(const std::string& path);

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_OCI_ARCHIVE_H_
