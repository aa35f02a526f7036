// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for Manifest::FromBytes and every accessor over whatever
// it accepts, the stored OCI config included (read as `sealfs inspect
// --oci-config` reads it). Run: scripts/fuzz.sh manifest SECONDS. With
// SEALFS_FUZZ_SEED_DIR set, valid manifests with most features (one with an
// OCI config) are written there first, so mutations start from a real
// structure.
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "fs/core/oci.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/manifest_writer.h"

namespace {

using sealfs::ImageTree;
using sealfs::InodeSpec;

// A small valid manifest with most features, for the first run.
std::vector<uint8_t> Seed(const sealfs::WriteOptions& options = {}) {
  InodeSpec dir;
  dir.mode = S_IFDIR | 0755;
  ImageTree t(dir);
  InodeSpec file;
  file.mode = S_IFREG | 0644;
  file.size = 3;
  file.inline_data = "abc";
  file.xattrs = {{"user.a", "1"}, {"user.b", "2"}};
  sealfs::NodeId f = t.AddInode(file);
  (void)t.Link(ImageTree::kRoot, "f", f);
  (void)t.Link(ImageTree::kRoot, "g", f);
  sealfs::NodeId d = t.AddInode(dir);
  (void)t.Link(ImageTree::kRoot, "d", d);
  InodeSpec stored;
  stored.mode = S_IFREG | 0755;
  stored.size = 10000;
  stored.digest = sealfs::Digest{};
  (void)t.Link(d, "s", t.AddInode(stored));
  InodeSpec link;
  link.mode = S_IFLNK | 0777;
  link.symlink_target = "../f";
  (void)t.Link(d, "l", t.AddInode(link));
  auto bytes = sealfs::WriteManifest(t, options);
  return bytes.ok() ? *bytes : std::vector<uint8_t>{};
}

void Walk(const sealfs::Manifest& m) {
  const uint64_t n = m.inode_count();
  for (uint64_t ino = 1; ino <= n; ++ino) {
    auto inode = m.GetInode(ino);
    (void)m.ReadLink(ino);
    (void)m.InlineData(ino);
    (void)m.FileDigest(ino);
    (void)m.ListXattrs(ino);
    (void)m.GetXattr(ino, "user.a");
    if (!inode.ok() || !S_ISDIR(inode->mode)) continue;
    for (uint64_t k = 0; k < inode->size && k < 4096; ++k) {
      auto e = m.GetDirEntry(ino, k);
      if (e.ok()) (void)m.Lookup(ino, e->name);
    }
    (void)m.Lookup(ino, "zz");
  }
  for (uint64_t i = 0; i < m.digest_count() && i < 4096; ++i) {
    (void)m.DigestAt(i);
  }
  if (!m.oci_config().empty()) {
    nlohmann::json config;
    if (sealfs::ParseJson(m.oci_config(), &config).ok()) {
      (void)config.is_object();
    }
  }
}

void WriteSeed(const std::string& path, const std::vector<uint8_t>& seed) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(seed.data()),
            static_cast<std::streamsize>(seed.size()));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  const char* dir = std::getenv("SEALFS_FUZZ_SEED_DIR");  // NOLINT: init only
  if (dir != nullptr) {
    WriteSeed(std::string(dir) + "/seed-feature-tree", Seed());
    sealfs::WriteOptions options;
    options.oci_config =
        R"({"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],)"
        R"("Entrypoint":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[]}})";
    WriteSeed(std::string(dir) + "/seed-oci-config", Seed(options));
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m = sealfs::Manifest::FromBytes(std::vector<uint8_t>(data, data + size));
  if (m.ok()) Walk(**m);
  return 0;
}
