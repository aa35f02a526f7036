// SPDX-License-Identifier: Apache-2.0
// Real containers on sealfs: runc (Debian's) runs a container whose root is
// an overlayfs with a sealfs mount as its lower layer and a directory as
// its upper one, as root and rootless in a user namespace; a flipped bit in
// a binary the container runs fails that run. The image is made here from
// busybox-static. Teardown deletes every container, then unmounts.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/host_state.h"

namespace sealfs::testing {
namespace {

constexpr char kBusybox[] = "/bin/busybox";

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

// Empty if runc and busybox-static can be used here, else why not.
std::string ContainerToolsMissing() {
  for (const char* prog : {"runc", "jq"}) {
    if (!HaveProgram(prog)) return std::string(prog) + " is missing";
  }
  if (access(kBusybox, X_OK) != 0) return "no /bin/busybox (busybox-static)";
  return "";
}

// A line of /proc/PID/uid_map as the kernel prints it.
std::string UidMapLine(const std::string& inside, const std::string& outside,
                       const std::string& count) {
  char line[64];
  std::snprintf(line, sizeof(line), "%10s %10s %10s\n", inside.c_str(),
                outside.c_str(), count.c_str());
  return line;
}

// A small container root filesystem: busybox-static and its applets, a
// second binary to corrupt (/usr/bin/printf: busybox with bytes appended,
// so a distinct object, named after an applet so that busybox runs it as
// one), /etc files, and the directories a runtime mounts over. Owned by
// root, as an image's files are.
void MakeRootfsTree(const std::string& dir) {
  CommandResult r =
      Shell("set -e; d=" + Quote(dir) +
            "; mkdir -p $d/bin $d/usr/bin $d/etc $d/tmp $d/proc $d/sys $d/dev "
            "$d/root;"
            " cp /bin/busybox $d/bin/busybox;"
            " for a in sh cat ls echo id stat touch mkdir; do"
            "   ln -s busybox $d/bin/$a; done;"
            " cp /bin/busybox $d/usr/bin/printf;"
            " echo sealfs-victim >> $d/usr/bin/printf;"
            " echo sealfs-container > $d/etc/hostname;"
            " echo 'root:x:0:0:root:/root:/bin/sh' > $d/etc/passwd;"
            " echo 'root:x:0:' > $d/etc/group; chmod 1777 $d/tmp");
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

// `runc spec` (with --rootless for a container in a user namespace of its
// own) edited as docs/CONTAINERS.md says: root path, arguments, no
// terminal, no rlimits (this host refuses setrlimit). `jq_extra` is more
// jq applied after. Runs as whoever `run` runs commands as.
template <typename RunFn>
void WriteBundle(RunFn run, const std::string& bundle, bool rootless,
                 const std::string& rootfs, const std::string& script,
                 const std::string& jq_extra) {
  std::string cmd =
      "set -e; cd " + Quote(bundle) + "; runc spec" +
      (rootless ? " --rootless" : "") + "; jq --arg root " + Quote(rootfs) +
      " --arg script " + Quote(script) +
      " '.root.path = $root | .root.readonly = false"
      " | .process.terminal = false | del(.process.rlimits)"
      " | .process.args = [\"/bin/sh\", \"-c\", $script]" +
      (jq_extra.empty() ? "" : " | " + jq_extra) +
      "' config.json > config.json.new; mv config.json.new config.json";
  CommandResult r = run({"sh", "-c", cmd});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

class ContainerTest : public MountTest {
 protected:
  void SetUp() override {
    MountTest::SetUp();
    if (IsSkipped()) return;
    std::string missing = ContainerToolsMissing();
    if (!missing.empty()) GTEST_SKIP() << missing;
    src_ = tmp_ / "src";
    ASSERT_NO_FATAL_FAILURE(MakeRootfsTree(src_));
    MakeKey(tmp_ / "key");
    image_ = tmp_ / "image";
    Mkfs(src_, image_, tmp_ / "key");
    lower_ = tmp_ / "lower";
    rootfs_ = tmp_ / "rootfs";
    upper_ = tmp_ / "upper";
    bundle_ = tmp_ / "bundle";
    state_ = tmp_ / "runc";
    for (const std::string& d : {rootfs_, upper_, tmp_ / "work", bundle_}) {
      ASSERT_EQ(mkdir(d.c_str(), 0755), 0) << d;
    }
  }
  void TearDown() override {
    // A container that outlived a failed test: its processes go before the
    // mounts under them.
    for (const std::string& id : containers_) {
      RunCmd({"runc", "--root", state_, "delete", "--force", id});
    }
    MountTest::TearDown();
  }

  // Mounts the image at lower_ and the overlay at rootfs_.
  void MountRootfs() {
    MountOk(image_, lower_,
            "store=" + store_ + ",pubkey=" + (tmp_ / "key.pub"));
    Track(rootfs_);
    CommandResult r = RunCmd({"mount", "-t", "overlay", "overlay", "-o",
                              "lowerdir=" + lower_ + ",upperdir=" + upper_ +
                                  ",workdir=" + (tmp_ / "work"),
                              rootfs_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  CommandResult RunContainer(const std::string& id) {
    containers_.push_back(id);
    return RunCmd({"runc", "--root", state_, "run", "--bundle", bundle_, id});
  }

  std::string src_, image_, lower_, rootfs_, upper_, bundle_, state_;
  std::vector<std::string> containers_;
};

TEST_F(ContainerTest, RuncRunsOnAnOverlayOverSealfs) {
  ASSERT_NO_FATAL_FAILURE(MountRootfs());
  ASSERT_NO_FATAL_FAILURE(WriteBundle(
      RunCmd, bundle_, /*rootless=*/false, rootfs_,
      "cat /etc/hostname; /usr/bin/printf 'second-binary-ran\\n'; id -u;"
      " echo written > /tmp/out; echo new > /etc/new; ls /etc",
      ""));
  CommandResult run = RunContainer("sealfs-c1");
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(run.out,
            "sealfs-container\nsecond-binary-ran\n0\n"
            "group\nhostname\nnew\npasswd\n");
  // Writes landed in the upper directory; the image is untouched.
  EXPECT_EQ(ReadFile(upper_ + "/tmp/out").size(), 8u);
  EXPECT_EQ(ReadFile(upper_ + "/etc/new").size(), 4u);
  struct stat st {};
  EXPECT_NE(lstat((lower_ + "/etc/new").c_str(), &st), 0);
  // What the container read and ran came through sealfs, verified.
  CommandResult stats = RunCmd({SealfsBin(), "stats", lower_});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_EQ(stats.out.find("\"blocks_verified\":0,"), std::string::npos)
      << stats.out;
  EXPECT_NE(stats.out.find("\"verify_failures\":0,"), std::string::npos)
      << stats.out;
}

TEST_F(ContainerTest, FlippedBitInABinaryFailsItsRun) {
  // The object of /usr/bin/printf, one bit of its first block flipped
  // before the mount (so no page of it is cached).
  CommandResult digest =
      RunCmd({SealfsBin(), "digest", src_ + "/usr/bin/printf"});
  ASSERT_EQ(digest.exit_code, 0) << digest.err;
  size_t colon = digest.out.find("sha256:");
  ASSERT_NE(colon, std::string::npos) << digest.out;
  std::string hex = digest.out.substr(colon + 7, 64);
  std::string object =
      store_ + "/objects/" + hex.substr(0, 2) + "/" + hex.substr(2);
  {
    std::fstream f(object, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.is_open()) << object;
    f.seekg(100);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x10);
    f.seekp(100);
    f.write(&c, 1);
  }
  ASSERT_NO_FATAL_FAILURE(MountRootfs());

  // Run from a shell in the container: the exec fails with EIO, and the
  // rest of the image still works.
  ASSERT_NO_FATAL_FAILURE(WriteBundle(
      RunCmd, bundle_, false, rootfs_,
      "/usr/bin/printf corrupted-code-ran; echo rc=$?; cat /etc/hostname", ""));
  CommandResult run = RunContainer("sealfs-c2");
  EXPECT_EQ(run.out.find("corrupted-code-ran"), std::string::npos) << run.out;
  EXPECT_EQ(run.out, "rc=126\nsealfs-container\n") << run.err;
  EXPECT_NE(run.err.find("Input/output error"), std::string::npos) << run.err;

  // The container's own process is the corrupt binary: runc fails.
  ASSERT_EQ(unlink((bundle_ + "/config.json").c_str()), 0);
  ASSERT_NO_FATAL_FAILURE(WriteBundle(
      RunCmd, bundle_, false, rootfs_, "unused",
      ".process.args = [\"/usr/bin/printf\", \"corrupted-code-ran\"]"));
  CommandResult direct = RunContainer("sealfs-c3");
  EXPECT_NE(direct.exit_code, 0);
  EXPECT_EQ(direct.out.find("corrupted-code-ran"), std::string::npos);
  EXPECT_NE(direct.err.find("input/output error"), std::string::npos)
      << direct.err;

  CommandResult stats = RunCmd({SealfsBin(), "stats", lower_});
  EXPECT_EQ(stats.out.find("\"verify_failures\":0,"), std::string::npos)
      << stats.out;
}

// Rootless: an unprivileged user mounts the image with owners shifted to
// itself (uidmap=0:UID:1), so that in a user namespace mapping root to that
// uid the image's files belong to root, as in the image.
class RootlessContainerTest : public UserMountTest {
 protected:
  void SetUp() override {
    UserMountTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::string missing = ContainerToolsMissing();
    if (!missing.empty()) GTEST_SKIP() << missing;
    for (const char* prog : {"unshare"}) {
      if (!HaveProgram(prog)) GTEST_SKIP() << prog << " is missing";
    }
    // Built by root (the files belong to root), then handed to the user:
    // the store and image are the user's own.
    std::string src = tmp_ / "src";
    ASSERT_NO_FATAL_FAILURE(MakeRootfsTree(src));
    ustore_ = home_ + "/store";
    image_ = home_ + "/image";
    CommandResult m =
        RunCmd({SealfsBin(), "mkfs", "--store", ustore_, src, image_});
    ASSERT_EQ(m.exit_code, 0) << m.err;
    uid_ = std::to_string(user_->uid());
    gid_ = std::to_string(user_->gid());
    CommandResult own = Shell("chown -R " + uid_ + ":" + gid_ + " " +
                              Quote(ustore_) + " " + Quote(image_));
    ASSERT_EQ(own.exit_code, 0) << own.err;
    for (const char* d :
         {"lower", "rootfs", "upper", "work", "bundle", "runc"}) {
      CommandResult r = AsUser({"mkdir", home_ + "/" + d});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    lower_ = home_ + "/lower";
    Track(lower_);
    CommandResult mount =
        AsUser({user_sealfs_, "mount", "-o",
                "store=" + ustore_ + ",insecure,uidmap=0:" + uid_ +
                    ":1,gidmap=0:" + gid_ + ":1",
                image_, lower_});
    ASSERT_EQ(mount.exit_code, 0) << mount.err;
  }
  void TearDown() override {
    if (user_ != nullptr) {
      for (const std::string& id : containers_) {
        AsUser({"runc", "--root", home_ + "/runc", "delete", "--force", id});
      }
    }
    UserMountTest::TearDown();
  }
  // Runs `runc run` as the user from `prefix` (e.g. unshare), stdio to
  // files the user owns: rootless runc hands its stdio to the container's
  // root, which cannot take over pipes that belong to root.
  CommandResult RunContainer(const std::string& id, const std::string& prefix,
                             const std::string& extra_flags) {
    containers_.push_back(id);
    std::string out = home_ + "/out", err = home_ + "/err";
    CommandResult r = AsUser(
        {"sh", "-c",
         "cd " + Quote(home_ + "/bundle") + " && " + prefix + " runc " +
             extra_flags + " --root " + Quote(home_ + "/runc") + " run " + id +
             " </dev/null >" + Quote(out) + " 2>" + Quote(err)});
    std::vector<uint8_t> o = ReadFile(out), e = ReadFile(err);
    CommandResult result;
    result.exit_code = r.exit_code;
    result.out.assign(o.begin(), o.end());
    result.err.assign(e.begin(), e.end());
    result.err += r.err;
    return result;
  }

  std::string ustore_, image_, lower_, uid_, gid_;
  std::vector<std::string> containers_;
};

TEST_F(RootlessContainerTest, RuncInAUserNamespaceOnAnOverlayOverSealfs) {
  // The host sees the image's root-owned files as the user's.
  struct stat st {};
  CommandResult hs = AsUser({"stat", "-c", "%u:%g", lower_ + "/bin/busybox"});
  EXPECT_EQ(hs.out, uid_ + ":" + gid_ + "\n") << hs.err;

  // unshare makes the user namespace (root = the user) and a mount
  // namespace for the overlay; runc runs in them, as rootlesskit has it.
  const std::string script =
      "stat -c %u:%g /bin/busybox /etc/hostname; cat /proc/self/uid_map;"
      " cat /etc/hostname; /usr/bin/printf 'ran\\n'; echo new > /etc/new";
  auto as_user = [this](const std::vector<std::string>& argv) {
    return AsUser(argv);
  };
  ASSERT_NO_FATAL_FAILURE(WriteBundle(
      as_user, home_ + "/bundle", /*rootless=*/true, home_ + "/rootfs", script,
      ".linux.namespaces |= map(select(.type != \"user\"))"
      " | del(.linux.uidMappings) | del(.linux.gidMappings)"));
  std::string overlay = "mount -t overlay overlay -o lowerdir=" + lower_ +
                        ",upperdir=" + home_ + "/upper,workdir=" + home_ +
                        "/work " + home_ + "/rootfs &&";
  CommandResult run =
      RunContainer("sealfs-rl1",
                   "unshare --user --map-root-user --mount sh -c '" + overlay +
                       " exec \"$@\"' sh",
                   "--rootless true");
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(run.out, "0:0\n0:0\n" + UidMapLine("0", uid_, "1") +
                         "sealfs-container\nran\n")
      << run.err;
  // The write landed in the user's upper directory, owned by the user.
  ASSERT_EQ(stat((home_ + "/upper/etc/new").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, user_->uid());
}

TEST_F(RootlessContainerTest, RootlessRuncBundleOnAReadOnlySealfsRoot) {
  // `runc spec --rootless`: runc makes the user namespace itself, mapping
  // root to the user. The root is the sealfs mount as it is (read-only),
  // /tmp a tmpfs.
  ASSERT_NO_FATAL_FAILURE(WriteBundle(
      [this](const std::vector<std::string>& argv) { return AsUser(argv); },
      home_ + "/bundle", /*rootless=*/true, lower_,
      "stat -c %u:%g /bin/busybox; id -u; echo x > /tmp/x && cat /tmp/x;"
      " touch /etc/new || echo refused",
      ".root.readonly = true"
      " | .mounts += [{\"destination\": \"/tmp\", \"type\": \"tmpfs\","
      " \"source\": \"tmpfs\", \"options\": [\"nosuid\", \"nodev\"]}]"));
  CommandResult run = RunContainer("sealfs-rl2", "", "");
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(run.out, "0:0\n0\nx\nrefused\n") << run.err;
  EXPECT_NE(run.err.find("Read-only file system"), std::string::npos)
      << run.err;
}

}  // namespace
}  // namespace sealfs::testing
