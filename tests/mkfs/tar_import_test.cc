// SPDX-License-Identifier: Apache-2.0
// Tests of ImportTarLayer on bytes in memory: what a small layer becomes, and
// a corruption sweep (truncations and flipped bytes, plain and gzip)
// in which each case ends with OK or a Status with context, never a crash.
#include "fs/mkfs/tar_import.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sealfs/store.h"
#include "tests/test_util.h"

namespace sealfs::mkfs {
namespace {

using ::sealfs::testing::ReadFile;
using ::sealfs::testing::Shell;
using ::sealfs::testing::TempDir;

class TarImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::shared_ptr<Store>> store =
        Store::Open(tmp_ / "store", Store::Mode::kCreate);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = *store;
    writer_ = std::make_unique<StoreWriter>(store_);
    fd_ = memfd_create("layer", MFD_CLOEXEC);
    ASSERT_GE(fd_, 0);
  }
  void TearDown() override {
    if (fd_ >= 0) close(fd_);
  }

  // A small pax layer: dirs, an inline and a stored file, a symlink, a hard
  // link, a whiteout and an xattr. Compressed with `compress` if given.
  std::vector<uint8_t> MakeLayer(const std::string& compress) {
    const std::string src = tmp_ / ("src" + std::to_string(++layers_));
    const std::string out = tmp_ / ("layer" + std::to_string(layers_));
    std::string script =
        "set -e; mkdir -p '" + src + "/etc' && cd '" + src +
        "' && echo hi > etc/small && head -c 5000 /dev/zero | tr '\\0' x "
        "> etc/big && ln etc/big hard && ln -s etc/small sym && touch "
        ".wh.gone && setfattr -n user.k -v v etc/small && tar --xattrs "
        "--format=pax -b 1 -cf - . ";
    script += compress.empty() ? "" : "| " + compress;
    script += " > '" + out + "'";
    EXPECT_EQ(Shell(script).exit_code, 0);
    return ReadFile(out);
  }

  // Imports `bytes` as one layer into a fresh tree.
  Status Import(const std::vector<uint8_t>& bytes, ImageTree* tree_out) {
    EXPECT_EQ(ftruncate(fd_, 0), 0);
    EXPECT_EQ(pwrite(fd_, bytes.data(), bytes.size(), 0),
              static_cast<ssize_t>(bytes.size()));
    EXPECT_EQ(lseek(fd_, 0, SEEK_SET), 0);
    ImageTree tree(ImplicitDirSpec());
    LayerApplier applier(tree);
    applier.BeginLayer();
    TarLayerOptions options;
    options.inline_max = 64;
    std::unique_ptr<ByteStream> in = FdStream(fd_);
    Status s = ImportTarLayer(*in, applier, *writer_, options);
    if (tree_out != nullptr) *tree_out = std::move(tree);
    return s;
  }

  TempDir tmp_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<StoreWriter> writer_;  // shared: one per import is slow
  int fd_ = -1;
  int layers_ = 0;
};

TEST_F(TarImportTest, SmallLayerBecomesTheExpectedTree) {
  ImageTree tree(ImplicitDirSpec());
  Status s = Import(MakeLayer(""), &tree);
  ASSERT_TRUE(s.ok()) << s.ToString();
  Result<NodeId> etc = tree.Lookup(ImageTree::kRoot, "etc");
  ASSERT_TRUE(etc.ok());
  Result<NodeId> small = tree.Lookup(*etc, "small");
  Result<NodeId> big = tree.Lookup(*etc, "big");
  Result<NodeId> hard = tree.Lookup(ImageTree::kRoot, "hard");
  Result<NodeId> sym = tree.Lookup(ImageTree::kRoot, "sym");
  ASSERT_TRUE(small.ok() && big.ok() && hard.ok() && sym.ok());
  EXPECT_EQ(tree.inode(*small).inline_data, "hi\n");
  ASSERT_EQ(tree.inode(*small).xattrs.size(), 1u);
  EXPECT_EQ(tree.inode(*small).xattrs[0].key, "user.k");
  EXPECT_EQ(tree.inode(*small).xattrs[0].value, "v");
  EXPECT_EQ(tree.inode(*big).size, 5000u);
  EXPECT_TRUE(tree.inode(*big).digest.has_value());
  EXPECT_FALSE(tree.inode(*big).inline_data.has_value());
  EXPECT_EQ(*hard, *big);
  EXPECT_EQ(tree.inode(*sym).symlink_target, "etc/small");
  EXPECT_FALSE(tree.Lookup(ImageTree::kRoot, ".wh.gone").ok());
}

// bsdtar's LIBARCHIVE.xattr.* records (URL-encoded name, base64 value) and
// GNU tar's SCHILY.xattr.* (raw bytes) both become xattrs.
TEST_F(TarImportTest, PaxXattrRecordsOfBothWritersAreKept) {
  const std::string out = tmp_ / "xattrs.tar";
  ASSERT_EQ(Shell("python3 - <<'EOF'\n"
                  "import tarfile, io\n"
                  "with tarfile.open('" + out +
                  "', 'w', format=tarfile.PAX_FORMAT) as t:\n"
                  "    i = tarfile.TarInfo('f')\n"
                  "    i.pax_headers = {'LIBARCHIVE.xattr.user.lib': "
                  "'dmFsdWU=', 'SCHILY.xattr.user.schily': 'raw'}\n"
                  "    t.addfile(i, io.BytesIO(b''))\n"
                  "EOF\n")
                .exit_code,
            0);
  ImageTree tree(ImplicitDirSpec());
  Status s = Import(ReadFile(out), &tree);
  ASSERT_TRUE(s.ok()) << s.ToString();
  Result<NodeId> f = tree.Lookup(ImageTree::kRoot, "f");
  ASSERT_TRUE(f.ok());
  std::map<std::string, std::string> xattrs;
  for (const Xattr& x : tree.inode(*f).xattrs) xattrs[x.key] = x.value;
  std::map<std::string, std::string> expected = {{"user.lib", "value"},
                                                 {"user.schily", "raw"}};
  EXPECT_EQ(xattrs, expected);
}

// Prefixes and single-byte flips of a layer: each import ends, with
// OK or a Status naming what it refused. Run under ASan/UBSan for the rest.
TEST_F(TarImportTest, CorruptionSweepNeverCrashes) {
  for (const std::string compress : {"", "gzip -n"}) {
    SCOPED_TRACE(compress);
    const std::vector<uint8_t> layer = MakeLayer(compress);
    ASSERT_FALSE(layer.empty());
    // Every length of the plain layer; the gzip one in steps (its CRC and
    // length trailer refuse any cut, wherever it falls).
    const size_t step = compress.empty() ? 1 : 5;
    size_t refused = 0;
    size_t cuts = 0;
    for (size_t len = 0; len < layer.size(); len += step) {
      ++cuts;
      std::vector<uint8_t> cut(layer.begin(), layer.begin() + len);
      Status s = Import(cut, nullptr);
      if (!s.ok()) {
        ++refused;
        EXPECT_FALSE(s.context().empty()) << len;
      }
    }
    // Only prefixes that end exactly after an entry's data can pass (tar
    // needs no end marker); most cuts land inside a header or data.
    EXPECT_GT(refused, cuts * 9 / 10);
    for (size_t pos = 0; pos < layer.size(); pos += step * 2) {
      std::vector<uint8_t> flipped = layer;
      flipped[pos] ^= 0xA5;
      Status s = Import(flipped, nullptr);
      if (!s.ok()) {
        EXPECT_FALSE(s.context().empty()) << pos;
      }
    }
  }
}

}  // namespace
}  // namespace sealfs::mkfs
