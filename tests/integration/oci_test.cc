// SPDX-License-Identifier: Apache-2.0
// `sealfs mkfs --from-oci` of images written by umoci and skopeo (three
// layers that delete, replace, hard-link across layers and make a directory
// opaque; gzip, zstd and uncompressed; oci:, oci-archive: and docker:// from
// Debian's docker-registry on loopback, OCI and Docker schema 2), mounted and
// compared with `umoci raw unpack` of the same image by rsync in checksum
// mode; and a tampered, truncated or mislabelled layer refused.
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/integration/mount_fixture.h"
#include "tests/registry_server.h"

namespace sealfs::testing {
namespace {

const std::string kScripts =
    std::string(SEALFS_SOURCE_DIR) + "/tests/integration";

class OciMountTest : public MountTest {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;
    for (const char* tool : {"umoci", "skopeo", "rsync", "setcap", "python3"}) {
      if (!HaveProgram(tool)) return;  // each test then skips, naming it
    }
    images_ = new TempDir();
    CommandResult r =
        RunCmd({"bash", kScripts + "/make_oci_images.sh", *images_ / "img"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = RunCmd({"umoci", "raw", "unpack", "--image",
                *images_ / "img/layout:multi", *images_ / "reference"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete images_;
    images_ = nullptr;
  }

  void SetUp() override {
    MountTest::SetUp();
    if (IsSkipped()) return;
    if (geteuid() != 0) GTEST_SKIP() << "needs root (device nodes, owners)";
    for (const char* tool : {"umoci", "skopeo", "rsync", "setcap", "python3"}) {
      if (!HaveProgram(tool)) GTEST_SKIP() << "needs " << tool;
    }
    ASSERT_NE(images_, nullptr) << "the fixture images were not made";
  }

  static std::string Img(const std::string& name) {
    return *images_ / ("img/" + name);
  }

  CommandResult MkfsOci(const std::string& source, const std::string& image) {
    std::vector<std::string> argv = {SealfsBin(), "mkfs", "--store", store_};
    if (source.starts_with("docker://")) argv.push_back("--tls-verify=false");
    argv.insert(argv.end(), {"--from-oci", source, image});
    return RunCmd(argv);
  }

  // Builds, mounts and compares `source` with umoci's unpacked tree.
  void ExpectSameAsUmoci(const std::string& source) {
    SCOPED_TRACE(source);
    const std::string image = tmp_ / "image";
    unlink(image.c_str());
    CommandResult r = MkfsOci(source, image);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string id = r.out.substr(0, r.out.find('\n'));
    const std::string mnt = tmp_ / "mnt";
    MountOk(image, mnt, "store=" + store_ + ",digest=" + id);
    // Checksums, not sizes and times, decide "same content"; -t compares
    // mtimes, -X xattrs, -H hard-link groups; --delete lists extra files.
    CommandResult diff =
        RunCmd({"rsync", "-rlptgoDcniX", "-H", "--numeric-ids", "--delete",
                *images_ / "reference/", mnt + "/"});
    EXPECT_EQ(diff.exit_code, 0) << diff.err;
    EXPECT_EQ(diff.out, "") << "rsync lists differences";
    // The same both ways: what the mount has that umoci's tree lacks.
    diff = RunCmd({"rsync", "-rlptgoDcniX", "-H", "--numeric-ids", "--delete",
                   mnt + "/", *images_ / "reference/"});
    EXPECT_EQ(diff.out, "") << "rsync lists differences (reverse)";
    // The tree holds what the test means it to.
    EXPECT_EQ(access((mnt + "/gone.txt").c_str(), F_OK), -1);
    EXPECT_EQ(access((mnt + "/gonedir").c_str(), F_OK), -1);
    EXPECT_EQ(access((mnt + "/opq/old").c_str(), F_OK), -1);
    EXPECT_EQ(access((mnt + "/opq/new").c_str(), F_OK), 0);
    CommandResult links =
        RunCmd({"stat", "-c", "%i %h", mnt + "/xlink", mnt + "/keep/orig"});
    ASSERT_EQ(links.exit_code, 0) << links.err;
    const std::string first = links.out.substr(0, links.out.find('\n'));
    EXPECT_EQ(links.out, first + "\n" + first + "\n");
    CleanUpMount(mnt);
    Forget(mnt);
  }

  static TempDir* images_;
};

TempDir* OciMountTest::images_ = nullptr;

TEST_F(OciMountTest, LayoutsAndArchiveMountAsUmociUnpacksThem) {
  ExpectSameAsUmoci("oci:" + Img("layout") + ":multi");
  ExpectSameAsUmoci("oci:" + Img("zstd"));  // the only image: no tag needed
  ExpectSameAsUmoci("oci:" + Img("plain") + ":multi");
  ExpectSameAsUmoci("oci-archive:" + Img("image.tar") + ":multi");
}

TEST_F(OciMountTest, ImageKeepsTheConfigBlob) {
  const std::string image = tmp_ / "image";
  CommandResult r = MkfsOci("oci:" + Img("layout") + ":multi", image);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunCmd({SealfsBin(), "inspect", "--oci-config", image});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  CommandResult want = Shell(
      "cd '" + Img("layout") +
      "' && m=$(python3 -c \"import json;print(json.load(open('index.json'))"
      "['manifests'][0]['digest'][7:])\") && c=$(python3 -c \"import json;"
      "print(json.load(open('blobs/sha256/'+'$m'))['config']['digest'][7:])\")"
      " && cat blobs/sha256/$c");
  ASSERT_EQ(want.exit_code, 0) << want.err;
  EXPECT_EQ(r.out.substr(0, want.out.size()), want.out);
}

// Each damage in a copy of the layout is refused with its reason, and no
// image is written.
TEST_F(OciMountTest, DamagedImagesAreRefusedWithAReason) {
  struct Case {
    const char* edit;
    const char* reason;
  } cases[] = {
      {"tamper-layer", "expected sha256:"},
      {"wrong-diff-id", "uncompressed (diff_id): sha256"},
      {"truncate-layer", "(truncated)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.edit);
    const std::string copy = tmp_ / c.edit;
    CommandResult r = RunCmd({"cp", "-a", Img("layout"), copy});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = RunCmd({"python3", kScripts + "/oci_edit.py", c.edit, copy, "multi"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string image = tmp_ / (std::string(c.edit) + ".img");
    r = MkfsOci("oci:" + copy + ":multi", image);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(c.reason), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("layer 3"), std::string::npos) << r.err;
    EXPECT_EQ(access(image.c_str(), F_OK), -1) << "an image was written";
  }
}

TEST_F(OciMountTest, UnknownTagAndPlatformAreNamed) {
  CommandResult r = MkfsOci("oci:" + Img("layout") + ":nope", tmp_ / "i");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no image tagged 'nope' (tags: 'multi')"),
            std::string::npos)
      << r.err;
  r = RunCmd({SealfsBin(), "mkfs", "--store", store_, "--platform",
              "linux/s390x", "--from-oci", "oci:" + Img("layout") + ":multi",
              tmp_ / "i"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not linux/s390x"), std::string::npos) << r.err;
  EXPECT_EQ(access((tmp_ / "i").c_str(), F_OK), -1);
}

TEST_F(OciMountTest, RegistryImagesMountAsUmociUnpacksThem) {
  if (!HaveProgram("docker-registry")) GTEST_SKIP() << "needs docker-registry";
  RegistryServer registry;
  RegistryConfig config;
  config.dir = tmp_ / "registry";
  ASSERT_EQ(RunCmd({"mkdir", "-p", config.dir}).exit_code, 0);
  ASSERT_EQ(registry.Start(config), "");
  const std::string base = "docker://" + registry.host() + "/oci/";
  const std::string index = tmp_ / "index";
  ASSERT_EQ(RunCmd({"cp", "-a", Img("layout"), index}).exit_code, 0);
  ASSERT_EQ(
      RunCmd({"python3", kScripts + "/oci_edit.py", "index", index, "multi",
              "multi-arch", "linux/s390x", "linux/amd64", "linux/arm64"})
          .exit_code,
      0);
  struct Push {
    std::string from, to;
    std::vector<std::string> flags;
  } pushes[] = {
      {"oci:" + Img("layout") + ":multi", base + "img:v1", {}},
      {"oci:" + Img("zstd") + ":multi", base + "zstd:v1", {}},
      {"oci:" + Img("layout") + ":multi",
       base + "docker:v1",
       {"--format", "v2s2"}},
      {"oci:" + index + ":multi-arch", base + "index:v1", {"--all"}},
  };
  for (const Push& p : pushes) {
    std::vector<std::string> argv = {"skopeo", "copy", "-q",
                                     "--dest-tls-verify=false"};
    argv.insert(argv.end(), p.flags.begin(), p.flags.end());
    argv.push_back(p.from);
    argv.push_back(p.to);
    CommandResult r = RunCmd(argv);
    ASSERT_EQ(r.exit_code, 0) << p.to << ": " << r.err;
  }
  ExpectSameAsUmoci(base + "img:v1");
  ExpectSameAsUmoci(base + "zstd:v1");
  ExpectSameAsUmoci(base + "docker:v1");  // Docker schema 2 media types
  ExpectSameAsUmoci(base + "index:v1");   // the host's platform, chosen

  CommandResult r = RunCmd({SealfsBin(), "mkfs", "--store", store_,
                            "--tls-verify=false", "--platform", "linux/ppc64le",
                            "--from-oci", base + "index:v1", tmp_ / "i"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no image for linux/ppc64le"), std::string::npos)
      << r.err;
  r = MkfsOci(base + "nope:v1", tmp_ / "i");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;

  // A layer blob damaged in the registry's storage is refused as it
  // streams.
  CommandResult m = RunCmd(
      {"skopeo", "inspect", "--raw", "--tls-verify=false", base + "img:v1"});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  const size_t last = m.out.rfind("sha256:");
  ASSERT_NE(last, std::string::npos);
  const std::string blob = registry.BlobPath(m.out.substr(last + 7, 64));
  std::string bytes = Shell("cat '" + blob + "'").out;
  ASSERT_FALSE(bytes.empty());
  bytes[bytes.size() / 2] ^= 1;
  WriteFile(blob, bytes);
  r = MkfsOci(base + "img:v1", tmp_ / "i");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("layer 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("expected sha256:"), std::string::npos) << r.err;
  EXPECT_EQ(access((tmp_ / "i").c_str(), F_OK), -1);
}

}  // namespace
}  // namespace sealfs::testing
