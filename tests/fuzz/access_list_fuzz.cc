// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for access lists (fs/remote/access_list.h), which
// prefetch=FILE reads: any bytes are turned into a prefetch order or
// refused, never a crash, and an order always holds every object of the
// image exactly once, whatever the list says. A fixed image of a few
// stored, inline and hard-linked files. Run: scripts/fuzz.sh access_list S.
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string_view>

#include "fs/remote/access_list.h"
#include "sealfs/manifest_writer.h"

namespace {

sealfs::InodeSpec Dir() {
  sealfs::InodeSpec s;
  s.mode = S_IFDIR | 0755;
  return s;
}

sealfs::InodeSpec Stored(uint64_t size, uint8_t fill) {
  sealfs::InodeSpec s;
  s.mode = S_IFREG | 0644;
  s.size = size;
  s.digest = sealfs::Digest{};
  s.digest->bytes.fill(fill);
  return s;
}

const sealfs::Manifest& Image() {
  static const std::shared_ptr<const sealfs::Manifest> image = [] {
    sealfs::ImageTree t(Dir());
    auto add = [&](sealfs::NodeId dir, const char* name,
                   sealfs::InodeSpec spec) {
      sealfs::NodeId id = t.AddInode(std::move(spec));
      if (!t.Link(dir, name, id).ok()) std::abort();
      return id;
    };
    sealfs::NodeId bin = add(sealfs::ImageTree::kRoot, "bin", Dir());
    add(bin, "sh", Stored(10000, 1));
    sealfs::NodeId ls = add(bin, "ls", Stored(20000, 2));
    if (!t.Link(sealfs::ImageTree::kRoot, "ls", ls).ok()) std::abort();
    add(sealfs::ImageTree::kRoot, "a\nb\\", Stored(30000, 3));
    sealfs::InodeSpec tiny;
    tiny.mode = S_IFREG | 0644;
    tiny.inline_data = "tiny";
    tiny.size = 4;
    add(sealfs::ImageTree::kRoot, "tiny", tiny);
    auto bytes = sealfs::WriteManifest(t, {});
    if (!bytes.ok()) std::abort();
    auto m = sealfs::Manifest::FromBytes(*bytes);
    if (!m.ok()) std::abort();
    return *m;
  }();
  return *image;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint64_t unknown = 0;
  auto order = sealfs::remote::PrefetchOrder(
      Image(), std::string_view(reinterpret_cast<const char*>(data), size),
      &unknown);
  if (!order.ok()) return 0;
  std::set<uint8_t> seen;
  for (const auto& item : *order) {
    if (!seen.insert(item.digest.bytes[0]).second) std::abort();  // twice
  }
  if (seen != std::set<uint8_t>{1, 2, 3}) std::abort();
  return 0;
}
