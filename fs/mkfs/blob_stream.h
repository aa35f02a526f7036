// SPDX-License-Identifier: Apache-2.0
// The streams an OCI layer passes through on its way to the tar reader:
// CheckedStream, which hashes what flows through it and refuses, at the
// latest at its end, bytes that are not the blob a descriptor names; and
// DecompressStream, which decodes gzip or zstd as the layer's media type
// says (never as the bytes suggest). A stream is used by one thread.
#ifndef SEALFS_FS_MKFS_BLOB_STREAM_H_
#define SEALFS_FS_MKFS_BLOB_STREAM_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "fs/mkfs/oci_image.h"
#include "fs/util/byte_stream.h"
#include "sealfs/digest.h"
#include "sealfs/status.h"

namespace sealfs::mkfs {

// `in` checked against `digest` (plain SHA-256) and, if given, `size`.
// Next() fails with kErrCorrupt "WHAT: ... bytes, expected N (truncated)"
// as soon as more than `size` bytes arrive or the stream ends short, and
// with kErrDigest "WHAT: sha256:... instead of sha256:..." when it ends
// with other bytes: the end of the stream is only reported once the whole
// of it is known to be right. REQUIRES: `in` outlives the result.
std::unique_ptr<ByteStream> CheckedStream(ByteStream& in, const Digest& digest,
                                          std::optional<uint64_t> size,
                                          std::string what);

// Reads `in` to its end, discarding the bytes (so that a CheckedStream
// beneath it checks the bytes a reader had no use for, such as the
// padding after a tar's end marker). Fails as `in` does.
Status Drain(ByteStream& in);

// `in` decompressed as `compression` says; kNone gives `in` itself back
// through a thin wrapper. Refuses with kErrCorrupt "not gzip data" (or
// zstd) if the stream does not start as that format says, and with the
// decoder's reason for damaged data. REQUIRES: `in` outlives the result.
Result<std::unique_ptr<ByteStream>> DecompressStream(ByteStream& in,
                                                     Compression compression);

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_BLOB_STREAM_H_
