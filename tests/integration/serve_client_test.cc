// SPDX-License-Identifier: Apache-2.0
// The control protocol as docs/FORMAT.md specifies it, checked by an
// independent client written from that section alone
// (tests/integration/serve_client.py): it mounts through a running
// `sealfs serve`, the mount it makes is the one `sealfs mount` makes, and
// the service's refusals are those the section lists.
#include <unistd.h>

#include <future>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/mount_fixture.h"
#include "tests/integration/serve_fixture.h"

namespace sealfs::testing {
namespace {

const std::string kClient =
    std::string(SEALFS_SOURCE_DIR) + "/tests/integration/serve_client.py";

CommandResult Client(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"python3", kClient};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCmd(argv);
}

// The mount options and filesystem type of the mount at `path` in
// /proc/self/mountinfo: "OPTIONS - TYPE SOURCE SUPER_OPTIONS".
std::string MountShape(const std::string& path) {
  std::istringstream in(ReadProcFile("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, device, root, point, options;
    f >> id >> parent >> device >> root >> point >> options;
    const size_t dash = line.find(" - ");
    if (point == path && dash != std::string::npos) {
      return options + line.substr(dash);
    }
  }
  return "";
}

class ServeClientTest : public ServeTest {
 protected:
  void SetUp() override {
    ServeTest::SetUp();
    if (IsSkipped()) return;
    if (geteuid() != 0) GTEST_SKIP() << "the Python client mounts as root";
    if (!HaveProgram("python3")) GTEST_SKIP() << "no python3";
  }
};

TEST_F(ServeClientTest, ClientWrittenFromTheSpecMountsReadsAndIsRefused) {
  BuildImage();
  ASSERT_GT(Serve(), 0);
  const std::string mnt = tmp_ / "py";
  ASSERT_EQ(RunCmd({"mkdir", "-p", mnt}).exit_code, 0);
  Track(mnt);  // unmounted in TearDown, also if the test fails
  // opts_ names a pubkey= file: the client reads it and sends the key.
  // The flags are mount(2)'s, which the section says how to apply.
  const std::string opts = opts_ + ",dev,noexec,noatime";
  CommandResult mounted = Client({"mount", "-o", opts, tmp_ / "image", mnt});
  ASSERT_EQ(mounted.exit_code, 0) << mounted.err;
  const std::string id = mounted.out.substr(0, mounted.out.find('\n'));
  ASSERT_FALSE(id.empty());
  EXPECT_TRUE(DaemonPids(mnt).empty());  // the service serves it
  EXPECT_EQ(ReadFile(mnt + "/big"), big_);
  EXPECT_EQ(ReadFile(mnt + "/etc/hostname"), ReadFile(src_ + "/etc/hostname"));

  // The mount(2) the section prescribes makes what `sealfs mount` makes.
  const std::string ref = tmp_ / "ref";
  MountOk(tmp_ / "image", ref, opts);
  EXPECT_EQ(MountShape(mnt), MountShape(ref));
  EXPECT_EQ(MountShape(mnt).rfind("ro,nosuid,noexec,noatime - fuse.sealfs "
                                   "sealfs ro,",
                                   0),
            0u)
      << MountShape(mnt);

  // Listed by the service, under the id its final reply gave.
  CommandResult list = RunCmd({SealfsBin(), "mounts", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("{\"id\":" + id + ",\"image\":\"" +
                          std::string(tmp_ / "image") + "\",\"mountpoint\":\"" +
                          mnt + "\""),
            std::string::npos)
      << list.out;

  // A wrong pin is refused by the service, with its reason, and nothing
  // is left mounted.
  const std::string pinned = tmp_ / "pinned";
  ASSERT_EQ(RunCmd({"mkdir", "-p", pinned}).exit_code, 0);
  Track(pinned);
  CommandResult wrong =
      Client({"mount", "-o",
              "store=" + store_ + ",digest=sha256:" + std::string(64, '0'),
              tmp_ / "image", pinned});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("serve_client: " + std::string(tmp_ / "image") +
                           ": identity sha256:"),
            std::string::npos)
      << wrong.err;
  EXPECT_NE(wrong.err.find(" does not match digest=sha256:" +
                           std::string(64, '0') + " (errno 129)"),
            std::string::npos)
      << wrong.err;
  EXPECT_FALSE(IsMounted(pinned));

  // The protocol's own refusals, as the section lists them.
  const std::vector<std::pair<std::string, std::string>> refusals = {
      {"version",
       "71 control message: version 2 not supported (this is version 1)"},
      {"unknown-tag", "71 control message: unknown field 17"},
      {"attach-first", "71 not a request"},
      {"list-with-field", "71 control message: unexpected fields"},
      {"mount-without-fds", "71 a mount request carries two fds"},
      {"relative-mountpoint", "22 control message: mount point not absolute"},
  };
  for (const auto& [name, want] : refusals) {
    CommandResult r = Client({"refusal", name});
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_EQ(r.out, want + "\n") << name;
  }

  // The mount still serves, and an unmount ends its session.
  EXPECT_EQ(ReadFile(mnt + "/big"), big_);
  ASSERT_EQ(Client({"umount", mnt}).exit_code, 0);
  EXPECT_FALSE(IsMounted(mnt));
  Forget(mnt);
  for (int i = 0; i < 100; ++i) {
    list = RunCmd({"python3", kClient, "list"});
    if (list.out.find("\"mountpoint\": \"" + mnt + "\"") == std::string::npos)
      break;
    usleep(20000);
  }
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out.find("\"mountpoint\": \"" + mnt + "\""),
            std::string::npos)
      << list.out;
  EXPECT_NE(list.out.find("\"mountpoint\": \"" + ref + "\""),
            std::string::npos)
      << list.out;
}

// A caller that reads its own INIT before attaching: the service waits
// for it no longer than for any other message, and serves everyone else
// meanwhile (the wait held a thread of the 64 for ever).
TEST_F(ServeClientTest, CallerThatReadItsOwnInitIsRefusedAndOthersAreServed) {
  BuildImage();
  ASSERT_GT(Serve(), 0);
  const std::string broken = tmp_ / "broken";
  ASSERT_EQ(RunCmd({"mkdir", "-p", broken}).exit_code, 0);
  Track(broken);
  std::future<CommandResult> waiting = std::async(std::launch::async, [&] {
    return Client({"mount", "--read-init", "-o", opts_, tmp_ / "image",
                   broken});
  });
  // Served while that caller waits.
  MountOk(tmp_ / "image", tmp_ / "ok", opts_);
  EXPECT_EQ(ReadFile(tmp_ / "ok/big"), big_);
  // A hang guard only: the refusal comes after 10 s.
  ASSERT_EQ(waiting.wait_for(std::chrono::seconds(60)),
            std::future_status::ready);
  CommandResult r = waiting.get();
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("no INIT from the kernel within 10 s"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("(errno 110)"), std::string::npos) << r.err;
  EXPECT_FALSE(IsMounted(broken));  // the client unmounts what nobody serves
  EXPECT_EQ(ReadFile(tmp_ / "ok/big"), big_);
}

}  // namespace
}  // namespace sealfs::testing
