// SPDX-License-Identifier: Apache-2.0
// Manifest: opens and validates an image, then answers lookups in place.
// Accessors still re-check every bound they rely on, so a slip in validation
// cannot become an out-of-bounds read.
#include "sealfs/manifest_reader.h"

#include <sys/stat.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "fs/core/identity_hasher.h"
#include "fs/core/manifest_validate.h"
#include "fs/util/io.h"
#include "fs/util/mapped_file.h"

namespace sealfs {

namespace {
std::string InodeContext(uint64_t ino) {
  return "manifest: inode " + std::to_string(ino);
}
}  // namespace

struct Manifest::Impl {
  explicit Impl(MappedFile f) : file(std::move(f)), bytes(file.bytes()) {}

  MappedFile file;
  std::span<const uint8_t> bytes;  // the whole image file
  ManifestLayout layout;

  Result<InodeRecord> Record(uint64_t ino) const;
  Result<DirentRecord> Dirent(uint64_t ino, const InodeRecord& dir,
                              uint64_t index) const;
  // Bytes [off, off + len) of STRINGS; `what` names them in the error.
  template <typename What>
  Result<std::string_view> String(uint64_t off, uint64_t len,
                                  const What& what) const {
    std::span<const uint8_t> s;
    if (!SliceOf(bytes, layout.section(kSectionStrings), off, len, &s)) {
      return Status::Corrupt(what() + " extends past string table");
    }
    return AsView(s);
  }
  Result<std::vector<XattrView>> Xattrs(uint64_t ino,
                                        const InodeRecord& r) const;
};

namespace {

Inode Decode(uint64_t ino, const InodeRecord& r) {
  Inode i;
  i.ino = ino;
  i.mode = r.mode.value();
  i.uid = r.uid.value();
  i.gid = r.gid.value();
  i.nlink = r.nlink.value();
  i.size = r.size.value();
  i.mtime_sec = static_cast<int64_t>(r.mtime_sec.value());
  i.mtime_nsec = r.mtime_nsec.value();
  i.xattr_set = r.xattr_set.value();
  i.rdev_major = r.rdev_major.value();
  i.rdev_minor = r.rdev_minor.value();
  i.payload = r.payload.value();
  i.parent = r.parent.value();
  i.flags = r.flags.value();
  return i;
}

}  // namespace

Result<InodeRecord> Manifest::Impl::Record(uint64_t ino) const {
  if (ino == 0 || ino > layout.inode_count) {
    return Status::FromErrno(ENOENT,
                             "manifest: no inode " + std::to_string(ino));
  }
  auto r =
      ReadRecord<InodeRecord>(bytes, layout.section(kSectionInodes), ino - 1);
  if (!r.ok()) return r.status().WithPrefix(InodeContext(ino));
  return r;
}

Result<DirentRecord> Manifest::Impl::Dirent(uint64_t ino,
                                            const InodeRecord& dir,
                                            uint64_t index) const {
  uint64_t at = 0;
  if (__builtin_add_overflow(dir.payload.value(), index, &at)) {
    return Status::Corrupt(InodeContext(ino) + ": entry index overflows");
  }
  auto r = ReadRecord<DirentRecord>(bytes, layout.section(kSectionDirents), at);
  if (!r.ok()) {
    return Status::Corrupt(InodeContext(ino) + ": dirent " +
                           std::to_string(index) + ": past end of DIRENTS");
  }
  return r;
}

Result<std::vector<XattrView>> Manifest::Impl::Xattrs(
    uint64_t ino, const InodeRecord& r) const {
  std::vector<XattrView> out;
  const uint32_t set_index = r.xattr_set.value();
  if (set_index == kNoXattrs) return out;
  const auto where = [&] {
    return InodeContext(ino) + ": xattr set " + std::to_string(set_index);
  };
  auto set = ReadRecord<XattrSetRecord>(
      bytes, layout.section(kSectionXattrSets), set_index);
  if (!set.ok()) return Status::Corrupt(where() + ": out of range");
  const uint64_t first = set->first_entry.value();
  const uint64_t count = set->count.value();
  if (!InBounds(layout.xattr_entry_count, first, count)) {
    return Status::Corrupt(where() + ": entries extend past XATTR_ENTRIES");
  }
  out.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    SEALFS_ASSIGN_OR_RETURN(
        XattrEntryRecord e,
        ReadRecord<XattrEntryRecord>(
            bytes, layout.section(kSectionXattrEntries), first + i));
    SEALFS_ASSIGN_OR_RETURN(std::string_view key,
                            String(e.key_offset.value(), e.key_len.value(),
                                   [&] { return where() + ": key"; }));
    SEALFS_ASSIGN_OR_RETURN(std::string_view value,
                            String(e.value_offset.value(), e.value_len.value(),
                                   [&] { return where() + ": value"; }));
    out.push_back({key, value});
  }
  return out;
}

