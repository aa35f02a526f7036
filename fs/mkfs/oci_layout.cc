// SPDX-License-Identifier: Apache-2.0
// OCI image layouts: the files, and the source built on them.
#include "fs/mkfs/oci_layout.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <utility>
#include <vector>

#include "fs/core/store_io.h"
#include "fs/util/io.h"

namespace sealfs::mkfs {
namespace {

constexpr char kLayoutFile[] = "oci-layout";
constexpr char kIndexFile[] = "index.json";
constexpr uint64_t kMaxLayoutFile = 4096;

class DirectoryFiles : public LayoutFiles {
 public:
  explicit DirectoryFiles(UniqueFd dir) : dir_(std::move(dir)) {}

  Result<File> Open(const std::string& name) override {
    Result<UniqueFd> fd =
        OpenBeneath(dir_.get(), name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (!fd.ok()) {
      if (fd.status().err() == ELOOP) {
        return Status::Corrupt(name + ": a symlink (not followed)");
      }
      return fd.status();
    }
    struct stat st;
    if (fstat(fd->get(), &st) != 0) return ErrnoStatus(name);
    SEALFS_RETURN_IF_ERROR(CheckRegular(st, name));
    File f;
    f.size = static_cast<uint64_t>(st.st_size);
    f.fd = std::make_shared<const UniqueFd>(std::move(*fd));
    return f;
  }

 private:
  UniqueFd dir_;
};

std::string BlobName(const Digest& digest) {
  return "blobs/sha256/" + digest.Hex();
}

class LayoutSource : public OciImageSource {
 public:
  LayoutSource(std::unique_ptr<LayoutFiles> files, std::string tag,
               Platform platform)
      : files_(std::move(files)),
        tag_(std::move(tag)),
        platform_(std::move(platform)) {}

  Result<OciDocument> ReadTop() override {
    SEALFS_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes,
                            ReadSmall(kIndexFile, kMaxOciManifestBytes));
    Result<std::vector<IndexEntry>> entries =
        ParseImageIndex(bytes, kOciIndexMediaType);
    if (!entries.ok()) return entries.status().WithPrefix(kIndexFile);
    Result<OciDescriptor> chosen = SelectByTag(*entries, tag_, platform_);
    if (!chosen.ok()) return chosen.status();
    OciDocument doc;
    doc.descriptor = *chosen;
    SEALFS_ASSIGN_OR_RETURN(doc.bytes, ReadManifest(doc.descriptor));
    return doc;
  }

  Result<std::vector<uint8_t>> ReadManifest(
      const OciDescriptor& desc) override {
    SEALFS_RETURN_IF_ERROR(CheckManifestSize(desc));
    SEALFS_ASSIGN_OR_RETURN(LayoutFiles::File file, OpenBlobFile(desc));
    return ReadAll(file, BlobName(desc.digest));
  }

  Result<std::unique_ptr<ByteStream>> OpenBlob(
      const OciDescriptor& desc) override {
    SEALFS_ASSIGN_OR_RETURN(LayoutFiles::File file, OpenBlobFile(desc));
    return PreadStream(file.fd, file.offset, file.size);
  }

  // File `name` of the layout, of at most `max` bytes.
  Result<std::vector<uint8_t>> ReadSmall(const std::string& name,
                                         uint64_t max) {
    SEALFS_ASSIGN_OR_RETURN(LayoutFiles::File file, files_->Open(name));
    if (file.size > max) {
      return Status::Corrupt(name + ": " + std::to_string(file.size) +
                             " bytes, over " + std::to_string(max));
    }
    return ReadAll(file, name);
  }

 private:
  // The blob's file, which must be exactly as large as its descriptor
  // says: a short one is truncated, a long one is not that blob.
  Result<LayoutFiles::File> OpenBlobFile(const OciDescriptor& desc) {
    const std::string name = BlobName(desc.digest);
    SEALFS_ASSIGN_OR_RETURN(LayoutFiles::File file, files_->Open(name));
    if (file.size != desc.size) {
      return Status::Corrupt(name + ": " + std::to_string(file.size) +
                             " bytes, its descriptor says " +
                             std::to_string(desc.size) +
                             (file.size < desc.size ? " (truncated)" : ""));
    }
    return file;
  }

  static Result<std::vector<uint8_t>> ReadAll(const LayoutFiles::File& file,
                                              const std::string& name) {
    std::vector<uint8_t> bytes(static_cast<size_t>(file.size));
    Result<size_t> got = PreadFull(file.fd->get(), bytes, file.offset);
    if (!got.ok()) return got.status().WithPrefix(name);
    if (*got != bytes.size()) {
      return Status::Corrupt(name + ": ends after " + std::to_string(*got) +
                             " of " + std::to_string(bytes.size()) + " bytes");
    }
    return bytes;
  }

  const std::unique_ptr<LayoutFiles> files_;
  const std::string tag_;
  const Platform platform_;
};

}  // namespace

Result<std::unique_ptr<LayoutFiles>> OpenLayoutDirectory(
    const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(dir);
  return std::unique_ptr<LayoutFiles>(new DirectoryFiles(std::move(fd)));
}

Result<std::unique_ptr<OciImageSource>> OpenOciLayout(
    std::unique_ptr<LayoutFiles> files, std::string tag, Platform platform) {
  auto source = std::make_unique<LayoutSource>(std::move(files), std::move(tag),
                                               std::move(platform));
  Result<std::vector<uint8_t>> layout =
      source->ReadSmall(kLayoutFile, kMaxLayoutFile);
  if (!layout.ok()) {
    if (layout.status().err() == ENOENT) {
      return Status::FromErrno(ENOENT,
                               "no oci-layout file: not an OCI image layout");
    }
    return layout.status();
  }
  SEALFS_RETURN_IF_ERROR(ParseOciLayoutFile(*layout));
  return std::unique_ptr<OciImageSource>(std::move(source));
}

}  // namespace sealfs::mkfs
