// SPDX-License-Identifier: Apache-2.0
// Every on-disk structure and constant of sealfs: the manifest, the signature
// block that may follow it, and the object store layout. This header and
// docs/FORMAT.md describe the same format and change together.
#ifndef SEALFS_INCLUDE_SEALFS_FORMAT_H_
#define SEALFS_INCLUDE_SEALFS_FORMAT_H_

#include <sys/stat.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace sealfs {

// ---------------------------------------------------------------------------
// Little-endian integers as stored. Alignment 1, so valid at any offset.

template <typename T>
struct Le {
  uint8_t bytes[sizeof(T)];

  constexpr T value() const {
    T v = std::bit_cast<T>(bytes);
    if constexpr (std::endian::native == std::endian::big) v = Swap(v);
    return v;
  }
  // Byte by byte, so it is independent of host order (std::bit_cast cannot
  // produce an array type).
  constexpr void set(T v) {
    for (size_t i = 0; i < sizeof(T); ++i) {
      bytes[i] = static_cast<uint8_t>(v >> (8 * i));
    }
  }

 private:
  static constexpr T Swap(T v) {
    if constexpr (sizeof(T) == 2) return __builtin_bswap16(v);
    if constexpr (sizeof(T) == 4) return __builtin_bswap32(v);
    if constexpr (sizeof(T) == 8) return __builtin_bswap64(v);
  }
};
using Le16 = Le<uint16_t>;
using Le32 = Le<uint32_t>;
using Le64 = Le<uint64_t>;
static_assert(sizeof(Le64) == 8 && alignof(Le64) == 1);

// True iff [off, off + len) lies inside an object of `size` bytes. Never
// overflows, so it is safe on hostile values.
constexpr bool InBounds(uint64_t size, uint64_t off, uint64_t len) {
  return off <= size && len <= size - off;
}

// ---------------------------------------------------------------------------
// Digests and Merkle trees (fs-verity, SHA-256, 4096-byte blocks, no salt).

inline constexpr uint32_t kBlockSize = 4096;
inline constexpr uint32_t kLogBlockSize = 12;
inline constexpr uint32_t kDigestSize = 32;                   // SHA-256
inline constexpr uint32_t kHashesPerBlock = kBlockSize / kDigestSize;  // 128

// The fs-verity descriptor whose SHA-256 is a file's digest, as defined by
// the Linux kernel (include/uapi/linux/fsverity.h, struct fsverity_descriptor).
struct FsverityDescriptor {
  uint8_t version;         // 1
  uint8_t hash_algorithm;  // 1 = SHA-256
  uint8_t log_blocksize;   // 12
  uint8_t salt_size;       // 0
  Le32 sig_size;           // 0 (reserved since Linux 6.x)
  Le64 data_size;          // file size in bytes
  uint8_t root_hash[64];   // SHA-256 of the top tree block, zero padded
  uint8_t salt[32];        // zero
  uint8_t reserved[144];   // zero
};
static_assert(sizeof(FsverityDescriptor) == 256);
static_assert(offsetof(FsverityDescriptor, root_hash) == 16);
static_assert(std::has_unique_object_representations_v<FsverityDescriptor>);

// ---------------------------------------------------------------------------
// Object store (see docs/FORMAT.md#store).
//
//   STORE/objects/XX/<62 hex>   file content, named by its fs-verity digest
//                               (composefs layout: XX = first two hex digits)
//   STORE/trees/XX/<62 hex>     its Merkle tree, levels from the root level
//                               down to the leaf level, as the kernel stores
//                               it; absent for files of at most one block
//   .../XX/.tmp-*               partial writes; never read, removed by gc
//   STORE/images/NAME           tags: exact image files, the roots of gc
//   STORE/lock                  flock(2): writers shared, gc exclusive
//   STORE/quarantine/           what fsck moved aside; never read or removed

inline constexpr char kObjectsDir[] = "objects";
inline constexpr char kTreesDir[] = "trees";
inline constexpr char kTempPrefix[] = ".tmp-";
inline constexpr char kImagesDir[] = "images";
inline constexpr char kLockFile[] = "lock";
inline constexpr char kQuarantineDir[] = "quarantine";

