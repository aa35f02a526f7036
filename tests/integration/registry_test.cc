// SPDX-License-Identifier: Apache-2.0
// sealfs and a real OCI registry (Debian's docker-registry on loopback):
// push, pull into an empty store, mounts from a registry (lazy, verified),
// --base reuse and cross-repository mounts, Basic auth and TLS with the
// test's own CA, the Bearer token flow (tests/tools/registry_proxy.py in
// front), a pack corrupted in the registry's storage, and a registry that
// goes away mid-pull.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "sealfs/digest.h"
#include "tests/http_store_server.h"
#include "tests/integration/mount_fixture.h"
#include "tests/registry_server.h"

namespace sealfs::testing {
namespace {

namespace fs = std::filesystem;

// The unsigned number after "key": in a JSON report; -1 if absent.
long long JsonNumber(const std::string& json, const std::string& key) {
  const std::string pat = "\"" + key + "\":";
  const size_t at = json.find(pat);
  if (at == std::string::npos) return -1;
  return std::stoll(json.substr(at + pat.size()));
}

std::string ObjectFor(const std::string& store,
                      const std::vector<uint8_t>& data) {
  const std::string hex = ComputeMerkleTree(data).digest.Hex();
  return store + "/objects/" + hex.substr(0, 2) + "/" + hex.substr(2);
}

class RegistryTest : public MountTest {
 protected:
  void SetUp() override {
    MountTest::SetUp();
    if (IsSkipped()) return;
    key_ = tmp_ / "key";
    MakeKey(key_);
    src_ = tmp_ / "src";
    for (int i = 0; i < 40; ++i) {
      files_.push_back(RandomBytes(100 + 997 * static_cast<size_t>(i), 40 + i));
      WriteFile(src_ + "/d" + std::to_string(i % 4) + "/f" + std::to_string(i),
                files_.back());
    }
    big_ = RandomBytes((5u << 20) + 123, 7);  // read by range when lazy
    WriteFile(src_ + "/big", big_);
    image_ = tmp_ / "image";
    identity_ = Mkfs(src_, image_, key_);
    reg_dir_ = tmp_ / "registry";
    fs::create_directories(reg_dir_);
  }

  void TearDown() override {
    proxy_.Stop();
    registry_.Stop();
    MountTest::TearDown();
  }

  void StartRegistry(RegistryConfig config = {}) {
    config.dir = reg_dir_;
    ASSERT_EQ(registry_.Start(config), "");
  }

  std::string Ref(const std::string& repo_tag) const {
    return "docker://" + registry_.host() + "/" + repo_tag;
  }

