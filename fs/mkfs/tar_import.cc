// SPDX-License-Identifier: Apache-2.0
// Tar layers -> ImageTree + store, with libarchive: the stream is read once,
// each entry checked, its content inlined or streamed into the store.
#include "fs/mkfs/tar_import.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <utility>

#include "fs/mkfs/archive_api.h"
#include "fs/mkfs/image_file.h"
#include "fs/mkfs/layer_build.h"
#include "sealfs/format.h"

namespace sealfs::mkfs {
namespace {

struct ArchiveDeleter {
  void operator()(archive* a) const { Archive().read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;

// The input side of one archive: the stream's pieces, counted for the
// progress bar.
struct Source {
  ByteStream* in = nullptr;
  Progress* progress = nullptr;
  Status read_status;  // why the stream failed, if it did
};

la_ssize_t ReadCallback(archive* a, void* client_data, const void** out) {
  auto* source = static_cast<Source*>(client_data);
  Result<std::span<const uint8_t>> piece = source->in->Next();
  if (!piece.ok()) {
    source->read_status = piece.status();
    Archive().set_error(a, piece.status().err(), "%s",
                        piece.status().ToString().c_str());
    return -1;
  }
  if (source->progress != nullptr) source->progress->Add(piece->size());
  *out = piece->data();
  return static_cast<la_ssize_t>(piece->size());
}

// libarchive's last error as a Status: the stream's failure if reading
// failed, else kErrCorrupt (the archive itself is bad).
Status ArchiveError(archive* a, const Source& source) {
  if (!source.read_status.ok()) return source.read_status;
  const char* msg = Archive().error_string(a);
  return Status::Corrupt(msg != nullptr ? msg : "unreadable archive");
}

// ARCHIVE_WARN from the header reader is accepted only when it says a name
// could not be converted to the current locale: libarchive then keeps the
// name's bytes as they are in the archive, which is what GNU tar extracts.
// Any other warning (a malformed pax attribute, ...) refuses the entry.
bool IsCharsetWarning(archive* a) {
  const char* msg = Archive().error_string(a);
  if (msg == nullptr) return false;
  std::string_view text(msg);
  return text.find("can't be converted") != std::string_view::npos;
}

Status CheckId(int64_t id, const char* what) {
  if (id < 0 || id > UINT32_MAX) {
    return Status::FromErrno(EINVAL, std::string(what) + " " +
                                         std::to_string(id) +
                                         " does not fit in 32 bits");
  }
  return Status();
}

Result<std::vector<Xattr>> EntryXattrs(archive_entry* entry) {
  std::vector<Xattr> out;
  std::set<std::string> seen;
  Archive().entry_xattr_reset(entry);
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  while (Archive().entry_xattr_next(entry, &name, &value, &size) ==
         ARCHIVE_OK) {
    std::string key = name != nullptr ? name : "";
    if (key.empty() || key.size() > kMaxXattrNameLen) {
      return Status::FromErrno(EINVAL, "xattr name empty or over " +
                                           std::to_string(kMaxXattrNameLen) +
                                           " bytes");
    }
    if (size > kMaxXattrValueLen) {
      return Status::FromErrno(EINVAL, "xattr " + EscapeName(key) +
                                           ": value over " +
                                           std::to_string(kMaxXattrValueLen) +
                                           " bytes");
    }
    if (!seen.insert(key).second) {
      return Status::FromErrno(EINVAL,
                               "xattr " + EscapeName(key) + " given twice");
    }
    std::string bytes(size, '\0');
    if (size > 0) std::memcpy(bytes.data(), value, size);
    out.push_back(Xattr{std::move(key), std::move(bytes)});
  }
  return out;
}

class LayerReader {
 public:
  LayerReader(archive* a, const Source& source, LayerSink& sink,
              StoreWriter& writer, const TarLayerOptions& options)
      : a_(a), source_(source), sink_(sink), writer_(writer),
        options_(options) {}

  Status Entry(archive_entry* entry) {
    const char* path = Archive().entry_pathname(entry);
    if (path == nullptr) return Status::Corrupt("entry without a path");
    if (const char* target = Archive().entry_hardlink(entry); target != nullptr) {
      // Its content, if a writer stored one, is the target's: skipped.
      return sink_.ApplyHardLink(path, target)
          .WithPrefix(HardLinkContext(target));
    }
    SEALFS_ASSIGN_OR_RETURN(std::vector<std::string> parts,
                            SplitEntryPath(path));
    if (!parts.empty() && parts.back().starts_with(kWhiteoutPrefix)) {
      return sink_.Apply(path, InodeSpec());  // its content is skipped
    }
    SEALFS_ASSIGN_OR_RETURN(InodeSpec spec, Metadata(entry));
    return sink_.Apply(path, std::move(spec));
  }

 private:
  Result<InodeSpec> Metadata(archive_entry* entry) {
    const ArchiveApi& ar = Archive();
    InodeSpec spec;
    const uint32_t type = ar.entry_filetype(entry);
    spec.mode = type | (ar.entry_perm(entry) & 07777);
    SEALFS_RETURN_IF_ERROR(CheckId(ar.entry_uid(entry), "uid"));
    SEALFS_RETURN_IF_ERROR(CheckId(ar.entry_gid(entry), "gid"));
    spec.uid = static_cast<uint32_t>(ar.entry_uid(entry));
    spec.gid = static_cast<uint32_t>(ar.entry_gid(entry));
    if (ar.entry_mtime_is_set(entry)) {
      const long nsec = ar.entry_mtime_nsec(entry);
      if (nsec < 0 || nsec > 999999999) {
        return Status::FromErrno(EINVAL, "mtime nanoseconds out of range");
      }
      spec.mtime_sec = ar.entry_mtime(entry);
      spec.mtime_nsec = static_cast<uint32_t>(nsec);
    }
    if (ar.entry_acl_types(entry) != 0) {
      return Status::FromErrno(EINVAL, "POSIX ACLs are not supported");
    }
    SEALFS_ASSIGN_OR_RETURN(spec.xattrs, EntryXattrs(entry));
    switch (type) {
      case AE_IFREG:
        SEALFS_RETURN_IF_ERROR(Content(entry, spec));
        break;
      case AE_IFDIR:
      case AE_IFIFO:
        break;
      case AE_IFLNK: {
        const char* target = ar.entry_symlink(entry);
        if (target == nullptr || *target == '\0') {
          return Status::FromErrno(EINVAL, "symlink without a target");
        }
        spec.symlink_target = target;
        if (spec.symlink_target.size() > kMaxSymlinkLen) {
          return Status::FromErrno(ENAMETOOLONG,
                                   "symlink target over " +
                                       std::to_string(kMaxSymlinkLen) +
                                       " bytes");
        }
        break;
      }
      case AE_IFCHR:
      case AE_IFBLK: {
        const uint64_t major = ar.entry_rdevmajor(entry);
        const uint64_t minor = ar.entry_rdevminor(entry);
        if (major > UINT32_MAX || minor > UINT32_MAX) {
          return Status::FromErrno(EINVAL, "device number out of range");
        }
        spec.rdev_major = static_cast<uint32_t>(major);
        spec.rdev_minor = static_cast<uint32_t>(minor);
        break;
      }
      default:
        return Status::FromErrno(EINVAL, "unsupported entry type");
    }
    return spec;
  }

  // Reads a regular file's data: inline when small (the walker's rule), else
  // streamed into the store. Only `size` bytes are ever asked for, and
  // nothing is allocated from `size` beyond inline_max (<= kMaxInlineSize).
  Status Content(archive_entry* entry, InodeSpec& spec) {
    const int64_t declared = Archive().entry_size(entry);
    if (declared < 0) return Status::Corrupt("negative size");
    const uint64_t size = static_cast<uint64_t>(declared);
    spec.size = size;
    // archive_read_data fills the holes of a sparse entry up to its last
    // data block but stops there: the trailing hole is ours to fill. Only a
    // sparse entry may end early; any other is refused as truncated.
    const bool sparse = Archive().entry_sparse_count(entry) > 0;
    uint64_t delivered = 0;
    StoreWriter::StreamReader read =
        [this, sparse, size, &delivered](
            std::span<uint8_t> buffer) -> Result<size_t> {
      la_ssize_t n = Archive().read_data(a_, buffer.data(), buffer.size());
      if (n < 0) return ArchiveError(a_, source_);
      size_t got = static_cast<size_t>(n);
      if (got == 0 && sparse && delivered < size) {
        got = static_cast<size_t>(
            std::min<uint64_t>(buffer.size(), size - delivered));
        std::memset(buffer.data(), 0, got);
      }
      delivered += got;
      return got;
    };
    if (size > options_.inline_max) {
      Result<Digest> digest = writer_.AddFromStream(size, read);
      if (!digest.ok()) return digest.status().WithPrefix("data");
      spec.digest = *digest;
      return Status();
    }
    std::string data(size, '\0');
    size_t got = 0;
    while (got < size) {
      SEALFS_ASSIGN_OR_RETURN(
          size_t n,
          read(std::span<uint8_t>(reinterpret_cast<uint8_t*>(data.data()) + got,
                                  size - got)));
      if (n == 0) {
        return Status::Corrupt("data: ends " + std::to_string(size - got) +
                               " bytes before its declared size");
      }
      got += n;
    }
    spec.inline_data = std::move(data);
    return Status();
  }

  archive* a_;
  const Source& source_;
  LayerSink& sink_;
  StoreWriter& writer_;
  const TarLayerOptions& options_;
};

// The filters a layer may use. Only those libarchive implements in-process
// (ARCHIVE_OK, not ARCHIVE_WARN which means "through an external program"):
// archive_read_support_filter_all would also enable uudecode, rpm and
// fork/exec filters (lrzip, lzop, grzip), which have no place in a reader
// of hostile input.
Status EnableFilters(archive* a) {
  using Enable = int (*)(archive*);
  const std::pair<const char*, Enable> filters[] = {
      {"gzip", Archive().read_support_filter_gzip},
      {"zstd", Archive().read_support_filter_zstd},
      {"xz", Archive().read_support_filter_xz},
      {"bzip2", Archive().read_support_filter_bzip2},
  };
  for (const auto& [name, enable] : filters) {
    if (enable(a) != ARCHIVE_OK) {
      return Status::FromErrno(ENOTSUP, std::string("libarchive lacks a ") +
                                            name + " decoder");
    }
  }
  return Status();
}

}  // namespace

Status ImportTarLayer(ByteStream& in, LayerSink& sink, StoreWriter& writer,
                      const TarLayerOptions& options) {
  SEALFS_RETURN_IF_ERROR(LoadArchive().status());
  ArchivePtr a(Archive().read_new());
  if (a == nullptr) return Status::FromErrno(ENOMEM, "archive_read_new");
  if (options.detect_compression) {
    SEALFS_RETURN_IF_ERROR(EnableFilters(a.get()));
  }
  // The tar reader covers v7, ustar, pax and GNU tar; no other format is
  // enabled, so nothing else (zip, cpio, iso9660, ...) is ever parsed.
  if (Archive().read_support_format_tar(a.get()) != ARCHIVE_OK) {
    return Status::FromErrno(ENOTSUP, "libarchive lacks a tar reader");
  }
  Source source;
  source.in = &in;
  source.progress = options.progress;
  if (Archive().read_open(a.get(), &source, nullptr, ReadCallback, nullptr) !=
      ARCHIVE_OK) {
    return ArchiveError(a.get(), source);
  }
  LayerReader reader(a.get(), source, sink, writer, options);
  std::string previous;  // escaped path of the last entry, for messages
  for (;;) {
    archive_entry* entry = nullptr;
    int r = Archive().read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && !(r == ARCHIVE_WARN && IsCharsetWarning(a.get()))) {
      Status s = ArchiveError(a.get(), source);
      if (previous.empty()) return s.WithPrefix("at the start");
      return s.WithPrefix("after entry " + previous);
    }
    const char* path = Archive().entry_pathname(entry);
    previous = EscapeName(path != nullptr ? path : "");
    SEALFS_RETURN_IF_ERROR(reader.Entry(entry).WithPrefix("entry " + previous));
  }
  return Status();
}

namespace {

// Opens one layer: "-" is stdin (not closed), anything else a path.
Result<UniqueFd> OpenLayer(const std::string& layer) {
  if (layer == "-") {
    // A layer is never typed in: waiting on a terminal would only hang.
    if (isatty(STDIN_FILENO) == 1) {
      return Status::FromErrno(ENOTTY, "stdin is a terminal, not a tar layer");
    }
    return UniqueFd();
  }
  UniqueFd fd(open(layer.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) return ErrnoStatus("open");
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus("fstat");
  if (S_ISDIR(st.st_mode)) {
    return Status::FromErrno(EISDIR, "a directory, not a tar layer");
  }
  return fd;
}

}  // namespace

Result<MkfsReport> BuildImageFromTar(const std::vector<std::string>& layers,
                                     const MkfsOptions& options) {
  if (layers.empty()) return Status::FromErrno(EINVAL, "no tar layer given");
  size_t stdin_count = 0;
  for (const std::string& layer : layers) stdin_count += layer == "-" ? 1 : 0;
  if (stdin_count > 1) {
    return Status::FromErrno(EINVAL, "stdin ('-') given as more than one layer");
  }
  SEALFS_RETURN_IF_ERROR(CheckMkfsOptions(options));
  SEALFS_ASSIGN_OR_RETURN(std::optional<SigningKey> key,
                          PrepareImageOutput(options));
  std::vector<LayerInput> inputs;
  for (const std::string& layer : layers) {
    LayerInput input;
    input.name = layer == "-" ? "stdin" : layer;
    struct stat st;
    if (layer != "-" && stat(layer.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      input.bytes = static_cast<uint64_t>(st.st_size);
    }
    input.decode = [layer](const LayerContext& context,
                           RecordedLayer* out) -> Status {
      SEALFS_ASSIGN_OR_RETURN(UniqueFd fd, OpenLayer(layer));
      std::unique_ptr<ByteStream> in =
          FdStream(fd.valid() ? fd.get() : STDIN_FILENO);
      std::unique_ptr<ByteStream> watched = context.Watch(*in);
      TarLayerOptions tar_options;
      tar_options.inline_max = context.inline_max;
      return ImportTarLayer(*watched, *out, context.writer, tar_options);
    };
    inputs.push_back(std::move(input));
  }
  return BuildImageFromLayers(std::move(inputs), options, key);
}

}  // namespace sealfs::mkfs