// ---------------------------------------------------------------------------
// Manifest (see docs/FORMAT.md#manifest). Layout:
//
//   ManifestHeader | SectionEntry[section_count] | sections ...
//   [SignatureBlockHeader | SignatureRecord[count]]   (outside manifest_size)
//
// The image identity is the fs-verity digest of bytes [0, manifest_size).

// ASCII "SEAL" read as a little-endian integer.
inline constexpr uint32_t kManifestMagic = 0x4C414553;

// Version history:
//   1  first format (sealfs 0.1). sealfs 0.3 adds the incompat feature
//      kIncompatOciConfig; a manifest without it is unchanged.
inline constexpr uint16_t kManifestVersion = 1;

// Feature bits. A reader refuses any incompat bit it does not know and
// ignores compat bits it does not know. No compat bits are defined.
//
// The manifest has an OCI_CONFIG section: the OCI image config the image was
// built from (mkfs --from-oci), kept so that a runtime can build its runtime
// spec from it, covered by the identity like everything else.
inline constexpr uint64_t kIncompatOciConfig = uint64_t{1} << 0;
inline constexpr uint64_t kKnownIncompatFeatures = kIncompatOciConfig;

// Header, at offset 0.
struct ManifestHeader {
  Le32 magic;                 // kManifestMagic
  Le16 version;               // kManifestVersion
  Le16 header_size;           // sizeof(ManifestHeader)
  Le64 compat_features;       // unknown bits: ignore
  Le64 incompat_features;     // unknown bits: refuse to open
  Le64 manifest_size;         // bytes covered by the identity; <= file size
  Le64 section_table_offset;  // bytes from start; 8-aligned
  Le32 section_count;         // entries in the section table
  uint8_t reserved[20];       // zero
};
static_assert(sizeof(ManifestHeader) == 64);
static_assert(offsetof(ManifestHeader, manifest_size) == 24);
static_assert(offsetof(ManifestHeader, section_table_offset) == 32);
static_assert(offsetof(ManifestHeader, section_count) == 40);
static_assert(std::has_unique_object_representations_v<ManifestHeader>);

enum SectionKind : uint32_t {
  kSectionInodes = 1,        // InodeRecord[]; record i is inode number i + 1
  kSectionDirents = 2,       // DirentRecord[]
  kSectionStrings = 3,       // bytes: names, symlink targets, xattr keys/values
  kSectionXattrSets = 4,     // XattrSetRecord[]
  kSectionXattrEntries = 5,  // XattrEntryRecord[]
  kSectionDigests = 6,       // uint8_t[kDigestSize][]: file digests
  kSectionInline = 7,        // bytes: content of inlined regular files
  kSectionOciConfig = 8,     // bytes: an OCI image config, verbatim; present
                             // iff incompat_features has kIncompatOciConfig
};
// Kinds 1..kSectionKindCount appear exactly once in every manifest; kinds
// above it up to kMaxSectionKind exactly once when their feature bit is set.
inline constexpr uint32_t kSectionKindCount = 7;
inline constexpr uint32_t kMaxSectionKind = 8;
// OCI_CONFIG holds 1 to this many bytes (the config size limit of
// containers/image, which skopeo and podman use).
inline constexpr uint64_t kMaxOciConfigSize = uint64_t{4} << 20;

struct SectionEntry {
  Le32 kind;      // SectionKind
  Le32 reserved;  // zero
  Le64 offset;    // bytes from start of manifest; 8-aligned
  Le64 size;      // bytes; a multiple of the record size for record sections
};
static_assert(sizeof(SectionEntry) == 24);
static_assert(std::has_unique_object_representations_v<SectionEntry>);

// Inode numbers start at 1; inode 1 is the root directory.
inline constexpr uint64_t kRootIno = 1;
inline constexpr uint32_t kNoXattrs = 0xFFFFFFFF;
inline constexpr uint32_t kMaxInlineSize = 4096;    // bytes in INLINE per file
inline constexpr uint32_t kMaxNameLen = 255;        // bytes, like NAME_MAX
inline constexpr uint32_t kMaxSymlinkLen = 4095;    // bytes, PATH_MAX - 1
inline constexpr uint32_t kMaxXattrNameLen = 255;   // bytes, XATTR_NAME_MAX
inline constexpr uint32_t kMaxXattrValueLen = 65536;  // XATTR_SIZE_MAX

