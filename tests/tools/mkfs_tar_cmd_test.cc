// SPDX-License-Identifier: Apache-2.0
// `sealfs mkfs --from-tar` run as a user runs it: the identity equals mkfs of
// the tree GNU tar unpacks (pax and GNU formats, plain, gzip, zstd, file and
// stdin, any entry order and source location), multi-layer whiteouts equal a
// hand-built tree, and every hostile layer is refused with one line.
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace sealfs {
namespace {

namespace st = ::sealfs::testing;

using ::sealfs::testing::CommandResult;
using ::sealfs::testing::RandomBytes;
using ::sealfs::testing::SealfsBin;
using ::sealfs::testing::Shell;
using ::sealfs::testing::TempDir;
using ::sealfs::testing::WriteFile;

// What GNU tar is asked to keep, and to restore when run as root.
constexpr char kTarCreate[] =
    "tar --xattrs --xattrs-include='*' --numeric-owner";
constexpr char kTarExtract[] =
    "tar --xattrs --xattrs-include='*' --same-owner -xpf";

// A tree with everything a layer carries: sizes around the inline limit,
// hard links, names and symlink targets over the 100 bytes of a ustar
// header, devices, a fifo, owners, setuid, xattrs (user, trusted,
// security.capability, on a directory too), a sparse file, non-UTF-8 and
// UTF-8 names, and mtimes with nanoseconds.
void MakeRichTree(const std::string& root) {
  WriteFile(root + "/small.txt", "hello, layer\n");
  WriteFile(root + "/at-inline-max", RandomBytes(64, 1));
  WriteFile(root + "/over-inline-max", RandomBytes(65, 2));
  WriteFile(root + "/multi-block.bin", RandomBytes(3 * 4096 + 7, 3));
  WriteFile(root + "/large.bin", RandomBytes(1 << 20, 4));
  WriteFile(root + "/empty", std::string());
  WriteFile(root + "/links/original", RandomBytes(9000, 5));
  WriteFile(root + "/" + std::string(200, 'n'), "long name\n");
  std::string long_dir = root;
  for (int i = 0; i < 3; ++i) long_dir += "/" + std::string(60, 'a' + i);
  WriteFile(long_dir + "/deep-file", "deep\n");
  WriteFile(root + "/non-utf8-\xff\xfe", "bytes\n");
  WriteFile(root + "/utf8-\xc3\xa9t\xc3\xa9", "utf8\n");
  std::string long_target;
  for (int i = 0; i < 40; ++i)
    long_target += "component-" + std::to_string(i) + "/";
  long_target += "end";
  const std::string script =
      "set -e; cd '" + root +
      "'\n"
      "ln links/original links/second\n"
      "mkdir -p other && ln links/original other/third\n"
      "ln -s small.txt symlink\n"
      "ln -s '" +
      long_target +
      "' long-symlink\n"
      "mknod chardev c 1 3\n"
      "mknod blockdev b 7 0\n"
      "mkfifo fifo\n"
      "mkdir emptydir private\n"
      "touch setuid && chmod 4755 setuid\n"
      "chmod 700 private && chown 1234:5678 private small.txt\n"
      "chown -h 42:43 symlink\n"
      "truncate -s 5M sparse.bin\n"
      "printf middle | dd of=sparse.bin bs=1 seek=3000000 conv=notrunc "
      "status=none\n"
      "setfattr -n user.comment -v 'hello xattr' small.txt\n"
      "setfattr -n trusted.secret -v 0x00ff00ff large.bin\n"
      "setfattr -n user.dir -v yes other\n"
      "setcap cap_net_raw+ep over-inline-max\n"
      "find . -depth -exec touch -h -d '2001-02-03 04:05:06.123456789' {} +\n"
      "touch -h -d '1999-12-31 23:59:59.5' small.txt symlink\n";
  CommandResult r = Shell(script);
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

class MkfsTarTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!st::HaveProgram("tar") || !st::HaveProgram("setcap") ||
        !st::HaveProgram("zstd") || geteuid() != 0) {
      GTEST_SKIP() << "needs root, GNU tar, setcap and zstd";
    }
  }

  // `sealfs mkfs --store S [extra] --from-tar L... IMAGE`.
  CommandResult MkfsTar(const std::vector<std::string>& layers,
                        const std::string& image,
                        std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {SealfsBin(), "mkfs", "--store", store_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    for (const std::string& layer : layers) {
      argv.push_back("--from-tar");
      argv.push_back(layer);
    }
    argv.push_back(image);
    return st::Run(argv);
  }

  std::string Identity(const CommandResult& r) {
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  // mkfs of the tree GNU tar unpacks from `layer`, as root.
  std::string IdentityOfUnpacked(const std::string& layer,
                                 std::vector<std::string> extra = {}) {
    const std::string out = work_ / ("unpacked-" + std::to_string(++n_));
    CommandResult r = Shell("mkdir '" + out + "' && " + kTarExtract + " '" +
                            layer + "' -C '" + out + "'");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> argv = {SealfsBin(), "mkfs", "--store", store_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(out);
    argv.push_back(work_ / ("unpacked-" + std::to_string(n_) + ".img"));
    return Identity(st::Run(argv));
  }

  std::string Image() { return work_ / ("image-" + std::to_string(++n_)); }

  TempDir work_;
  std::string store_ = work_ / "store";
  int n_ = 0;
};

TEST_F(MkfsTarTest, PaxLayerMatchesGnuTarUnpackPlainGzipZstdAndStdin) {
  const std::string src = work_ / "src";
  MakeRichTree(src);
  ASSERT_FALSE(HasFatalFailure());
  const std::string tar = work_ / "layer.tar";
  CommandResult r =
      Shell(std::string(kTarCreate) + " --format=pax -C '" + src + "' -cf '" +
            tar + "' . && gzip -k '" + tar + "' && zstd -q '" + tar + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string expected = IdentityOfUnpacked(tar);
  ASSERT_FALSE(expected.empty());
  // The walk of the unpacked tree is the reference.
  EXPECT_EQ(Identity(MkfsTar({tar}, Image())), expected);
  EXPECT_EQ(Identity(MkfsTar({tar + ".gz"}, Image())), expected);
  EXPECT_EQ(Identity(MkfsTar({tar + ".zst"}, Image())), expected);
  std::vector<uint8_t> zst = st::ReadFile(tar + ".zst");
  CommandResult piped = st::RunWithInput(
      {SealfsBin(), "mkfs", "--store", store_, "--from-tar", "-", Image()},
      std::string(zst.begin(), zst.end()));
  EXPECT_EQ(Identity(piped), expected);
  // Sparse entries (-S: holes recorded as a map, the trailing one too)
  // give the same image as the dense archive.
  r = Shell(std::string(kTarCreate) + " --format=pax -S -C '" + src +
            "' -cf '" + tar + ".sparse' .");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Identity(MkfsTar({tar + ".sparse"}, Image())), expected);
  // Everything inlined or nothing inlined: the same rule as the walker.
  for (const char* inline_max : {"0", "4096"}) {
    EXPECT_EQ(Identity(MkfsTar({tar}, Image(), {"--inline-max", inline_max})),
              IdentityOfUnpacked(tar, {"--inline-max", inline_max}))
        << inline_max;
  }
}

TEST_F(MkfsTarTest, GnuFormatLongNamesAndSparseMatchGnuTarUnpack) {
  const std::string src = work_ / "src";
  MakeRichTree(src);
  ASSERT_FALSE(HasFatalFailure());
  const std::string tar = work_ / "layer-gnu.tar";
  // --format=gnu keeps long names and link targets in ././@LongLink entries
  // and has no xattrs or sub-second times; both sides see the same.
  CommandResult r =
      Shell("tar --numeric-owner --format=gnu -C '" + src + "' -cf '" + tar +
            "' . && tar --numeric-owner "
            "--format=gnu -S -C '" +
            src + "' -cf '" + tar + ".sparse' .");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string expected = IdentityOfUnpacked(tar);
  EXPECT_EQ(Identity(MkfsTar({tar}, Image())), expected);
  EXPECT_EQ(Identity(MkfsTar({tar + ".sparse"}, Image())), expected);
}

TEST_F(MkfsTarTest, IdentityIgnoresEntryOrderAndSourceLocation) {
  const std::string src = work_ / "src";
  MakeRichTree(src);
  ASSERT_FALSE(HasFatalFailure());
  const std::string moved = work_ / "elsewhere/deeper/copy";
  CommandResult r = Shell(
      "mkdir -p '" + moved + "' && cp -a '" + src + "/.' '" + moved +
      "/' && touch -h -d '2001-02-03 04:05:06.123456789' '" + moved + "' && " +
      kTarCreate + " --format=pax --sort=name -C '" + src + "' -cf '" +
      (work_ / "sorted.tar") + "' . && " + kTarCreate + " --format=pax -C '" +
      moved + "' -cf '" + (work_ / "moved.tar") + "' .");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string sorted = Identity(MkfsTar({work_ / "sorted.tar"}, Image()));
  EXPECT_EQ(Identity(MkfsTar({work_ / "moved.tar"}, Image())), sorted);
  // The directory builder agrees with both.
  EXPECT_EQ(
      Identity(st::Run({SealfsBin(), "mkfs", "--store", store_, src, Image()})),
      sorted);
}

// Three layers with whiteouts, an opaque directory, replacements both ways
// and a hard link into a lower layer, against a tree built by hand.
TEST_F(MkfsTarTest, LayersWithWhiteoutsMatchHandBuiltTree) {
  const std::string l1 = work_ / "l1";
  const std::string l2 = work_ / "l2";
  const std::string want = work_ / "expected";
  const std::string script =
      "set -e\n"
      "mkdir -p " +
      l1 + "/etc " + l1 + "/opaque/sub " + l1 + "/gone/sub " + l1 +
      "/becomes-file/x " + l1 +
      "/usr/lib\n"
      "cd " +
      l1 +
      "\n"
      "echo passwd > etc/passwd; echo shadow > etc/shadow\n"
      "echo lower > opaque/lower; echo deep > opaque/sub/deep\n"
      "echo g > gone/sub/g; echo x > becomes-file/x/y\n"
      "echo file > becomes-dir; head -c 100000 /dev/urandom > usr/lib/libc.so\n"
      "mkdir -p " +
      l2 + "/etc " + l2 + "/opaque " + l2 +
      "/usr/lib\n"
      "cd " +
      l2 +
      "\n"
      "touch etc/.wh.shadow .wh.gone opaque/.wh..wh..opq .wh.never-existed\n"
      "echo upper > opaque/upper; echo 'new passwd' > etc/passwd\n"
      "echo now-a-file > becomes-file; mkdir becomes-dir\n"
      "echo inside > becomes-dir/inside; chmod 700 etc\n"
      // The expected result, by hand.
      "mkdir -p " +
      want + "/etc " + want + "/opaque " + want + "/becomes-dir " + want +
      "/usr/lib\n"
      "cd " +
      want +
      "\n"
      "echo 'new passwd' > etc/passwd; chmod 700 etc\n"
      "echo upper > opaque/upper; echo now-a-file > becomes-file\n"
      "echo inside > becomes-dir/inside\n"
      "cp " +
      l1 +
      "/usr/lib/libc.so usr/lib/libc.so\n"
      "ln usr/lib/libc.so usr/lib/libc.so.6\n"
      "for d in " +
      l1 + " " + l2 + " " + want +
      "; do\n"
      "  find $d -depth -exec touch -h -d '2020-01-01 00:00:00.5' {} +\n"
      "done\n";
  CommandResult r = Shell(script);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Layer 3 is written by hand: a hard link to a path of layer 1.
  r = Shell(
      "cd '" + work_.path() +
      "' && python3 - <<'EOF'\n"
      "import tarfile\n"
      "with tarfile.open('l3.tar', 'w', format=tarfile.PAX_FORMAT) as t:\n"
      "    i = tarfile.TarInfo('usr/lib/libc.so.6')\n"
      "    i.type = tarfile.LNKTYPE\n"
      "    i.linkname = 'usr/lib/libc.so'\n"
      "    t.addfile(i)\n"
      "EOF\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Shell(std::string(kTarCreate) + " --format=pax -C '" + l1 + "' -cf '" +
            (work_ / "l1.tar") + "' . && " + kTarCreate + " --format=pax -C '" +
            l2 + "' -czf '" + (work_ / "l2.tar.gz") + "' .");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string expected = Identity(
      st::Run({SealfsBin(), "mkfs", "--store", store_, want, Image()}));
  EXPECT_EQ(
      Identity(MkfsTar(
          {work_ / "l1.tar", work_ / "l2.tar.gz", work_ / "l3.tar"}, Image())),
      expected);
}

// One hostile layer, made by a python3 tarfile/zipfile script or bytes.
struct Hostile {
  std::string name;
  std::string python;  // writes the file "layer" in the working directory
  std::string reason;  // expected in the one-line message
};

TEST_F(MkfsTarTest, RefusesHostileLayersWithOneLineReason) {
  const std::string gen =
      "import io, tarfile, zipfile, os\n"
      "def tar(entries, fmt=tarfile.PAX_FORMAT):\n"
      "    with tarfile.open('layer', 'w', format=fmt) as t:\n"
      "        for name, kind, arg in entries:\n"
      "            i = tarfile.TarInfo(name)\n"
      "            data = None\n"
      "            if kind == 'file':\n"
      "                data = arg; i.size = len(arg)\n"
      "            elif kind == 'link':\n"
      "                i.type = tarfile.LNKTYPE; i.linkname = arg\n"
      "            elif kind == 'sym':\n"
      "                i.type = tarfile.SYMTYPE; i.linkname = arg\n"
      "            elif kind == 'dir':\n"
      "                i.type = tarfile.DIRTYPE\n"
      "            t.addfile(i, io.BytesIO(data) if data is not None else "
      "None)\n"
      "def patch_size(size_octal):\n"
      "    b = bytearray(open('layer', 'rb').read())\n"
      "    b[124:136] = size_octal.encode().rjust(11, b'0') + b'\\0'\n"
      "    b[148:156] = b' ' * 8\n"
      "    b[148:156] = b'%06o\\0 ' % sum(b[0:512])\n"
      "    open('layer', 'wb').write(bytes(b))\n";
  const std::string big = "os.urandom(100000)";
  const std::vector<Hostile> cases = {
      {"garbage", "open('layer','wb').write(os.urandom(10000))",
       "Unrecognized archive format"},
      {"empty", "open('layer','wb').write(b'')", "Unrecognized archive format"},
      {"truncated",
       "tar([('f', 'file', " + big +
           ")])\n"
           "b = open('layer','rb').read(); open('layer','wb').write(b[:50000])",
       "entry f: data"},
      {"truncated-gzip",
       "tar([('f', 'file', " + big +
           ")])\n"
           "import gzip; b = gzip.compress(open('layer','rb').read())\n"
           "open('layer','wb').write(b[:len(b)//2])",
       "truncated gzip input"},
      {"size-smaller-than-data",
       "tar([('f', 'file', " + big +
           ")], tarfile.USTAR_FORMAT)\n"
           "patch_size('144')",
       "after entry f: Damaged tar archive"},
      {"size-larger-than-data",
       "tar([('f', 'file', " + big +
           ")], tarfile.USTAR_FORMAT)\n"
           "patch_size('77777777777')",
       "entry f: data"},
      {"dotdot", "tar([('../evil', 'file', b'x')])", "'..'"},
      {"dotdot-inner", "tar([('a/../../b', 'file', b'x')])", "'..'"},
      {"dotdot-in-link-target",
       "tar([('f', 'file', b'x'), ('l', 'link', 'a/../f')])", "'..'"},
      {"hardlink-missing", "tar([('l', 'link', 'nowhere')])",
       "entry l: hard link to nowhere: target does not exist"},
      {"hardlink-to-dir", "tar([('d', 'dir', None), ('l', 'link', 'd')])",
       "entry l: hard link to d: target is a directory"},
      {"through-symlink",
       "tar([('sym', 'sym', '/etc'), ('sym/passwd', 'file', b'x')])",
       "entry sym/passwd: parent sym is not a directory"},
      {"name-too-long", "tar([('d/' + 'n' * 300, 'file', b'x')])",
       "name longer than 255 bytes"},
      {"symlink-target-too-long", "tar([('s', 'sym', 't' * 5000)])",
       "symlink target over 4095 bytes"},
      {"whiteout-of-root", "tar([('.wh..', 'file', b'')])", "names nothing"},
      {"zip",
       "z = zipfile.ZipFile('layer', 'w'); z.writestr('f', 'x'); z.close()",
       "Unrecognized archive format"},
  };
  for (const Hostile& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string dir = work_ / c.name;
    CommandResult r =
        Shell("mkdir -p '" + dir + "' && cd '" + dir +
              "' && python3 - <<'EOF'\n" + gen + c.python + "\nEOF\n");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string image = dir + "/image";
    r = MkfsTar({dir + "/layer"}, image);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(r.out, "");
    const std::string head = "sealfs mkfs: layer " + dir + "/layer: ";
    EXPECT_TRUE(r.err.starts_with(head)) << r.err;
    EXPECT_NE(r.err.find(c.reason), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;  // one line
    struct stat sb;
    EXPECT_NE(stat(image.c_str(), &sb), 0) << "image written for " << c.name;
  }
}

TEST_F(MkfsTarTest, TagRecordsTheImportedImageAsAGcRoot) {
  WriteFile(work_ / "src/file.bin", RandomBytes(10000, 77));
  const std::string tar = work_ / "layer.tar";
  CommandResult r = Shell(std::string(kTarCreate) + " -C '" + (work_ / "src") +
                          "' -cf '" + tar + "' .");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string image = Image();
  const std::string identity =
      Identity(MkfsTar({tar}, image, {"--tag", "app-1"}));
  ASSERT_FALSE(identity.empty());
  EXPECT_EQ(st::ReadFile(store_ + "/images/app-1"), st::ReadFile(image));
  // Rooted: gc with no grace keeps every object of the imported image.
  CommandResult gc =
      st::Run({SealfsBin(), "gc", "--store", store_, "--grace", "0"});
  EXPECT_EQ(gc.exit_code, 0) << gc.err;
  CommandResult cat =
      st::Run({SealfsBin(), "cat", "--store", store_, image, "/file.bin"});
  EXPECT_EQ(cat.exit_code, 0) << cat.err;
  r = MkfsTar({tar}, Image(), {"--tag", "../escape"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(work_ / "escape"));
}

TEST_F(MkfsTarTest, UsageErrors) {
  CommandResult r = st::Run({SealfsBin(), "mkfs", "--store", store_,
                             "--from-tar", "a.tar", "src", "image"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("with --from-tar, expected only IMAGE"),
            std::string::npos)
      << r.err;
  r = MkfsTar({"-", "-"}, Image());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("stdin ('-') given as more than one layer"),
            std::string::npos)
      << r.err;
  r = MkfsTar({work_ / "missing.tar"}, Image());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.tar: open: No such file"), std::string::npos)
      << r.err;
  r = MkfsTar({work_.path()}, Image());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("a directory, not a tar layer"), std::string::npos)
      << r.err;
}

// --from-oci's flags: each misuse is a usage error found before any work.
TEST_F(MkfsTarTest, OciUsageErrors) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--from-oci", "oci:x", "--from-tar", "a.tar"}, "exclude each other"},
      {{"--platform", "linux/amd64", "--from-tar", "a.tar"},
       "--platform needs --from-oci"},
      {{"--platform", "linux", "--from-oci", "oci:x"},
       "is not OS/ARCH[/VARIANT]"},
      {{"--tls-verify=false", "--from-oci", "oci:x"},
       "need --from-oci docker://"},
      {{"--basedir", "d", "--from-tar", "a.tar"},
       "--basedir needs --from-dump"},
      {{"--from-oci", "oci:x", "src"}, "with --from-oci, expected only IMAGE"},
  };
  for (const auto& [flags, why] : cases) {
    std::vector<std::string> argv = {SealfsBin(), "mkfs", "--store", store_};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back(Image());
    CommandResult r = st::Run(argv);
    EXPECT_EQ(r.exit_code, 2) << why;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
  }
  CommandResult r = st::Run({SealfsBin(), "mkfs", "--store", store_,
                             "--from-oci", "dir:" + work_.path(), Image()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--from-oci takes oci:DIR[:TAG]"), std::string::npos)
      << r.err;
  r = st::Run({SealfsBin(), "mkfs", "--store", store_, "--from-oci",
               "oci:" + work_.path(), Image()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not an OCI image layout"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(Image()));
}

}  // namespace
}  // namespace sealfs
