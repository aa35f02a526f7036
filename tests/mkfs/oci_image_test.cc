// SPDX-License-Identifier: Apache-2.0
#include "fs/mkfs/oci_image.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "fs/mkfs/blob_stream.h"
#include "fs/mkfs/oci_archive.h"

namespace sealfs::mkfs {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

const std::string kDigest = "sha256:" + std::string(64, 'a');

std::string Desc(const std::string& type, const std::string& extra = "") {
  return R"({"mediaType":")" + type + R"(","digest":")" + kDigest +
         R"(","size":10)" + extra + "}";
}

TEST(OciImage, ParsesPlatforms) {
  Result<Platform> p = ParsePlatform("linux/arm/v7");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->ToString(), "linux/arm/v7");
  for (const char* bad : {"", "linux", "linux/", "/amd64", "a/b/c/d", "a//b"}) {
    EXPECT_EQ(ParsePlatform(bad).status().err(), EINVAL) << bad;
  }
  EXPECT_TRUE(
      PlatformMatches({"linux", "arm64", "v8"}, {"linux", "arm64", ""}));
  EXPECT_TRUE(PlatformMatches({"linux", "arm", ""}, {"linux", "arm", "v7"}));
  EXPECT_FALSE(PlatformMatches({"linux", "arm", "v6"}, {"linux", "arm", "v7"}));
  EXPECT_FALSE(PlatformMatches({"linux", "amd64", ""}, {"linux", "arm64", ""}));
  EXPECT_EQ(HostPlatform().os, "linux");
}

TEST(OciImage, SelectsFromAnIndexByPlatformAndTag) {
  const std::string index =
      R"({"schemaVersion":2,"manifests":[)" +
      Desc(kOciManifestMediaType,
           R"(,"platform":{"os":"linux","architecture":"arm64"})") +
      "," +
      Desc(kOciManifestMediaType,
           R"(,"platform":{"os":"linux","architecture":"amd64"},)"
           R"("annotations":{"org.opencontainers.image.ref.name":"v1"})") +
      "]}";
  Result<std::vector<IndexEntry>> entries =
      ParseImageIndex(Bytes(index), kOciIndexMediaType);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[1].ref_name, "v1");
  EXPECT_TRUE(SelectByPlatform(*entries, {"linux", "amd64", ""}).ok());
  Result<OciDescriptor> none =
      SelectByPlatform(*entries, {"linux", "s390x", ""});
  EXPECT_EQ(none.status().err(), ENOENT);
  EXPECT_NE(none.status().context().find("'linux/arm64', 'linux/amd64'"),
            std::string::npos)
      << none.status().context();
  EXPECT_TRUE(SelectByTag(*entries, "v1", HostPlatform()).ok());
  EXPECT_EQ(SelectByTag(*entries, "v2", HostPlatform()).status().err(), ENOENT);
  EXPECT_EQ(SelectByTag(*entries, "", HostPlatform()).status().err(), ENOENT);
}

TEST(OciImage, RefusesAManifestFetchedAsAnotherType) {
  const std::string manifest =
      R"({"schemaVersion":2,"mediaType":")" +
      std::string(kOciManifestMediaType) + R"(","config":)" +
      Desc(kOciConfigMediaType) + R"(,"layers":[)" +
      Desc("application/vnd.oci.image.layer.v1.tar+zstd") + "]}";
  ASSERT_TRUE(ParseImageManifest(Bytes(manifest), kOciManifestMediaType).ok());
  EXPECT_EQ(ParseImageIndex(Bytes(manifest), kOciIndexMediaType).status().err(),
            kErrCorrupt);
}

TEST(OciImage, RefusesUnknownMediaTypesByName) {
  const std::string manifest =
      R"({"schemaVersion":2,"config":)" + Desc(kOciConfigMediaType) +
      R"(,"layers":[)" + Desc("application/vnd.oci.image.layer.v1.tar+xz") +
      "]}";
  Result<ImageManifest> m =
      ParseImageManifest(Bytes(manifest), kOciManifestMediaType);
  EXPECT_EQ(m.status().err(), EMEDIUMTYPE);
  EXPECT_NE(m.status().context().find("tar+xz"), std::string::npos);
  const std::string artifact = R"({"schemaVersion":2,"config":)" +
                               Desc("application/vnd.example.sbom+json") +
                               R"(,"layers":[]})";
  EXPECT_EQ(
      ParseImageManifest(Bytes(artifact), kOciManifestMediaType).status().err(),
      EMEDIUMTYPE);
  EXPECT_EQ(
      LayerCompressionOf("application/vnd.docker.image.rootfs.diff.tar.gzip")
          .value(),
      Compression::kGzip);
  EXPECT_EQ(UnsupportedManifestType(
                "application/vnd.docker.distribution.manifest.v1+prettyjws")
                .err(),
            EMEDIUMTYPE);
}