Manifest::Manifest(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Manifest::~Manifest() = default;

Result<std::shared_ptr<const Manifest>> Manifest::Open(
    const std::string& path, std::function<void()> alongside) {
  // A private copy, not a file mapping: a MAP_PRIVATE mapping still shows
  // later writes to pages not yet touched, so the bytes served could differ
  // from the bytes validated and hashed into the identity (and a truncation
  // would raise SIGBUS). The copy is read-only once made. The identity is
  // hashed as the copy fills, while this thread reads and then validates.
  struct stat st;
  SEALFS_ASSIGN_OR_RETURN(UniqueFd fd, OpenRegularFile(path, &st));
  const auto size = static_cast<uint64_t>(st.st_size);
  // A file whose header already rules it out is refused before the whole
  // of it is copied into memory: a valid manifest followed by gigabytes
  // would otherwise cost that much memory to refuse.
  ManifestHeader header;
  Result<size_t> got = PreadFull(
      fd.get(), {reinterpret_cast<uint8_t*>(&header), sizeof(header)}, 0);
  if (!got.ok()) return got.status().WithPrefix(path);
  if (*got == sizeof(header)) {
    Status fields = ValidateHeaderFields(header, size);
    if (!fields.ok()) return fields.WithPrefix(path);
  }
  IdentityHasher hasher(std::move(alongside));
  SEALFS_ASSIGN_OR_RETURN(
      MappedFile file, MappedFile::ReadPrivate(
                           fd.get(), static_cast<size_t>(size), path, &hasher));
  auto m = Validate(std::make_unique<Impl>(std::move(file)), &hasher);
  if (!m.ok()) return m.status().WithPrefix(path);
  return m;
}

Result<std::shared_ptr<const Manifest>> Manifest::FromBytes(
    std::vector<uint8_t> bytes) {
  return Validate(
      std::make_unique<Impl>(MappedFile::FromBytes(std::move(bytes))));
}

Result<std::shared_ptr<const Manifest>> Manifest::Validate(
    std::unique_ptr<Impl> impl, IdentityHasher* hasher) {
  Result<ManifestLayout> layout = ValidateManifest(impl->bytes);
  std::optional<Digest> identity;
  if (hasher != nullptr) {
    identity = hasher->Finish(layout.ok() ? layout->manifest_size : 0);
  }
  if (!layout.ok()) return layout.status();
  impl->layout = *layout;
  std::shared_ptr<Manifest> m(new Manifest(std::move(impl)));
  m->identity_ = identity.has_value()
                     ? *identity
                     : ComputeMerkleTree(m->manifest_bytes()).digest;
  return std::shared_ptr<const Manifest>(std::move(m));
}

std::span<const uint8_t> Manifest::manifest_bytes() const {
  return impl_->bytes.first(impl_->layout.manifest_size);
}

std::span<const uint8_t> Manifest::trailer_bytes() const {
  return impl_->bytes.subspan(impl_->layout.manifest_size);
}

uint16_t Manifest::version() const { return impl_->layout.version; }
uint64_t Manifest::inode_count() const { return impl_->layout.inode_count; }
uint64_t Manifest::dirent_count() const { return impl_->layout.dirent_count; }
uint64_t Manifest::digest_count() const { return impl_->layout.digest_count; }
uint64_t Manifest::xattr_set_count() const {
  return impl_->layout.xattr_set_count;
}
uint64_t Manifest::strings_size() const {
  return impl_->layout.section(kSectionStrings).size;
}
uint64_t Manifest::inline_size() const {
  return impl_->layout.section(kSectionInline).size;
}

std::span<const uint8_t> Manifest::oci_config() const {
  const SectionRange& s = impl_->layout.section(kSectionOciConfig);
  std::span<const uint8_t> out;
  // Validated to lie inside the manifest; an absent section is {0, 0}.
  if (!SliceOf(impl_->bytes, s, 0, s.size, &out)) return {};
  return out;
}

Result<Inode> Manifest::GetInode(uint64_t ino) const {
  SEALFS_ASSIGN_OR_RETURN(InodeRecord r, impl_->Record(ino));
  return Decode(ino, r);
}

Result<uint64_t> Manifest::Lookup(uint64_t dir, std::string_view name) const {
  SEALFS_ASSIGN_OR_RETURN(InodeRecord d, impl_->Record(dir));
  if (!S_ISDIR(d.mode.value())) {
    return Status::FromErrno(ENOTDIR, InodeContext(dir) + ": not a directory");
  }
  // Lower-bound binary search over the directory's sorted entries.
  uint64_t lo = 0;
  uint64_t hi = d.size.value();
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    SEALFS_ASSIGN_OR_RETURN(DirentRecord e, impl_->Dirent(dir, d, mid));
    SEALFS_ASSIGN_OR_RETURN(
        std::string_view entry,
        impl_->String(e.name_offset.value(), e.name_len.value(), [&] {
          return InodeContext(dir) + ": dirent " + std::to_string(mid) +
                 ": name";
        }));
    const int c = CompareNames(entry, name);
    if (c == 0) return uint64_t{e.ino.value()};
    if (c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return Status::FromErrno(
      ENOENT, InodeContext(dir) + ": no entry \"" + Printable(name) + "\"");
}

Result<DirEntry> Manifest::GetDirEntry(uint64_t dir, uint64_t index) const {
  SEALFS_ASSIGN_OR_RETURN(InodeRecord d, impl_->Record(dir));
  if (!S_ISDIR(d.mode.value())) {
    return Status::FromErrno(ENOTDIR, InodeContext(dir) + ": not a directory");
  }
  if (index >= d.size.value()) {
    return Status::FromErrno(
        ENOENT, InodeContext(dir) + ": no entry " + std::to_string(index));
  }
  SEALFS_ASSIGN_OR_RETURN(DirentRecord e, impl_->Dirent(dir, d, index));
  SEALFS_ASSIGN_OR_RETURN(
      std::string_view name,
      impl_->String(e.name_offset.value(), e.name_len.value(), [&] {
        return InodeContext(dir) + ": dirent " + std::to_string(index) +
               ": name";
      }));
  return DirEntry{name, e.ino.value(), e.type};
}

Result<std::string_view> Manifest::ReadLink(uint64_t ino) const {
  SEALFS_ASSIGN_OR_RETURN(InodeRecord r, impl_->Record(ino));
  if (!S_ISLNK(r.mode.value())) {
    return Status::FromErrno(EINVAL, InodeContext(ino) + ": not a symlink");
  }
  return impl_->String(r.payload.value(), r.size.value(), [ino] {
    return InodeContext(ino) + ": symlink target";
  });
}

Result<std::span<const uint8_t>> Manifest::InlineData(uint64_t ino) const {
  SEALFS_ASSIGN_OR_RETURN(InodeRecord r, impl_->Record(ino));
  if (!S_ISREG(r.mode.value()) || (r.flags.value() & kInodeInline) == 0) {
    return Status::FromErrno(EINVAL,
                             InodeContext(ino) + ": not an inline file");
  }
  std::span<const uint8_t> data;
  if (r.size.value() > kMaxInlineSize ||
      !SliceOf(impl_->bytes, impl_->layout.section(kSectionInline),
               r.payload.value(), r.size.value(), &data)) {
    return Status::Corrupt(InodeContext(ino) +
                           ": inline data extends past INLINE");
  }
  return data;
}

Result<Digest> Manifest::FileDigest(uint64_t ino) const {
  SEALFS_ASSIGN_OR_RETURN(InodeRecord r, impl_->Record(ino));
  if (!S_ISREG(r.mode.value()) || (r.flags.value() & kInodeInline) != 0) {
    return Status::FromErrno(
        EINVAL, InodeContext(ino) + ": not a regular file in the store");
  }
  auto d = DigestAt(r.payload.value());
  if (!d.ok()) {
    return Status::Corrupt(InodeContext(ino) + ": digest index " +
                           std::to_string(r.payload.value()) + " out of range");
  }
  return d;
}

Result<std::vector<XattrView>> Manifest::ListXattrs(uint64_t ino) const {
  SEALFS_ASSIGN_OR_RETURN(InodeRecord r, impl_->Record(ino));
  return impl_->Xattrs(ino, r);
}

Result<std::string_view> Manifest::GetXattr(uint64_t ino,
                                            std::string_view key) const {
  // Sets are small (a handful of keys), so a scan of the decoded set costs
  // about what a binary search would.
  SEALFS_ASSIGN_OR_RETURN(std::vector<XattrView> all, ListXattrs(ino));
  for (const XattrView& x : all) {
    if (x.key == key) return x.value;
  }
  return Status::FromErrno(ENODATA,
                           InodeContext(ino) + ": no xattr " + Printable(key));
}

Result<Digest> Manifest::DigestAt(uint64_t index) const {
  if (index >= impl_->layout.digest_count) {
    return Status::FromErrno(ENOENT,
                             "manifest: no digest " + std::to_string(index));
  }
  std::span<const uint8_t> raw;
  if (!SliceOf(impl_->bytes, impl_->layout.section(kSectionDigests),
               index * kDigestSize, kDigestSize, &raw)) {
    return Status::Corrupt("manifest: digest " + std::to_string(index) +
                           " past end of DIGESTS");
  }
  Digest d;
  std::copy(raw.begin(), raw.end(), d.bytes.begin());
  return d;
}

}  // namespace sealfs
