// SPDX-License-Identifier: Apache-2.0
// OCI image layouts (image-spec image-layout.md) as an OciImageSource: the
// `oci:DIR[:TAG]` directories that skopeo, umoci and buildah write, and,
// through fs/mkfs/oci_archive.h, the same layout inside an `oci-archive:`
// tar file. Only the names the layout defines are ever opened (oci-layout,
// index.json, blobs/sha256/<64 hex> from a digest already checked to be
// that), beneath the layout, following no symlink. Thread-safe.
#ifndef SEALFS_FS_MKFS_OCI_LAYOUT_H_
#define SEALFS_FS_MKFS_OCI_LAYOUT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "fs/core/oci_source.h"
#include "fs/mkfs/oci_image.h"
#include "sealfs/status.h"
#include "sealfs/unique_fd.h"

namespace sealfs::mkfs {

// Where the files of a layout are. Thread-safe.
class LayoutFiles {
 public:
  virtual ~LayoutFiles() = default;

  // A file of the layout: bytes [offset, offset + size) of `fd`.
  struct File {
    std::shared_ptr<const UniqueFd> fd;
    uint64_t offset = 0;
    uint64_t size = 0;
  };
  // `name` is one the layout defines ("oci-layout", "index.json",
  // "blobs/sha256/<64 hex>"). ENOENT if absent; kErrCorrupt if it is not
  // a regular file.
  virtual Result<File> Open(const std::string& name) = 0;
};

// The layout in directory `dir`: files opened beneath it with
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, regular files only.
Result<std::unique_ptr<LayoutFiles>> OpenLayoutDirectory(
    const std::string& dir);

// The image tagged `tag` in the layout `files` holds (an empty tag: the
// only image), for `platform` where the tag names several. The oci-layout
// file is checked here (ENOENT if there is none: not a layout), index.json
// when ReadTop() is called.
Result<std::unique_ptr<OciImageSource>> OpenOciLayout(
    std::unique_ptr<LayoutFiles> files, std::string tag, Platform platform);

}  // namespace sealfs::mkfs

#endif  // SEALFS_FS_MKFS_OCI_LAYOUT_H_