// True for the file types (st_mode & S_IFMT) a manifest can hold.
constexpr bool IsKnownFileType(uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
    case S_IFDIR:
    case S_IFLNK:
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
    case S_IFSOCK:
      return true;
    default:
      return false;
  }
}

// Inode flags.
inline constexpr uint32_t kInodeInline = 1u << 0;  // regular: content in INLINE
inline constexpr uint32_t kKnownInodeFlags = kInodeInline;

// One inode. The meaning of size/payload depends on the file type (mode):
//   S_IFREG  size = file bytes. With kInodeInline: payload = byte offset of
//            the content in INLINE (size <= kMaxInlineSize; an empty file is
//            inline with size 0). Otherwise payload = index into DIGESTS.
//   S_IFDIR  size = entry count; payload = index of its first DirentRecord.
//            parent = inode number of its parent (root: 1).
//   S_IFLNK  size = target length; payload = byte offset in STRINGS.
//   S_IFCHR, S_IFBLK: rdev_major/rdev_minor. S_IFIFO, S_IFSOCK: nothing.
// Fields not used by a type are zero.
struct InodeRecord {
  Le32 mode;        // file type and permission bits, as st_mode
  Le32 uid;
  Le32 gid;
  Le32 nlink;       // links within this image (dirs: 2 + subdirectories)
  Le64 size;        // see above
  Le64 mtime_sec;   // seconds since the epoch, two's complement int64
  Le32 mtime_nsec;  // < 1e9
  Le32 xattr_set;   // index into XATTR_SETS, or kNoXattrs
  Le32 rdev_major;
  Le32 rdev_minor;
  Le64 payload;     // see above
  Le32 parent;      // directories only
  Le32 flags;       // kInode* bits; unknown bits are refused
};
static_assert(sizeof(InodeRecord) == 64);
static_assert(offsetof(InodeRecord, size) == 16);
static_assert(offsetof(InodeRecord, mtime_sec) == 24);
static_assert(offsetof(InodeRecord, xattr_set) == 36);
static_assert(offsetof(InodeRecord, payload) == 48);
static_assert(offsetof(InodeRecord, flags) == 60);
static_assert(std::has_unique_object_representations_v<InodeRecord>);

// One name in a directory. A directory's entries are contiguous and sorted by
// name, compared as unsigned bytes (memcmp, then shorter first), without
// duplicates; "." and ".." are not stored.
struct DirentRecord {
  Le32 ino;          // inode number of the target (>= 2)
  Le32 name_offset;  // byte offset in STRINGS
  Le16 name_len;     // 1..kMaxNameLen; no '/' or NUL; not "." or ".."
  uint8_t type;      // DT_* of the target (st_mode >> 12); must agree
  uint8_t reserved;  // zero
  Le32 reserved2;    // zero
};
static_assert(sizeof(DirentRecord) == 16);
static_assert(offsetof(DirentRecord, name_len) == 8);
static_assert(std::has_unique_object_representations_v<DirentRecord>);

// A set of extended attributes shared by every inode that has exactly it.
struct XattrSetRecord {
  Le32 first_entry;  // index into XATTR_ENTRIES
  Le32 count;        // entries, sorted by key (bytes), keys unique
};
static_assert(sizeof(XattrSetRecord) == 8);

struct XattrEntryRecord {
  Le32 key_offset;    // byte offset in STRINGS
  Le16 key_len;       // 1..kMaxXattrNameLen, full name incl. namespace
  Le16 reserved;      // zero
  Le32 value_offset;  // byte offset in STRINGS
  Le32 value_len;     // 0..kMaxXattrValueLen
};
static_assert(sizeof(XattrEntryRecord) == 16);
static_assert(std::has_unique_object_representations_v<XattrEntryRecord>);

// ---------------------------------------------------------------------------
// Signatures (see docs/FORMAT.md#signatures). Optional; they start at
// manifest_size and run to the end of the image file.

// ASCII "SSIG" read as a little-endian integer.
inline constexpr uint32_t kSignatureMagic = 0x47495353;
inline constexpr uint16_t kSignatureVersion = 1;
inline constexpr uint32_t kSigAlgEd25519 = 1;
inline constexpr uint32_t kEd25519PublicKeySize = 32;
inline constexpr uint32_t kEd25519SignatureSize = 64;

