// SPDX-License-Identifier: Apache-2.0
// ObjectSource: where missing objects and images come from (another store
// directory, or an HTTP(S) server serving a store's layout). A source is
// never trusted: it hands out a size-bounded byte stream, and the caller
// (StoreWriter::AddFromStream) keeps the bytes only if they hash to the
// digest the manifest names. Thread-safety: a source may be used from many
// threads at once; each stream belongs to one thread.
#ifndef SEALFS_FS_REMOTE_OBJECT_SOURCE_H_
#define SEALFS_FS_REMOTE_OBJECT_SOURCE_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sealfs/digest.h"
#include "sealfs/status.h"

namespace sealfs::remote {

// Bounds on one transfer, so a remote that is down or stalls costs a
// bounded wait, never a hang.
struct FetchLimits {
  unsigned connect_timeout_s = 10;  // TCP + TLS handshake
  unsigned stall_timeout_s = 10;    // below kLowSpeedBytes/s this long: abort
  unsigned total_timeout_s = 600;   // whole transfer of one object or image
};
inline constexpr long kLowSpeedBytes = 1024;  // bytes/s that count as a stall

// The largest image a source may serve (a manifest of a few million files).
inline constexpr uint64_t kMaxImageBytes = uint64_t{1} << 30;

// One object's bytes, read once, in order. Never yields more than the size
// the stream was opened with; a stream that ends early is an error.
class ObjectStream {
 public:
  virtual ~ObjectStream() = default;
  // Reads into `out`; returns the bytes read (> 0), or 0 once all the
  // expected bytes were delivered. An error names the object and the source.
  virtual Result<size_t> Read(std::span<uint8_t> out) = 0;
};

class ObjectSource {
 public:
  virtual ~ObjectSource() = default;

  // Opens object `digest`, which the manifest says is `size` bytes. ENOENT
  // if the source lacks it; kErrCorrupt if the source's object has another
  // size (refused before any byte is read); EIO/ETIMEDOUT/ECONNREFUSED...
  // when the source cannot be reached. The bytes are NOT verified.
  virtual Result<std::unique_ptr<ObjectStream>> OpenObject(const Digest& digest,
                                                           uint64_t size) = 0;

  // Reads the image file images/`name` (at most kMaxImageBytes). ENOENT if
  // absent. The bytes are NOT validated: use Manifest::FromBytes.
  // REQUIRES: IsValidImageName(name).
  virtual Result<std::vector<uint8_t>> ReadImage(const std::string& name) = 0;

  // The source as the user named it (a directory or a URL), for messages.
  virtual const std::string& location() const = 0;
};

// Opens "http://...", "https://..." as an HTTP source, anything else as a
// local store directory. Other URL schemes (ftp://, file://, ...) are
// EPROTONOSUPPORT.
Result<std::unique_ptr<ObjectSource>> OpenObjectSource(
    const std::string& spec, const FetchLimits& limits);

// Whether `spec` names an HTTP(S) source.
bool IsHttpSource(std::string_view spec);

// Image (tag) names: [A-Za-z0-9._-]{1,128}, not starting with '.' and not
// containing ".tmp-" (docs/FORMAT.md), so a name is always one plain file in
// images/ and never a hidden or temp file.
bool IsValidImageName(std::string_view name);

}  // namespace sealfs::remote

#endif  // SEALFS_FS_REMOTE_OBJECT_SOURCE_H_