TEST(OciImage, ParsesConfigDiffIds) {
  const std::string config =
      R"({"os":"linux","architecture":"amd64","rootfs":{"type":"layers",)"
      R"("diff_ids":[")" +
      kDigest + R"("]}})";
  Result<ImageConfig> c = ParseImageConfig(Bytes(config));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->diff_ids.size(), 1u);
  const std::vector<std::string> bads = {
      "[]", "{}", "nul",
      R"({"os":"linux","architecture":"amd64","rootfs":{"type":"x"}})",
      R"({"os":"linux","architecture":"amd64","rootfs":{"type":"layers",)"
      R"("diff_ids":["sha512:00"]}})"};
  for (const std::string& bad : bads) {
    EXPECT_EQ(ParseImageConfig(Bytes(bad)).status().err(), kErrCorrupt) << bad;
  }
}

// A stream over a fixed string, in pieces of `piece` bytes.
class StringStream : public ByteStream {
 public:
  StringStream(std::string data, size_t piece)
      : data_(std::move(data)), piece_(piece) {}
  Result<std::span<const uint8_t>> Next() override {
    const size_t n = std::min(piece_, data_.size() - pos_);
    std::span<const uint8_t> out(
        reinterpret_cast<const uint8_t*>(data_.data()) + pos_, n);
    pos_ += n;
    return out;
  }

 private:
  std::string data_;
  size_t piece_;
  size_t pos_ = 0;
};

TEST(BlobStream, ChecksDigestAndSizeAtTheEnd) {
  const std::string data(10000, 'x');
  const Digest d = Sha256(Bytes(data));
  {
    StringStream in(data, 3000);
    auto checked = CheckedStream(in, d, data.size(), "blob");
    EXPECT_TRUE(Drain(*checked).ok());
  }
  {
    StringStream in(data, 3000);
    auto checked = CheckedStream(in, d, data.size() + 1, "blob");
    Status s = Drain(*checked);
    EXPECT_EQ(s.err(), kErrCorrupt);
    EXPECT_NE(s.context().find("(truncated)"), std::string::npos);
  }
  {
    StringStream in(data, 3000);
    auto checked = CheckedStream(in, d, data.size() - 1, "blob");
    EXPECT_EQ(Drain(*checked).err(), kErrCorrupt);
  }
  {
    StringStream in(data + "y", 3000);
    auto checked = CheckedStream(in, d, std::nullopt, "blob");
    EXPECT_EQ(Drain(*checked).err(), kErrDigest);
  }
}

TEST(BlobStream, RefusesDataThatIsNotWhatTheMediaTypeSays) {
  StringStream in(std::string(2000, 'x'), 512);
  Result<std::unique_ptr<ByteStream>> s =
      DecompressStream(in, Compression::kGzip);
  EXPECT_EQ(s.status().err(), kErrCorrupt);
  EXPECT_NE(s.status().context().find("not gzip"), std::string::npos)
      << s.status().context();
}

// A tar header block for `name` with `size` bytes of data.
std::string TarHeader(const std::string& name, size_t size, char type = '0') {
  std::string b(512, '\0');
  b.replace(0, name.size(), name);
  char num[16];
  snprintf(num, sizeof num, "%011zo", size);
  b.replace(124, 11, num);
  b.replace(100, 7, "0000644");
  b[156] = type;
  b.replace(257, 6, std::string("ustar\0", 6));
  b.replace(263, 2, "00");
  b.replace(148, 8, "        ");
  unsigned sum = 0;
  for (unsigned char c : b) sum += c;
  snprintf(num, sizeof num, "%06o", sum);
  b.replace(148, 7, std::string(num, 6) + '\0');
  return b;
}

Result<std::map<std::string, ArchiveMember>> Index(const std::string& tar) {
  return IndexTarArchive(
      [&tar](std::span<uint8_t> out, uint64_t offset) -> Result<size_t> {
        if (offset >= tar.size()) return size_t{0};
        const size_t n = std::min<size_t>(out.size(), tar.size() - offset);
        memcpy(out.data(), tar.data() + offset, n);
        return n;
      },
      tar.size());
}

TEST(OciArchive, IndexesLayoutFilesOnly) {
  const std::string blob = "blobs/sha256/" + std::string(64, 'b');
  std::string tar = TarHeader("./oci-layout", 5) + std::string(512, 'l') +
                    TarHeader("other", 3) + std::string(512, 'o') +
                    TarHeader(blob, 600) + std::string(1024, 'z') +
                    TarHeader("blobs/sha256/short", 0) +
                    std::string(1024, '\0');
  auto members = Index(tar);
  ASSERT_TRUE(members.ok()) << members.status().ToString();
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ(members->at("oci-layout").offset, 512u);
  EXPECT_EQ(members->at(blob).size, 600u);
  // Every truncation is refused or indexes less, never crashes.
  for (size_t n = 0; n < tar.size(); n += 97) {
    (void)Index(tar.substr(0, n));
  }
  std::string bad = tar;
  bad[130] ^= 1;  // the size field: the checksum no longer matches
  EXPECT_EQ(Index(bad).status().err(), kErrCorrupt);
  EXPECT_EQ(Index(TarHeader(blob, 9999)).status().err(), kErrCorrupt);
  EXPECT_EQ(Index(TarHeader("oci-layout", 0) + TarHeader("oci-layout", 0))
                .status()
                .err(),
            kErrCorrupt);
}

}  // namespace
}  // namespace sealfs::mkfs
