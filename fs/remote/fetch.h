// SPDX-License-Identifier: Apache-2.0
// Fetching one object from an ObjectSource into a store: the bytes are
// hashed as they stream in and kept only if they match the digest the
// manifest names (StoreWriter::AddFromStream). Reentrant.
#ifndef SEALFS_FS_REMOTE_FETCH_H_
#define SEALFS_FS_REMOTE_FETCH_H_

#include <cstdint>

#include "fs/remote/object_source.h"
#include "sealfs/digest.h"
#include "sealfs/status.h"
#include "sealfs/store.h"

namespace sealfs::remote {

// Streams object `digest` (`size` bytes per the manifest) from `source` into
// `writer`. Not visible until writer.Commit(). On failure nothing is kept;
// the Status names the object and the reason, e.g. kErrDigest "object
// sha256:...: source served wrong bytes (hashes to sha256:...)", ENOENT
// "... not found at URL (HTTP 404)", ETIMEDOUT, kErrCorrupt for a size
// mismatch.
Status FetchObject(ObjectSource& source, StoreWriter& writer,
                   const Digest& digest, uint64_t size);

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_FETCH_H_
