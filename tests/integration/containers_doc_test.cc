// SPDX-License-Identifier: Apache-2.0
// Runs the examples of docs/CONTAINERS.md as written: each block marked
// "test:" (as root) or "test-as-user:" (as an unprivileged user) runs with
// `sh -e` and the variables the page lists, and its output must equal the
// block marked "output:" of the same name; the fstab line and the systemd
// unit are mounted the way mount(8) and systemd would mount them.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/host_state.h"

namespace sealfs::testing {
namespace {

// The fenced block after the line "<!-- KIND: NAME -->" in
// docs/CONTAINERS.md; adds a test failure and returns "" if there is none.
std::string DocBlock(const std::string& kind, const std::string& name) {
  std::ifstream in(std::string(SEALFS_SOURCE_DIR) + "/docs/CONTAINERS.md");
  std::string line, block;
  const std::string marker = "<!-- " + kind + ": " + name + " -->";
  bool found = false, inside = false;
  while (std::getline(in, line)) {
    if (!found) {
      found = line == marker;
      continue;
    }
    if (!inside) {
      if (line.starts_with("```")) inside = true;
      continue;
    }
    if (line == "```") return block;
    block += line + "\n";
  }
  ADD_FAILURE() << "docs/CONTAINERS.md has no block " << marker;
  return "";
}

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Replaces every `from` in `text` by `to`.
std::string Replace(std::string text, const std::string& from,
                    const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::string Slurp(const std::string& path) {
  std::vector<uint8_t> b = ReadFile(path);
  return std::string(b.begin(), b.end());
}

// The busybox tree the examples run, as in container_test.cc.
void MakeTree(const std::string& dir) {
  CommandResult r =
      Shell("set -e; d=" + Quote(dir) +
            "; mkdir -p $d/bin $d/etc $d/tmp $d/proc $d/sys $d/dev $d/root;"
            " cp /bin/busybox $d/bin/busybox;"
            " for a in sh cat echo id stat; do ln -s busybox $d/bin/$a; done;"
            " echo sealfs-container > $d/etc/hostname; chmod 1777 $d/tmp");
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

std::string ToolsMissing() {
  for (const char* prog : {"runc", "jq", "unshare"}) {
    if (!HaveProgram(prog)) return std::string(prog) + " is missing";
  }
  if (access("/bin/busybox", X_OK) != 0) return "no /bin/busybox";
  return "";
}

// Writes `vars` as exports followed by `block` to `script`, and runs it
// with `sh -e` through `run`, stdio to files beside it (rootless runc hands
// its stdio to the container's root, which cannot take over pipes of
// root's). Output and errors come back in the result.
template <typename RunFn>
CommandResult RunBlock(RunFn run, const std::string& script,
                       const std::map<std::string, std::string>& vars,
                       const std::string& block) {
  std::string text;
  for (const auto& [k, v] : vars) text += "export " + k + "=" + Quote(v) + "\n";
  text += block;
  WriteFile(script, text);
  chmod(script.c_str(), 0644);
  CommandResult r =
      run({"sh", "-c",
           "sh -e " + Quote(script) + " </dev/null >" + Quote(script + ".out") +
               " 2>" + Quote(script + ".err")});
  CommandResult result;
  result.exit_code = r.exit_code;
  result.out = Slurp(script + ".out");
  result.err = Slurp(script + ".err") + r.err;
  return result;
}

std::string SealfsDir() {
  std::string bin = SealfsBin();
  return bin.substr(0, bin.rfind('/'));
}

class ContainersDocTest : public MountTest {
 protected:
  void SetUp() override {
    MountTest::SetUp();
    if (IsSkipped()) return;
    std::string missing = ToolsMissing();
    if (!missing.empty()) GTEST_SKIP() << missing;
    ctr_ = "sealfs-doc-" + std::to_string(getpid());
    vars_ = {{"PATH", SealfsDir() + ":/usr/sbin:/usr/bin:/sbin:/bin"},
             {"SRC", tmp_ / "src"},
             {"STORE", tmp_ / "store"},
             {"KEY", tmp_ / "key"},
             {"IMAGE", tmp_ / "app.img"},
             {"LOWER", tmp_ / "lower"},
             {"UPPER", tmp_ / "upper"},
             {"WORK", tmp_ / "work"},
             {"ROOTFS", tmp_ / "rootfs"},
             {"BUNDLE", tmp_ / "bundle"},
             {"CTR", ctr_}};
    for (const char* d : {"lower", "upper", "work", "rootfs", "bundle"}) {
      ASSERT_EQ(mkdir((tmp_ / d).c_str(), 0755), 0);
      Track(tmp_ / d);
    }
    ASSERT_NO_FATAL_FAILURE(MakeTree(tmp_ / "src"));
  }
  void TearDown() override {
    if (!ctr_.empty()) RunCmd({"runc", "delete", "--force", ctr_});
    MountTest::TearDown();
  }
  CommandResult Run(const std::string& kind, const std::string& name) {
    return RunBlock(RunCmd, tmp_ / (name + ".sh"), vars_, DocBlock(kind, name));
  }
  // /sbin/mount.fuse.sealfs for mount(8), installed for the test if absent.
  void InstallHelper() {
    lock_ = std::make_unique<HostLock>();
    ASSERT_EQ(lock_->error(), "");
    struct stat st {};
    if (lstat(kHelper, &st) != 0) {
      ASSERT_EQ(symlink(SealfsBin().c_str(), kHelper), 0);
      installed_helper_ = true;
    }
  }
  void RemoveHelper() {
    if (installed_helper_) unlink(kHelper);
    installed_helper_ = false;
    lock_.reset();
  }
  // The fstab/unit text of the page with the test's paths.
  std::string WithOurPaths(std::string text) {
    text = Replace(text, "/var/lib/sealfs/app.img", vars_["IMAGE"]);
    text = Replace(text, "/var/lib/sealfs/store", vars_["STORE"]);
    text = Replace(text, "/etc/sealfs/key.pub", vars_["KEY"] + ".pub");
    return Replace(text, "/run/app/lower", vars_["LOWER"]);
  }

  static constexpr char kHelper[] = "/sbin/mount.fuse.sealfs";
  std::string ctr_;
  std::map<std::string, std::string> vars_;
  std::unique_ptr<HostLock> lock_;
  bool installed_helper_ = false;
};

TEST_F(ContainersDocTest, RuncOnAnOverlayOverSealfs) {
  CommandResult build = Run("test", "build");
  ASSERT_EQ(build.exit_code, 0) << build.err;
  CommandResult run = Run("test", "runc-overlay");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, DocBlock("output", "runc-overlay")) << run.err;
  EXPECT_FALSE(IsMounted(vars_["ROOTFS"]));
  EXPECT_FALSE(IsMounted(vars_["LOWER"]));
}

TEST_F(ContainersDocTest, FstabLineMounts) {
  CommandResult build = Run("test", "build");
  ASSERT_EQ(build.exit_code, 0) << build.err;
  std::string fstab = tmp_ / "fstab";
  WriteFile(fstab, WithOurPaths(DocBlock("fstab", "fstab")));
  ASSERT_NO_FATAL_FAILURE(InstallHelper());
  CommandResult m = RunCmd({"mount", "-T", fstab, vars_["LOWER"]});
  RemoveHelper();
  ASSERT_EQ(m.exit_code, 0) << m.out << m.err;
  EXPECT_TRUE(IsMounted(vars_["LOWER"]));
  EXPECT_EQ(Slurp(vars_["LOWER"] + "/etc/hostname"), "sealfs-container\n");
}

TEST_F(ContainersDocTest, SystemdUnitVerifiesAndMounts) {
  if (!HaveProgram("systemd-analyze")) {
    GTEST_SKIP() << "systemd-analyze is missing";
  }
  CommandResult build = Run("test", "build");
  ASSERT_EQ(build.exit_code, 0) << build.err;
  std::string unit = WithOurPaths(DocBlock("unit", "systemd"));
  CommandResult name =
      RunCmd({"systemd-escape", "-p", "--suffix=mount", vars_["LOWER"]});
  ASSERT_EQ(name.exit_code, 0) << name.err;
  std::string units = tmp_ / "units";
  ASSERT_EQ(mkdir(units.c_str(), 0755), 0);
  std::string path = units + "/" + name.out.substr(0, name.out.find('\n'));
  WriteFile(path, unit);
  CommandResult verify = RunCmd({"systemd-analyze", "verify", path});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_EQ(verify.err, "");
  // What systemd runs for a mount unit: mount -t TYPE -o OPTIONS WHAT WHERE.
  std::map<std::string, std::string> keys;
  std::istringstream lines(unit);
  for (std::string line; std::getline(lines, line);) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) keys[line.substr(0, eq)] = line.substr(eq + 1);
  }
  ASSERT_NO_FATAL_FAILURE(InstallHelper());
  CommandResult m = RunCmd({"mount", "-t", keys["Type"], "-o", keys["Options"],
                            keys["What"], keys["Where"]});
  RemoveHelper();
  ASSERT_EQ(m.exit_code, 0) << m.out << m.err;
  EXPECT_EQ(Slurp(vars_["LOWER"] + "/etc/hostname"), "sealfs-container\n");
}

class RootlessContainersDocTest : public UserMountTest {
 protected:
  void SetUp() override {
    UserMountTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::string missing = ToolsMissing();
    if (!missing.empty()) GTEST_SKIP() << missing;
    // The layer is made by root, so its files belong to root.
    ASSERT_NO_FATAL_FAILURE(MakeTree(tmp_ / "src"));
    CommandResult tar =
        RunCmd({"tar", "-C", tmp_ / "src", "-cf", tmp_ / "layer.tar", "."});
    ASSERT_EQ(tar.exit_code, 0) << tar.err;
    ctr_ = "sealfs-doc-rl-" + std::to_string(getpid());
    vars_ = {{"PATH", tmp_ / "bin" + ":/usr/sbin:/usr/bin:/sbin:/bin"},
             {"HOME", home_},
             {"XDG_RUNTIME_DIR", home_ + "/run"},
             {"LAYER", tmp_ / "layer.tar"},
             {"STORE", home_ + "/store"},
             {"KEY", home_ + "/key"},
             {"IMAGE", home_ + "/app.img"},
             {"LOWER", home_ + "/lower"},
             {"UPPER", home_ + "/upper"},
             {"WORK", home_ + "/work"},
             {"ROOTFS", home_ + "/rootfs"},
             {"BUNDLE", home_ + "/bundle"},
             {"CTR", ctr_}};
    for (const char* d :
         {"run", "lower", "upper", "work", "rootfs", "bundle"}) {
      CommandResult r = AsUser({"mkdir", "-m", "0700", home_ + "/" + d});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    Track(home_ + "/lower");
  }
  void TearDown() override {
    if (user_ != nullptr && !ctr_.empty()) {
      AsUser(
          {"runc", "--root", home_ + "/run/runc", "delete", "--force", ctr_});
    }
    UserMountTest::TearDown();
  }
  CommandResult Run(const std::string& name) {
    return RunBlock(
        [this](const std::vector<std::string>& argv) { return AsUser(argv); },
        home_ + "/" + name + ".sh", vars_, DocBlock("test-as-user", name));
  }
  std::string ctr_;
  std::map<std::string, std::string> vars_;
};

TEST_F(RootlessContainersDocTest, UserNamespaceExamplesRun) {
  CommandResult build = Run("rootless-build");
  ASSERT_EQ(build.exit_code, 0) << build.out << build.err;
  CommandResult overlay = Run("rootless-overlay");
  EXPECT_EQ(overlay.exit_code, 0) << overlay.err;
  EXPECT_EQ(overlay.out, DocBlock("output", "rootless-overlay")) << overlay.err;
  CommandResult readonly = Run("rootless-readonly");
  EXPECT_EQ(readonly.exit_code, 0) << readonly.err;
  EXPECT_EQ(readonly.out, DocBlock("output", "rootless-readonly"))
      << readonly.err;
  EXPECT_FALSE(IsMounted(home_ + "/lower"));
}

}  // namespace
}  // namespace sealfs::testing
