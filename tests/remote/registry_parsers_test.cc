// SPDX-License-Identifier: Apache-2.0
// Tests for what sealfs parses of a registry's and a user's input: pack
// indexes, OCI manifests, docker:// references, auth files, challenges and
// token answers. Each refusal names what is wrong.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fs/remote/oci_manifest.h"
#include "fs/remote/pack_index.h"
#include "fs/remote/registry_auth.h"
#include "fs/remote/registry_ref.h"
#include "sealfs/format.h"

namespace sealfs::remote {
namespace {

Digest Filled(uint8_t b) {
  Digest d;
  d.bytes.fill(b);
  return d;
}

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

PackIndex SmallIndex() {
  PackIndex index;
  index.pack_digest = Filled(0xee);
  index.pack_size = 20000;
  index.entries = {{Filled(1), 0, 100, std::nullopt},
                   {Filled(2), 100, 9000, 9100},
                   {Filled(3), 13196, 10, std::nullopt}};
  return index;
}

TEST(PackIndex, RoundTripsAndFinds) {
  std::vector<uint8_t> blob = EncodePackIndex(SmallIndex());
  EXPECT_EQ(blob.size(), 64u + 3 * 64u);
  Result<PackIndex> back = DecodePackIndex(blob);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->pack_digest, Filled(0xee));
  ASSERT_NE(back->Find(Filled(2)), nullptr);
  EXPECT_EQ(back->Find(Filled(2))->tree_offset, 9100u);
  EXPECT_EQ(back->Find(Filled(9)), nullptr);
}

TEST(PackIndex, RefusesWhatTheFormatForbids) {
  const std::vector<uint8_t> good = EncodePackIndex(SmallIndex());
  auto refused = [](std::vector<uint8_t> b, const std::string& why) {
    Result<PackIndex> r = DecodePackIndex(b);
    ASSERT_FALSE(r.ok()) << why;
    EXPECT_EQ(r.status().err(), kErrCorrupt) << why;
    EXPECT_NE(r.status().context().find(why), std::string::npos)
        << r.status().context();
  };
  refused({good.begin(), good.begin() + 10}, "shorter than its header");
  std::vector<uint8_t> b = good;
  b[0] ^= 1;
  refused(b, "bad magic");
  b = good;
  b[4] = 2;
  refused(b, "version 2");
  b = good;
  b[60] = 1;
  refused(b, "reserved");
  b = good;
  b.pop_back();
  refused(b, "records");
  PackIndex outside = SmallIndex();
  outside.entries[2].offset = 19995;
  refused(EncodePackIndex(outside), "data outside the pack");
  PackIndex tree = SmallIndex();
  tree.entries[0].tree_offset = 200;
  refused(EncodePackIndex(tree), "a tree for an object of one block");
  PackIndex unsorted = SmallIndex();
  std::swap(unsorted.entries[0], unsorted.entries[1]);
  refused(EncodePackIndex(unsorted), "not sorted");
  PackIndex wrap = SmallIndex();
  wrap.entries[1].offset = UINT64_MAX - 10;
  refused(EncodePackIndex(wrap), "outside the pack");
}

SealfsArtifact Artifact() {
  SealfsArtifact a;
  a.image = {kOciImageMediaType, Filled(1), 1000};
  a.identity = Filled(9);
  a.indexes = {{kOciPackIndexMediaType, Filled(2), 128}};
  a.packs = {{kOciPackMediaType, Filled(3), 20000}};
  return a;
}

TEST(OciManifest, RoundTripsWithTheFieldsFormatMdShows) {
  const std::string json = BuildOciManifest(Artifact());
  EXPECT_EQ(json.find("{\"schemaVersion\":2,\"mediaType\":"), 0u) << json;
  EXPECT_NE(json.find("\"artifactType\":\"application/vnd.sealfs.image.v1\""),
            std::string::npos);
  EXPECT_NE(json.find(OciDigest(OciEmptyConfigDescriptor().digest)),
            std::string::npos);
  Result<SealfsArtifact> back = ParseOciManifest(Bytes(json));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->image.digest, Filled(1));
  EXPECT_EQ(back->identity, Filled(9));
  ASSERT_EQ(back->packs.size(), 1u);
  EXPECT_NE(back->FindPack(Filled(3)), nullptr);
  // The empty config is what OCI 1.1 says it is.
  EXPECT_EQ(OciDigest(OciEmptyConfigDescriptor().digest),
            "sha256:"
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
}

TEST(OciManifest, RefusesOtherManifestsByName) {
  auto err = [](const std::string& json) {
    return ParseOciManifest(Bytes(json)).status();
  };
  EXPECT_EQ(err("not json").err(), kErrCorrupt);
  EXPECT_EQ(err("[]").err(), kErrCorrupt);
  EXPECT_EQ(err("{\"schemaVersion\":1}").err(), kErrCorrupt);
  // A container image is valid OCI, but not ours.
  Status st = err(
      "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest."
      "v1+json\",\"layers\":[]}");
  EXPECT_EQ(st.err(), EMEDIUMTYPE);
  EXPECT_NE(st.context().find("not a sealfs image"), std::string::npos);
  std::string json = BuildOciManifest(Artifact());
  std::string two_images = json;
  two_images.replace(two_images.find("application/vnd.sealfs.pack.v1"), 30,
                     "application/vnd.sealfs.image.v1");
  EXPECT_NE(err(two_images).context().find("two image layers"),
            std::string::npos);
  std::string unknown = json;
  unknown.replace(unknown.find("application/vnd.sealfs.pack.v1"), 30,
                  "application/vnd.sealfs.other.v1");
  EXPECT_NE(err(unknown).context().find("unknown media type"),
            std::string::npos);
  std::string bad_digest = json;
  bad_digest.replace(bad_digest.find("sha256:0303"), 11, "sha256:XYZW");
  EXPECT_EQ(err(bad_digest).err(), kErrCorrupt);
  SealfsArtifact lonely = Artifact();
  lonely.packs.clear();
  lonely.indexes.clear();
  lonely.packs = {};
  std::string no_index = BuildOciManifest(lonely);
  EXPECT_TRUE(ParseOciManifest(Bytes(no_index)).ok());
}

TEST(RegistryRef, ReadsReferencesAsSkopeoDoes) {
  Result<RegistryRef> r =
      ParseRegistryRef("docker://127.0.0.1:5000/team/app:v1", true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->host, "127.0.0.1:5000");
  EXPECT_EQ(r->repository, "team/app");
  EXPECT_EQ(r->tag, "v1");
  r = ParseRegistryRef("docker://busybox", false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->host, "docker.io");
  EXPECT_EQ(r->repository, "library/busybox");
  EXPECT_EQ(r->api_host(), "registry-1.docker.io");
  r = ParseRegistryRef("docker://localhost/a/b@sha256:" + std::string(64, 'a'),
                       true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->reference(), "sha256:" + std::string(64, 'a'));
  for (const char* bad : {"oci:/x", "docker://", "docker://host.io/UPPER:v1",
                          "docker://h.io/a//b", "docker://h.io/a:v1:v2",
                          "docker://h.io/a@sha256:12", "docker://h.io/a:-v",
                          "docker://h.io/a..b:v", "docker://h.io/a_"}) {
    EXPECT_FALSE(ParseRegistryRef(bad, false).ok()) << bad;
  }
  EXPECT_EQ(ParseRegistryRef("docker://h.io/app", true).status().err(), EINVAL);
}

TEST(RegistryAuth, FindsTheMostSpecificCredentials) {
  const std::string json =
      "{\"auths\":{\"reg.io\":{\"auth\":\"" + Base64Encode("host:pw") +
      "\"},\"reg.io/team\":{\"auth\":\"" + Base64Encode("team:pw2") +
      "\"},\"other.io\":{\"username\":\"u\",\"password\":\"p\"}}}";
  auto find = [&](const std::string& host, const std::string& repo) {
    Result<std::optional<Credentials>> c =
        CredentialsFromJson(Bytes(json), host, repo);
    EXPECT_TRUE(c.ok());
    return c.ok() && c->has_value() ? (*c)->username : std::string("-");
  };
  EXPECT_EQ(find("reg.io", "team/app"), "team");
  EXPECT_EQ(find("reg.io", "other/app"), "host");
  EXPECT_EQ(find("other.io", "x"), "u");
  EXPECT_EQ(find("none.io", "x"), "-");
  EXPECT_FALSE(CredentialsFromJson(
                   Bytes("{\"auths\":{\"a\":{\"auth\":\"!!\"}}}"), "a", "r")
                   .ok());
  EXPECT_FALSE(CredentialsFromJson(Bytes("{\"auths\":[]}"), "a", "r").ok());
}

TEST(RegistryAuth, ParsesChallengesAndTokens) {
  Result<AuthChallenge> c = ParseChallenge(
      "Bearer realm=\"https://auth.io/token\",service=\"reg\","
      "scope=\"repository:a/b:pull,push\"");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->params["realm"], "https://auth.io/token");
  EXPECT_EQ(c->params["scope"], "repository:a/b:pull,push");
  c = ParseChallenge("Basic realm=\"x \\\"y\\\"\"");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->params["realm"], "x \"y\"");
  EXPECT_FALSE(ParseChallenge("").ok());
  EXPECT_FALSE(ParseChallenge("Bearer realm=\"open").ok());

  Result<BearerToken> t =
      ParseTokenResponse(Bytes("{\"token\":\"abc\",\"expires_in\":30}"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->token, "abc");
  EXPECT_EQ(t->expires_in_s, 30u);
  t = ParseTokenResponse(Bytes("{\"access_token\":\"z\"}"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->expires_in_s, 60u);
  EXPECT_FALSE(ParseTokenResponse(Bytes("{\"token\":\"a\\r\\nX: y\"}")).ok());
  EXPECT_FALSE(ParseTokenResponse(Bytes("{}")).ok());
}

TEST(RegistryAuth, Base64RoundTrips) {
  for (const std::string s : {"", "a", "ab", "abc", "user:pässword"}) {
    EXPECT_EQ(Base64Decode(Base64Encode(s)), s);
  }
  EXPECT_EQ(Base64Encode("user:pw"), "dXNlcjpwdw==");
  EXPECT_FALSE(Base64Decode("a!b").has_value());
}

}  // namespace
}  // namespace sealfs::remote