  CommandResult Push(const std::string& to, std::vector<std::string> extra = {},
                     const std::string& image = "") {
    std::vector<std::string> argv = {SealfsBin(), "push", "--store", store_,
                                     "--to",      to,     "--json"};
    if (std::find(extra.begin(), extra.end(), "--tls-verify=true") ==
        extra.end()) {
      argv.push_back("--tls-verify=false");
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(image.empty() ? image_ : image);
    return RunCmd(argv);
  }

  CommandResult Pull(const std::string& from, const std::string& store,
                     const std::string& tag,
                     std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        SealfsBin(), "pull", "--from", from,
        "--store",   store,  "--json", "--tls-verify=false"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(tag);
    return RunCmd(argv);
  }

  // Every file of the source reads back the same through `mnt`.
  void ExpectSameTree(const std::string& mnt) {
    EXPECT_EQ(RunCmd({"diff", "-r", src_, mnt}).exit_code, 0);
  }

  std::string key_, src_, image_, identity_, reg_dir_;
  std::vector<std::vector<uint8_t>> files_;
  std::vector<uint8_t> big_;
  RegistryServer registry_;
  HttpStoreServer proxy_;
};

TEST_F(RegistryTest, PushPullIntoAnEmptyStoreAndMount) {
  StartRegistry();
  CommandResult r = Push(Ref("team/app:v1"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(JsonNumber(r.out, "packs"), 1);
  EXPECT_EQ(JsonNumber(r.out, "blobs_present"), 0);
  // What was pushed, as skopeo sees it: our artifact type and layers.
  CommandResult raw = RunCmd(
      {"skopeo", "inspect", "--raw", "--tls-verify=false", Ref("team/app:v1")});
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_NE(
      raw.out.find("\"artifactType\":\"application/vnd.sealfs.image.v1\""),
      std::string::npos)
      << raw.out;
  EXPECT_NE(raw.out.find(identity_), std::string::npos);
  // Pushing again uploads nothing.
  r = Push(Ref("team/app:v1"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(JsonNumber(r.out, "blobs_uploaded"), 0);

  const std::string fresh = tmp_ / "fresh";
  r = Pull("docker://" + registry_.host() + "/team/app", fresh, "v1",
           {"--pubkey", key_ + ".pub"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(JsonNumber(r.out, "failed"), 0);
  EXPECT_TRUE(fs::exists(fresh + "/images/v1"));
  EXPECT_EQ(RunCmd({SealfsBin(), "fsck", "--store", fresh}).exit_code, 0);
  std::string mnt = tmp_ / "mnt";
  MountOk(fresh + "/images/v1", mnt,
          "store=" + fresh + ",pubkey=" + key_ + ".pub");
  ExpectSameTree(mnt);
}

TEST_F(RegistryTest, LazyMountFromTheRegistryWithAnEmptyStore) {
  StartRegistry();
  ASSERT_EQ(Push(Ref("team/app:v1")).exit_code, 0);
  const std::string fresh = tmp_ / "fresh";  // does not exist yet
  std::string mnt = tmp_ / "mnt";
  MountOk(Ref("team/app:v1"), mnt,
          "store=" + fresh + ",pubkey=" + key_ + ".pub,tls_verify=false");
  std::vector<uint8_t> got = ReadFile(mnt + "/d1/f5");
  EXPECT_EQ(got, files_[5]);
  ExpectSameTree(mnt);
  // Every object arrives in the background, verified; then the image is
  // kept in the store, as a tag, and mounts without the registry.
  const std::string kept = fresh + "/images/127.0.0.1_" +
                           std::to_string(registry_.port()) + "_team_app_v1";
  for (int i = 0; i < 1000 && !fs::exists(kept); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(fs::exists(ObjectFor(fresh, big_)));
  ASSERT_TRUE(fs::exists(kept));
  EXPECT_EQ(RunCmd({SealfsBin(), "fsck", "--store", fresh}).exit_code, 0);
  registry_.Stop();
  std::string again = tmp_ / "again";
  MountOk(kept, again, "store=" + fresh + ",pubkey=" + key_ + ".pub");
  ExpectSameTree(again);
}

TEST_F(RegistryTest, AnotherImageUnderTheTagIsRefusedByPubkey) {
  StartRegistry();
  // Someone pushes an image signed by another key under the tag.
  const std::string other_key = tmp_ / "other";
  MakeKey(other_key);
  const std::string other_image = tmp_ / "other-image";
  Mkfs(src_, other_image, other_key);
  ASSERT_EQ(Push(Ref("team/app:v1"), {}, other_image).exit_code, 0);
  CommandResult r = Mount(Ref("team/app:v1"), tmp_ / "mnt",
                          "store=" + std::string(tmp_ / "s2") +
                              ",pubkey=" + key_ + ".pub,tls_verify=false");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not trusted"), std::string::npos) << r.err;
  r = Pull(Ref("team/app"), tmp_ / "s3", "v1", {"--pubkey", key_ + ".pub"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
}

TEST_F(RegistryTest, BaseReusesPacksAndUploadsOnlyNewObjects) {
  StartRegistry();
  CommandResult first = Push(Ref("team/app:v1"));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  // v2: the same tree and one new file.
  const std::vector<uint8_t> extra = RandomBytes(30000, 99);
  WriteFile(src_ + "/new", extra);
  const std::string image2 = tmp_ / "image2";
  Mkfs(src_, image2, key_);
  CommandResult r =
      Push(Ref("team/app:v2"), {"--base", Ref("team/app:v1")}, image2);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(JsonNumber(r.out, "packs_reused"), 1);
  // The new pack, its index and the image; the config was there.
  EXPECT_EQ(JsonNumber(r.out, "blobs_uploaded"), 3);
  EXPECT_LT(JsonNumber(r.out, "bytes_uploaded"), 1 << 20);
  // Into another repository of the same registry: mounted, not uploaded.
  r = Push(Ref("other/app:v2"), {"--base", Ref("team/app:v1")}, image2);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(JsonNumber(r.out, "blobs_mounted"), 2);
  EXPECT_LT(JsonNumber(r.out, "bytes_uploaded"), 1 << 20);
  // Both pull whole and verified.
  for (const char* repo : {"team/app", "other/app"}) {
    const std::string store =
        tmp_ / ("pulled-" + std::string(repo).substr(0, 4));
    r = Pull(Ref(repo), store, "v2", {"--pubkey", key_ + ".pub"});
    ASSERT_EQ(r.exit_code, 0) << repo << ": " << r.err;
    EXPECT_EQ(ReadFile(ObjectFor(store, extra)), extra);
  }
}

TEST_F(RegistryTest, BasicAuthAndTlsWithTheTestsCa) {
  const std::string certs = tmp_ / "certs";
  fs::create_directories(certs);
  ASSERT_EQ(MakeCertificates(certs), "");
  const std::string htpasswd = tmp_ / "htpasswd";
  ASSERT_EQ(MakeHtpasswd(htpasswd, "builder", "s3cret"), "");
  RegistryConfig config;
  config.htpasswd = htpasswd;
  config.cert = certs + "/server.crt";
  config.key = certs + "/server.key";
  StartRegistry(config);
  const std::string ca_dir = tmp_ / "ca";
  fs::create_directories(ca_dir);
  fs::copy_file(certs + "/ca.crt", ca_dir + "/ca.crt");
  const std::string auth = tmp_ / "auth.json";
  WriteAuthFile(auth, registry_.host(), "builder", "s3cret");

  // TLS verified against the test's CA, no credentials: refused.
  CommandResult r =
      Push(Ref("team/app:v1"), {"--tls-verify=true", "--cert-dir", ca_dir,
                                "--authfile", tmp_ / "none.json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("credentials"), std::string::npos) << r.err;
  // Wrong password: refused.
  const std::string wrong = tmp_ / "wrong.json";
  WriteAuthFile(wrong, registry_.host(), "builder", "guess");
  r = Push(Ref("team/app:v1"),
           {"--tls-verify=true", "--cert-dir", ca_dir, "--authfile", wrong});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("refused"), std::string::npos) << r.err;
  // The system CAs do not know the test's: refused.
  r = Push(Ref("team/app:v1"), {"--tls-verify=true", "--authfile", auth});
  EXPECT_EQ(r.exit_code, 1);
  // The right CA and credentials: pushed.
  r = Push(Ref("team/app:v1"),
           {"--tls-verify=true", "--cert-dir", ca_dir, "--authfile", auth});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // A CA of someone else's: refused.
  const std::string other = tmp_ / "other-ca";
  fs::create_directories(other);
  ASSERT_EQ(MakeCertificates(other), "");
  const std::string other_ca = tmp_ / "other-ca-only";
  fs::create_directories(other_ca);
  fs::copy_file(other + "/ca.crt", other_ca + "/ca.crt");
  r = RunCmd({SealfsBin(), "pull", "--from", Ref("team/app"), "--store",
              tmp_ / "s1", "--cert-dir", other_ca, "--authfile", auth, "v1"});
  EXPECT_EQ(r.exit_code, 2) << r.err;  // could not start: TLS
  // Pull and a lazy mount with the right CA and credentials.
  r = RunCmd({SealfsBin(), "pull", "--from", Ref("team/app"), "--store",
              tmp_ / "s2", "--cert-dir", ca_dir, "--authfile", auth, "--pubkey",
              key_ + ".pub", "v1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string mnt = tmp_ / "mnt";
  MountOk(Ref("team/app:v1"), mnt,
          "store=" + std::string(tmp_ / "s3") + ",pubkey=" + key_ +
              ".pub,cert_dir=" + ca_dir + ",authfile=" + auth);
  ExpectSameTree(mnt);
}

TEST_F(RegistryTest, BearerTokenFlow) {
  StartRegistry();
  const std::string log = tmp_ / "proxy.log";
  ASSERT_EQ(
      proxy_.StartScript("registry_proxy.py",
                         {"--upstream", registry_.host(), "--user", "builder",
                          "--password", "s3cret", "--log", log}),
      "");
  const std::string front = "127.0.0.1:" + std::to_string(proxy_.port());
  const std::string auth = tmp_ / "auth.json";
  WriteAuthFile(auth, front, "builder", "s3cret");
  CommandResult r = RunCmd({SealfsBin(), "push", "--store", store_, "--to",
                            "docker://" + front + "/team/app:v1",
                            "--tls-verify=false", "--authfile", auth, image_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(CountLogLinesAtLeast(log, "GET /token", 1), 1);
  r = RunCmd({SealfsBin(), "pull", "--from", "docker://" + front + "/team/app",
              "--store", tmp_ / "s1", "--tls-verify=false", "--authfile", auth,
              "v1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Without credentials the token server says no.
  r = RunCmd({SealfsBin(), "pull", "--from", "docker://" + front + "/team/app",
              "--store", tmp_ / "s2", "--tls-verify=false", "--authfile",
              tmp_ / "none.json", "v1"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("token"), std::string::npos) << r.err;
}

TEST_F(RegistryTest, ACorruptPackGivesEioForItsBlocksOnly) {
  StartRegistry();
  CommandResult r = Push(Ref("team/app:v1"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Flip one byte of the large file's data inside the registry's storage.
  CommandResult raw = RunCmd(
      {"skopeo", "inspect", "--raw", "--tls-verify=false", Ref("team/app:v1")});
  ASSERT_EQ(raw.exit_code, 0);
  // The large file is the first object of the first pack (inode order).
  const std::string marker =
      "\"application/vnd.sealfs.pack.v1\",\"digest\":\"sha256:";
  const size_t at = raw.out.find(marker);
  ASSERT_NE(at, std::string::npos) << raw.out;
  const std::string hex = raw.out.substr(at + marker.size(), 64);
  const std::string blob = registry_.BlobPath(hex);
  ASSERT_TRUE(fs::exists(blob)) << blob;
  {
    int fd = open(blob.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    uint8_t b = 0;
    ASSERT_EQ(pread(fd, &b, 1, 100), 1);
    b ^= 0x01;
    ASSERT_EQ(pwrite(fd, &b, 1, 100), 1);
    close(fd);
  }
  const std::string fresh = tmp_ / "fresh";
  std::string mnt = tmp_ / "mnt";
  MountOk(Ref("team/app:v1"), mnt,
          "store=" + fresh + ",pubkey=" + key_ +
              ".pub,tls_verify=false,prefetch=none");
  // Block 0 of the object that starts the pack fails; the others are fine.
  int errors = 0;
  std::vector<uint8_t> block(4096);
  for (const std::string& name : {std::string("/big")}) {
    int fd = open((mnt + name).c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    if (pread(fd, block.data(), block.size(), 0) < 0 && errno == EIO) ++errors;
    ASSERT_EQ(pread(fd, block.data(), block.size(), 8192), 4096);
    EXPECT_EQ(std::vector<uint8_t>(block.begin(), block.end()),
              std::vector<uint8_t>(big_.begin() + 8192, big_.begin() + 12288));
    close(fd);
  }
  EXPECT_EQ(errors, 1);
  EXPECT_EQ(ReadFile(mnt + "/d2/f6"), files_[6]);
  EXPECT_FALSE(fs::exists(ObjectFor(fresh, big_)));
  // Nothing that landed is corrupt (the image is no tag yet: its objects
  // are not all there).
  CommandResult fsck =
      RunCmd({SealfsBin(), "fsck", "--store", fresh, "--json"});
  EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
}

TEST_F(RegistryTest, ARegistryGoneMidPullFailsCleanlyAndARerunResumes) {
  StartRegistry();
  // Large files, so that the objects come in several range requests.
  for (int i = 0; i < 4; ++i) {
    WriteFile(src_ + "/large" + std::to_string(i),
              RandomBytes(9u << 20, 500 + static_cast<uint64_t>(i)));
  }
  const std::string image = tmp_ / "large-image";
  Mkfs(src_, image, key_);
  ASSERT_EQ(Push(Ref("team/app:v1"), {}, image).exit_code, 0);
  // A front that goes away after the image, the index and two ranges.
  const int port = FreePort();
  ASSERT_EQ(proxy_.StartScript("registry_proxy.py",
                               {"--upstream", registry_.host(), "--port",
                                std::to_string(port), "--die-after", "4"}),
            "");
  const std::string from =
      "docker://127.0.0.1:" + std::to_string(port) + "/team/app";
  const std::string fresh = tmp_ / "fresh";
  CommandResult r = Pull(from, fresh, "v1", {"--jobs", "1", "--timeout", "2"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_GT(JsonNumber(r.out, "fetched"), 0) << r.out;
  EXPECT_GT(JsonNumber(r.out, "failed"), 0) << r.out;
  EXPECT_FALSE(fs::exists(fresh + "/images/v1"));
  EXPECT_EQ(RunCmd({SealfsBin(), "fsck", "--store", fresh}).exit_code, 0);
  // It comes back: the re-run fetches only the rest.
  ASSERT_EQ(
      proxy_.StartScript("registry_proxy.py", {"--upstream", registry_.host(),
                                               "--port", std::to_string(port)}),
      "");
  r = Pull(from, fresh, "v1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(JsonNumber(r.out, "skipped"), 0) << r.out;
  EXPECT_TRUE(fs::exists(fresh + "/images/v1"));
  EXPECT_EQ(RunCmd({SealfsBin(), "fsck", "--store", fresh}).exit_code, 0);
}

}  // namespace
}  // namespace sealfs::testing
