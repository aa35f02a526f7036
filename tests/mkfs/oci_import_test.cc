// SPDX-License-Identifier: Apache-2.0
// Tests of BuildImageFromOci over an in-memory OciImageSource: an image
// built, and each lie a source can tell (other manifest bytes, a tampered,
// short or long blob, a wrong diff_id, a layer that is not what its media
// type says) refused with its reason and no image written.
#include "fs/mkfs/oci_import.h"

#include <sys/stat.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sealfs/manifest_reader.h"
#include "tests/test_util.h"

namespace sealfs::mkfs {
namespace {

using ::sealfs::testing::TempDir;

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// A ustar member `name` holding `data`, padded to whole blocks.
std::string TarMember(const std::string& name, const std::string& data) {
  std::string b(512, '\0');
  b.replace(0, name.size(), name);
  char num[16];
  snprintf(num, sizeof num, "%011zo", data.size());
  b.replace(124, 11, num);
  b.replace(100, 7, "0000644");
  b.replace(108, 7, "0000000");
  b.replace(116, 7, "0000000");
  b.replace(136, 11, "00000000000");
  b[156] = '0';
  b.replace(257, 6, std::string("ustar\0", 6));
  b.replace(263, 2, "00");
  b.replace(148, 8, "        ");
  unsigned sum = 0;
  for (unsigned char c : b) sum += c;
  snprintf(num, sizeof num, "%06o", sum);
  b.replace(148, 7, std::string(num, 6) + '\0');
  std::string padded = data;
  padded.resize((data.size() + 511) / 512 * 512, '\0');
  return b + padded;
}

class StringStream : public ByteStream {
 public:
  explicit StringStream(std::string data) : data_(std::move(data)) {}
  Result<std::span<const uint8_t>> Next() override {
    const size_t n = std::min<size_t>(700, data_.size() - pos_);
    std::span<const uint8_t> out(
        reinterpret_cast<const uint8_t*>(data_.data()) + pos_, n);
    pos_ += n;
    return out;
  }

 private:
  std::string data_;
  size_t pos_ = 0;
};

// Serves what `blobs` holds, by digest; the top document is `top`.
class MemorySource : public OciImageSource {
 public:
  Result<OciDocument> ReadTop() override {
    OciDocument doc;
    doc.descriptor = top_desc;
    doc.bytes.assign(top.begin(), top.end());
    return doc;
  }
  Result<std::vector<uint8_t>> ReadManifest(const OciDescriptor& d) override {
    auto it = blobs.find(d.digest);
    if (it == blobs.end()) return Status::FromErrno(ENOENT, "no manifest");
    return std::vector<uint8_t>(it->second.begin(), it->second.end());
  }
  Result<std::unique_ptr<ByteStream>> OpenBlob(
      const OciDescriptor& d) override {
    auto it = blobs.find(d.digest);
    if (it == blobs.end()) return Status::FromErrno(ENOENT, "no blob");
    return std::unique_ptr<ByteStream>(
        std::make_unique<StringStream>(it->second));
  }

  std::string top;
  OciDescriptor top_desc;
  std::map<Digest, std::string> blobs;
};

std::string Desc(const std::string& type, const std::string& data) {
  return R"({"mediaType":")" + type + R"(","digest":")" +
         Sha256(Bytes(data)).ToString() + R"(","size":)" +
         std::to_string(data.size()) + "}";
}

class OciImportTest : public ::testing::Test {
 protected:
  OciImportTest() {
    options_.store = tmp_ / "store";
    options_.image = tmp_ / "image";
    options_.threads = 2;
    layer_ = TarMember("hello", std::string(5000, 'h')) +
             TarMember("small", "hi\n") + std::string(1024, '\0');
  }