// What a signature signs: this prefix (26 bytes, including the final NUL)
// followed by the 32-byte identity. The prefix keeps a sealfs signature from
// being valid for anything else signed with the same key.
inline constexpr char kSignatureDomain[] = "sealfs-image-signature-v1";
static_assert(sizeof(kSignatureDomain) == 26);

struct SignatureBlockHeader {
  Le32 magic;    // kSignatureMagic
  Le16 version;  // kSignatureVersion
  Le16 count;    // SignatureRecord entries that follow; >= 1
  uint8_t reserved[8];  // zero
};
static_assert(sizeof(SignatureBlockHeader) == 16);
static_assert(std::has_unique_object_representations_v<SignatureBlockHeader>);

struct SignatureRecord {
  Le32 algorithm;  // kSigAlgEd25519
  Le32 reserved;   // zero
  uint8_t public_key[kEd25519PublicKeySize];  // raw Ed25519 public key
  uint8_t signature[kEd25519SignatureSize];   // over domain || identity
  uint8_t reserved2[24];                      // zero
};
static_assert(sizeof(SignatureRecord) == 128);
static_assert(offsetof(SignatureRecord, public_key) == 8);
static_assert(offsetof(SignatureRecord, signature) == 40);
static_assert(std::has_unique_object_representations_v<SignatureRecord>);

// The longest trailer a valid image can have: a block of 65,535 records
// (8,388,496 bytes). A reader can refuse a longer one before reading it.
inline constexpr uint64_t kMaxSignatureBlockSize =
    sizeof(SignatureBlockHeader) + uint64_t{0xffff} * sizeof(SignatureRecord);

// ---------------------------------------------------------------------------
// Registry packs (see docs/FORMAT.md#registry). In an OCI registry a sealfs
// image's objects travel in a few pack blobs: objects and their Merkle trees
// concatenated, each pack described by an index blob of its own:
//
//   PackIndexHeader | PackIndexRecord[count]   (records sorted by digest)

// ASCII "SPIX" read as a little-endian integer.
inline constexpr uint32_t kPackIndexMagic = 0x58495053;
// Version history:
//   1  first format (sealfs 0.2).
inline constexpr uint16_t kPackIndexVersion = 1;
// tree_offset of an object whose tree is not in the pack (no tree: at most
// one block).
inline constexpr uint64_t kPackNoTree = UINT64_MAX;

struct PackIndexHeader {
  Le32 magic;       // kPackIndexMagic
  Le16 version;     // kPackIndexVersion
  Le16 reserved0;   // zero
  Le64 count;       // PackIndexRecord entries that follow
  Le64 pack_size;   // bytes of the pack blob this index describes
  uint8_t pack_digest[kDigestSize];  // SHA-256 of that blob (its OCI digest)
  uint8_t reserved[8];               // zero
};
static_assert(sizeof(PackIndexHeader) == 64);
static_assert(offsetof(PackIndexHeader, count) == 8);
static_assert(offsetof(PackIndexHeader, pack_digest) == 24);
static_assert(std::has_unique_object_representations_v<PackIndexHeader>);

struct PackIndexRecord {
  uint8_t digest[kDigestSize];  // the object's fs-verity digest
  Le64 offset;       // first byte of its data in the pack
  Le64 size;         // bytes of data
  Le64 tree_offset;  // first byte of its tree (TreeGeometry::For(size)
                     // .tree_bytes() bytes) in the pack, or kPackNoTree
  Le64 reserved;     // zero
};
static_assert(sizeof(PackIndexRecord) == 64);
static_assert(offsetof(PackIndexRecord, offset) == 32);
static_assert(offsetof(PackIndexRecord, tree_offset) == 48);
static_assert(std::has_unique_object_representations_v<PackIndexRecord>);

// Media types of a sealfs image in a registry (docs/FORMAT.md#registry).
inline constexpr char kOciArtifactType[] = "application/vnd.sealfs.image.v1";
inline constexpr char kOciImageMediaType[] = "application/vnd.sealfs.image.v1";
inline constexpr char kOciPackMediaType[] = "application/vnd.sealfs.pack.v1";
inline constexpr char kOciPackIndexMediaType[] =
    "application/vnd.sealfs.pack-index.v1";
// The annotation on the image layer that names the image's identity.
inline constexpr char kOciIdentityAnnotation[] = "org.sealfs.identity";

}  // namespace sealfs

#endif  // SEALFS_INCLUDE_SEALFS_FORMAT_H_
