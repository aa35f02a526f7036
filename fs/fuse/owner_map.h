// SPDX-License-Identifier: Apache-2.0
// How a mount reports owners: ids recorded in the image shifted for a user
// namespace (-o uidmap=, gidmap=, the semantics of fuse-overlayfs's
// uidmapping=), or squashed to one owner (squash_to_uid=, squash_to_gid=).
// Plain values, per mount; const methods are safe from any thread.
#ifndef SEALFS_FS_FUSE_OWNER_MAP_H_
#define SEALFS_FS_FUSE_OWNER_MAP_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sealfs/status.h"

namespace sealfs::fuse {

// What an id outside every range of a map is reported as: the kernel's
// default overflowuid/overflowgid ("nobody"/"nogroup").
inline constexpr uint32_t kOverflowId = 65534;
// The most ranges one map may have: as many as a user namespace's
// uid_map takes (the kernel's UID_GID_MAP_MAX_EXTENTS).
inline constexpr size_t kMaxIdRanges = 340;
// The largest id a map may name: (uid_t)-1 means "no id" to the kernel.
inline constexpr uint32_t kMaxId = 0xFFFFFFFEu;

// Image ids [inside, inside + count) are reported as [outside, outside +
// count).
struct IdRange {
  uint32_t inside;   // first id as recorded in the image
  uint32_t outside;  // what `inside` is reported as
  uint32_t count;    // >= 1; neither end passes kMaxId
  bool operator==(const IdRange&) const = default;
};

// A set of ranges, none overlapping another on either side, so that the map
// is one-to-one. An empty map is the identity.
class IdMap {
 public:
  IdMap() = default;  // identity

  // Parses "C:H:N[:C:H:N...]" (decimal, no signs or spaces): image id C + i
  // is reported as H + i for i < N. EINVAL naming the failed check for an
  // empty text, a count of fields that is not a multiple of 3, a field that
  // is not a number or exceeds 32 bits, N == 0, a range passing kMaxId,
  // ranges overlapping on the image or the reported side, more than
  // kMaxIdRanges ranges.
  static Result<IdMap> Parse(std::string_view text);

  bool identity() const { return ranges_.empty(); }
  // What image id `id` is reported as: itself for the identity, else its
  // range's counterpart, else kOverflowId.
  uint32_t Map(uint32_t id) const;
  const std::vector<IdRange>& ranges() const { return ranges_; }
  bool operator==(const IdMap&) const = default;

 private:
  std::vector<IdRange> ranges_;  // sorted by `inside`
};

// Everything that decides the owners a mount reports. Default: as recorded.
struct OwnerMap {
  IdMap uids;
  IdMap gids;
  std::optional<uint32_t> squash_uid;  // every inode's owner, if set
  std::optional<uint32_t> squash_gid;  // every inode's group, if set

  bool identity() const {
    return uids.identity() && gids.identity() && !squash_uid && !squash_gid;
  }
  uint32_t Uid(uint32_t image_uid) const {
    return squash_uid ? *squash_uid : uids.Map(image_uid);
  }
  uint32_t Gid(uint32_t image_gid) const {
    return squash_gid ? *squash_gid : gids.Map(image_gid);
  }
  // True if xattr `name`'s value names ids that MapXattr rewrites.
  bool MapsXattr(std::string_view name) const;
  // `value` of xattr `name` as this mount reports it: the ids named in a
  // POSIX ACL (system.posix_acl_access, system.posix_acl_default; named user
  // and group entries, through `uids` and `gids`: squashing changes owners,
  // not the users an ACL names) and the root id of a version 3 file
  // capability (security.capability), so that the kernel's permission and
  // capability checks agree with the owners reported. Any other xattr, or
  // an identity map, is returned unchanged. kErrCorrupt for an ACL or a
  // version 3 capability that is malformed (wrong size or version): its ids
  // cannot be mapped, and it is never passed on unmapped.
  Result<std::string> MapXattr(std::string_view name,
                               std::string_view value) const;
  bool operator==(const OwnerMap&) const = default;
};

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_OWNER_MAP_H_