  // Makes the source serve an image of `layer` (as `layer_type`), whose
  // config names `diff_id`.
  std::shared_ptr<MemorySource> Source(const std::string& layer,
                                       const std::string& layer_type,
                                       const Digest& diff_id) {
    auto s = std::make_shared<MemorySource>();
    config_ =
        R"({"os":"linux","architecture":"amd64","config":{"Env":["A=1"]},)"
        R"("rootfs":{"type":"layers","diff_ids":[")" +
        diff_id.ToString() + R"("]}})";
    const std::string manifest =
        R"({"schemaVersion":2,"config":)" +
        Desc("application/vnd.oci.image.config.v1+json", config_) +
        R"(,"layers":[)" + Desc(layer_type, layer) + "]}";
    s->blobs[Sha256(Bytes(config_))] = config_;
    s->blobs[Sha256(Bytes(layer))] = layer;
    s->top = manifest;
    s->top_desc = {kOciManifestMediaType, Sha256(Bytes(manifest)),
                   manifest.size()};
    return s;
  }

  Result<MkfsReport> Build(std::shared_ptr<MemorySource> s) {
    OciImportOptions o;
    o.platform = {"linux", "amd64", ""};
    return BuildImageFromOci(std::move(s), o, options_);
  }

  void ExpectRefused(std::shared_ptr<MemorySource> s, int err,
                     const std::string& why) {
    Result<MkfsReport> r = Build(std::move(s));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().err(), err) << r.status().ToString();
    EXPECT_NE(r.status().context().find(why), std::string::npos)
        << r.status().ToString();
    struct stat st;
    EXPECT_NE(stat(options_.image.c_str(), &st), 0) << "an image was written";
  }

  TempDir tmp_;
  MkfsOptions options_;
  std::string layer_;
  std::string config_;
};

constexpr char kTar[] = "application/vnd.oci.image.layer.v1.tar";

TEST_F(OciImportTest, BuildsTheImageAndKeepsTheConfig) {
  Result<MkfsReport> r = Build(Source(layer_, kTar, Sha256(Bytes(layer_))));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto m = Manifest::Open(options_.image);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_TRUE((*m)->Lookup(kRootIno, "hello").ok());
  EXPECT_TRUE((*m)->Lookup(kRootIno, "small").ok());
  EXPECT_EQ(r->files, 1u);  // hello; small is inline
  const std::span<const uint8_t> kept = (*m)->oci_config();
  EXPECT_EQ(std::string(kept.begin(), kept.end()), config_);
}

TEST_F(OciImportTest, RefusesAWrongDiffId) {
  ExpectRefused(Source(layer_, kTar, Sha256(Bytes("other"))), kErrDigest,
                "layer 1 (sha256:");
  ExpectRefused(Source(layer_, kTar, Sha256(Bytes("other"))), kErrDigest,
                "uncompressed (diff_id)");
}

TEST_F(OciImportTest, RefusesABlobThatIsNotTheOneNamed) {
  auto s = Source(layer_, kTar, Sha256(Bytes(layer_)));
  std::string& blob = s->blobs[Sha256(Bytes(layer_))];
  blob[600] ^= 1;  // inside "hello"'s data: the tar still reads
  ExpectRefused(s, kErrDigest, "blob: sha256");
  s = Source(layer_, kTar, Sha256(Bytes(layer_)));
  s->blobs[Sha256(Bytes(layer_))].resize(layer_.size() - 512);
  ExpectRefused(s, kErrCorrupt, "(truncated)");
  s = Source(layer_, kTar, Sha256(Bytes(layer_)));
  s->blobs[Sha256(Bytes(layer_))] += "trailing";
  ExpectRefused(s, kErrCorrupt, "longer than the");
}

TEST_F(OciImportTest, RefusesOtherManifestOrConfigBytes) {
  auto s = Source(layer_, kTar, Sha256(Bytes(layer_)));
  s->top += " ";
  ExpectRefused(s, kErrCorrupt, "bytes, its descriptor says");
  s = Source(layer_, kTar, Sha256(Bytes(layer_)));
  s->blobs[Sha256(Bytes(config_))][10] ^= 1;
  ExpectRefused(s, kErrDigest, "config sha256:");
}

TEST_F(OciImportTest, RefusesALayerThatIsNotWhatItsMediaTypeSays) {
  ExpectRefused(Source(layer_, "application/vnd.oci.image.layer.v1.tar+gzip",
                       Sha256(Bytes(layer_))),
                kErrCorrupt, "not gzip data");
  ExpectRefused(Source(layer_, "application/vnd.oci.image.layer.v1.tar+zstd",
                       Sha256(Bytes(layer_))),
                kErrCorrupt, "not zstd data");
  ExpectRefused(Source(layer_, "application/vnd.oci.image.layer.v1.tar+lz4",
                       Sha256(Bytes(layer_))),
                EMEDIUMTYPE, "tar+lz4");
}

}  // namespace
}  // namespace sealfs::mkfs
