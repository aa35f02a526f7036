// SPDX-License-Identifier: Apache-2.0
// Pack index encoding and checked decoding.
#include "fs/remote/pack_index.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "sealfs/format.h"

namespace sealfs::remote {
namespace {

bool AllZero(const uint8_t* p, size_t n) {
  return std::all_of(p, p + n, [](uint8_t b) { return b == 0; });
}

}  // namespace

const PackEntry* PackIndex::Find(const Digest& digest) const {
  auto it = std::lower_bound(
      entries.begin(), entries.end(), digest,
      [](const PackEntry& e, const Digest& d) { return e.digest < d; });
  return it != entries.end() && it->digest == digest ? &*it : nullptr;
}

std::vector<uint8_t> EncodePackIndex(const PackIndex& index) {
  std::vector<uint8_t> out(sizeof(PackIndexHeader) +
                           index.entries.size() * sizeof(PackIndexRecord));
  PackIndexHeader h{};
  h.magic.set(kPackIndexMagic);
  h.version.set(kPackIndexVersion);
  h.count.set(index.entries.size());
  h.pack_size.set(index.pack_size);
  std::memcpy(h.pack_digest, index.pack_digest.bytes.data(), kDigestSize);
  std::memcpy(out.data(), &h, sizeof(h));
  size_t at = sizeof(h);
  for (const PackEntry& e : index.entries) {
    PackIndexRecord r{};
    std::memcpy(r.digest, e.digest.bytes.data(), kDigestSize);
    r.offset.set(e.offset);
    r.size.set(e.size);
    r.tree_offset.set(e.tree_offset.value_or(kPackNoTree));
    std::memcpy(out.data() + at, &r, sizeof(r));
    at += sizeof(r);
  }
  return out;
}

Result<PackIndex> DecodePackIndex(std::span<const uint8_t> bytes) {
  auto bad = [](const std::string& why) {
    return Status::Corrupt("pack index: " + why);
  };
  if (bytes.size() < sizeof(PackIndexHeader))
    return bad("shorter than its header");
  PackIndexHeader h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  if (h.magic.value() != kPackIndexMagic) return bad("bad magic");
  if (h.version.value() != kPackIndexVersion) {
    return bad("version " + std::to_string(h.version.value()) +
               " (this sealfs reads 1)");
  }
  if (h.reserved0.value() != 0 || !AllZero(h.reserved, sizeof(h.reserved))) {
    return bad("reserved bytes are not zero");
  }
  const uint64_t count = h.count.value();
  const uint64_t records = (bytes.size() - sizeof(h)) / sizeof(PackIndexRecord);
  if ((bytes.size() - sizeof(h)) % sizeof(PackIndexRecord) != 0 ||
      count != records) {
    return bad(std::to_string(bytes.size()) + " bytes for " +
               std::to_string(count) + " records");
  }
  PackIndex index;
  index.pack_size = h.pack_size.value();
  std::memcpy(index.pack_digest.bytes.data(), h.pack_digest, kDigestSize);
  index.entries.reserve(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) {
    PackIndexRecord r;
    std::memcpy(&r, bytes.data() + sizeof(h) + i * sizeof(r), sizeof(r));
    const std::string at = "record " + std::to_string(i) + ": ";
    if (r.reserved.value() != 0) return bad(at + "reserved bytes are not zero");
    PackEntry e;
    std::memcpy(e.digest.bytes.data(), r.digest, kDigestSize);
    e.offset = r.offset.value();
    e.size = r.size.value();
    if (!InBounds(index.pack_size, e.offset, e.size)) {
      return bad(at + "data outside the pack");
    }
    const uint64_t tree_bytes = TreeGeometry::For(e.size).tree_bytes();
    if (r.tree_offset.value() != kPackNoTree) {
      if (tree_bytes == 0) return bad(at + "a tree for an object of one block");
      if (!InBounds(index.pack_size, r.tree_offset.value(), tree_bytes)) {
        return bad(at + "tree outside the pack");
      }
      e.tree_offset = r.tree_offset.value();
    }
    if (!index.entries.empty() && !(index.entries.back().digest < e.digest)) {
      return bad(at + "not sorted by digest, or a digest twice");
    }
    index.entries.push_back(e);
  }
  return index;
}

}  // namespace sealfs::remote
