// SPDX-License-Identifier: Apache-2.0
// Parsing id maps, and mapping owners and the ids named inside xattrs.
#include "fs/fuse/owner_map.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

#include "sealfs/format.h"

namespace sealfs::fuse {
namespace {

Status Invalid(const std::string& why) {
  return Status::FromErrno(EINVAL, why);
}

// POSIX ACL xattr values, as the kernel exchanges them
// (linux/posix_acl_xattr.h): a 4-byte version, then 8-byte entries.
struct AclHeader {
  Le32 version;  // kAclVersion
};
struct AclEntry {
  Le16 tag;   // kAclUser, kAclGroup, or an entry naming no id
  Le16 perm;  // rwx bits
  Le32 id;    // the user or group of a named entry
};
static_assert(sizeof(AclHeader) == 4 && sizeof(AclEntry) == 8);
constexpr uint32_t kAclVersion = 2;
constexpr uint16_t kAclUser = 0x02;
constexpr uint16_t kAclGroup = 0x08;
constexpr std::string_view kAclAccess = "system.posix_acl_access";
constexpr std::string_view kAclDefault = "system.posix_acl_default";

// File capabilities (linux/capability.h, struct vfs_ns_cap_data): version 3
// adds the id of the root user of the namespace they apply in.
struct CapabilityV3 {
  Le32 magic_etc;  // revision in the top byte, kCapRevision3
  Le32 data[4];    // permitted, inheritable, twice
  Le32 rootid;
};
static_assert(sizeof(CapabilityV3) == 24);
constexpr uint32_t kCapRevisionMask = 0xFF000000u;
constexpr uint32_t kCapRevision3 = 0x03000000u;
constexpr std::string_view kCapability = "security.capability";

bool IsAcl(std::string_view name) {
  return name == kAclAccess || name == kAclDefault;
}

// Rewrites the named entries of ACL `value` in place. kErrCorrupt for a
// value that is not a version 2 ACL.
Status MapAcl(const OwnerMap& map, std::string* value) {
  if (value->size() < sizeof(AclHeader) ||
      (value->size() - sizeof(AclHeader)) % sizeof(AclEntry) != 0) {
    return Status::Corrupt("ACL of " + std::to_string(value->size()) +
                           " bytes");
  }
  AclHeader header;
  std::memcpy(&header, value->data(), sizeof(header));
  if (header.version.value() != kAclVersion) {
    return Status::Corrupt("ACL version " +
                           std::to_string(header.version.value()));
  }
  for (size_t at = sizeof(AclHeader); at < value->size();
       at += sizeof(AclEntry)) {
    AclEntry entry;
    std::memcpy(&entry, value->data() + at, sizeof(entry));
    const uint16_t tag = entry.tag.value();
    if (tag == kAclUser) {
      entry.id.set(map.uids.Map(entry.id.value()));
    } else if (tag == kAclGroup) {
      entry.id.set(map.gids.Map(entry.id.value()));
    } else {
      continue;  // owner, owning group, mask, other: no id
    }
    std::memcpy(value->data() + at, &entry, sizeof(entry));
  }
  return Status();
}

// Rewrites the root id of a version 3 capability in place; other versions
// name no id.
Status MapCapability(const OwnerMap& map, std::string* value) {
  Le32 magic;
  if (value->size() < sizeof(magic)) return Status();  // the kernel refuses it
  std::memcpy(&magic, value->data(), sizeof(magic));
  if ((magic.value() & kCapRevisionMask) != kCapRevision3) return Status();
  if (value->size() != sizeof(CapabilityV3)) {
    return Status::Corrupt("version 3 capability of " +
                           std::to_string(value->size()) + " bytes");
  }
  CapabilityV3 cap;
  std::memcpy(&cap, value->data(), sizeof(cap));
  cap.rootid.set(map.uids.Map(cap.rootid.value()));
  std::memcpy(value->data(), &cap, sizeof(cap));
  return Status();
}

}  // namespace

Result<IdMap> IdMap::Parse(std::string_view text) {
  std::vector<uint32_t> fields;
  size_t start = 0;
  for (;;) {
    size_t end = text.find(':', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view field = text.substr(start, end - start);
    uint32_t n = 0;
    auto [ptr, ec] =
        std::from_chars(field.data(), field.data() + field.size(), n);
    if (field.empty() || ec != std::errc() ||
        ptr != field.data() + field.size()) {
      // Appended, not concatenated: g++ 12 warns (-Wrestrict) about
      // "'" + std::string(field) here, wrongly.
      std::string why = "'";
      why.append(field).append("' is not a number from 0 to 4294967294");
      return Invalid(why);
    }
    fields.push_back(n);
    if (end == text.size()) break;
    start = end + 1;
  }
  if (fields.size() % 3 != 0) {
    return Invalid("want CONTAINER:HOST:COUNT triples, got " +
                   std::to_string(fields.size()) + " numbers");
  }
  if (fields.size() / 3 > kMaxIdRanges) {
    return Invalid("more than " + std::to_string(kMaxIdRanges) + " ranges");
  }
  IdMap map;
  for (size_t i = 0; i < fields.size(); i += 3) {
    IdRange r{fields[i], fields[i + 1], fields[i + 2]};
    const std::string what = std::to_string(r.inside) + ":" +
                             std::to_string(r.outside) + ":" +
                             std::to_string(r.count);
    if (r.count == 0) return Invalid("range " + what + " is empty");
    // In 64 bits: the last id of each side, which must not pass kMaxId.
    if (uint64_t{r.inside} + r.count - 1 > kMaxId ||
        uint64_t{r.outside} + r.count - 1 > kMaxId) {
      return Invalid("range " + what + " passes id 4294967294");
    }
    map.ranges_.push_back(r);
  }
  // Overlaps on either side: sort by that side, then compare neighbours.
  auto first_overlap = [&](uint32_t IdRange::*side) -> std::optional<uint32_t> {
    std::vector<IdRange> by = map.ranges_;
    std::sort(by.begin(), by.end(), [&](const IdRange& a, const IdRange& b) {
      return a.*side < b.*side;
    });
    for (size_t i = 1; i < by.size(); ++i) {
      if (uint64_t{by[i - 1].*side} + by[i - 1].count > by[i].*side) {
        return by[i].*side;
      }
    }
    return std::nullopt;
  };
  if (std::optional<uint32_t> id = first_overlap(&IdRange::inside)) {
    return Invalid("ranges overlap at image id " + std::to_string(*id));
  }
  if (std::optional<uint32_t> id = first_overlap(&IdRange::outside)) {
    return Invalid("ranges overlap at host id " + std::to_string(*id));
  }
  std::sort(
      map.ranges_.begin(), map.ranges_.end(),
      [](const IdRange& a, const IdRange& b) { return a.inside < b.inside; });
  return map;
}

uint32_t IdMap::Map(uint32_t id) const {
  if (ranges_.empty()) return id;
  // The last range starting at or below `id`.
  auto after = std::upper_bound(
      ranges_.begin(), ranges_.end(), id,
      [](uint32_t v, const IdRange& r) { return v < r.inside; });
  if (after == ranges_.begin()) return kOverflowId;
  const IdRange& r = *(after - 1);
  if (id - r.inside >= r.count) return kOverflowId;
  return r.outside + (id - r.inside);
}

bool OwnerMap::MapsXattr(std::string_view name) const {
  if (IsAcl(name)) return !uids.identity() || !gids.identity();
  if (name == kCapability) return !uids.identity();
  return false;
}

Result<std::string> OwnerMap::MapXattr(std::string_view name,
                                       std::string_view value) const {
  std::string out(value);
  if (!MapsXattr(name)) return out;
  if (IsAcl(name)) {
    SEALFS_RETURN_IF_ERROR(MapAcl(*this, &out));
  } else {
    SEALFS_RETURN_IF_ERROR(MapCapability(*this, &out));
  }
  return out;
}

}  // namespace sealfs::fuse
