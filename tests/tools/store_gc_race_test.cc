// SPDX-License-Identifier: Apache-2.0
// gc racing builds, with real processes: `sealfs mkfs --tag` in a loop over a
// tree whose objects are already in the store (old and untagged, so gc
// --grace 0 wants them), while `sealfs gc --grace 0` runs in a loop on the
// same store. Without the store lock a build finds an object present, gc
// removes it, and the build tags an image whose object is gone; with it,
// every tagged image is complete after every build.
#include <string>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace sealfs {
namespace {

namespace st = ::sealfs::testing;

using ::sealfs::testing::CommandResult;
using ::sealfs::testing::RandomBytes;
using ::sealfs::testing::ReadFile;
using ::sealfs::testing::SealfsBin;
using ::sealfs::testing::Shell;
using ::sealfs::testing::TempDir;
using ::sealfs::testing::WriteFile;

constexpr int kSeconds = 6;

std::string Q(const std::string& s) { return "'" + s + "'"; }

std::string FileText(const std::string& path) {
  std::vector<uint8_t> bytes = ReadFile(path);
  return std::string(bytes.begin(), bytes.end());
}

TEST(GcRace, BuildsAndGcNeverLoseATaggedObject) {
  TempDir work;
  const std::string src = work / "src";
  const std::string store = work / "store";
  for (int i = 0; i < 60; ++i) {
    WriteFile(src + "/f" + std::to_string(i),
              RandomBytes(3000 + static_cast<size_t>(i) * 997,
                          static_cast<uint64_t>(i)));
  }
  // The same tree, built untagged and aged: every object a build will find
  // present is one gc is allowed to remove.
  const std::string sealfs = Q(SealfsBin());
  const std::string age = "find " + Q(store + "/objects") +
                          " -type f -exec touch -h -d @1000000000 {} + "
                          "2>/dev/null";
  ASSERT_EQ(Shell(sealfs + " mkfs --store " + Q(store) + " " + Q(src) + " " +
                  Q(work / "pre.img") + " >/dev/null 2>&1 && " + age)
                .exit_code,
            0);

  const std::string w = Q(work.path());
  const std::string until =
      "end=$(( $(date +%s) + " + std::to_string(kSeconds) + " )); ";
  const std::string builder =
      until + "i=0; while [ $(date +%s) -lt $end ]; do " + sealfs +
      " mkfs --force --store " + Q(store) + " --tag cur " + Q(src) + " " +
      Q(work / "img") + " >/dev/null 2>>" + w +
      "/build.log || echo \"mkfs "
      "$i failed\" >>" +
      w + "/fails; " + sealfs + " fsck --store " + Q(store) + " >" + w +
      "/fsck.out 2>/dev/null || { echo \"after build "
      "$i:\"; cat " +
      w + "/fsck.out; } >>" + w + "/fails; " + sealfs + " tag --store " +
      Q(store) + " --delete cur >/dev/null; " + age +
      "; i=$((i+1)); done; echo $i >" + w + "/builds";
  const std::string collector =
      until + "n=0; while [ $(date +%s) -lt $end ]; do " + sealfs +
      " gc --store " + Q(store) + " --grace 0 >>" + w +
      "/gc.log 2>&1 || "
      "echo \"gc $n failed\" >>" +
      w + "/fails; n=$((n+1)); done; echo $n >" + w + "/gcs";
  CommandResult r = Shell("(" + builder + ") & (" + collector + ") & wait");
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const std::string fails = work / "fails";
  CommandResult had_fails = Shell("test -s " + Q(fails));
  EXPECT_NE(had_fails.exit_code, 0) << FileText(fails);
  const int builds = std::stoi(FileText(work / "builds"));
  const int gcs = std::stoi(FileText(work / "gcs"));
  EXPECT_GE(builds, 3);
  EXPECT_GE(gcs, 3);
  // gc really removed objects while builds ran, so the race was live.
  CommandResult removed =
      Shell("grep -c '^removed [1-9]' " + Q(work / "gc.log"));
  EXPECT_EQ(removed.exit_code, 0) << FileText(work / "gc.log");
  std::printf("builds %d, gc runs %d, gc runs that removed objects %s", builds,
              gcs, removed.out.c_str());

  // One last tagged build, then the whole store must check clean.
  ASSERT_EQ(
      Shell(sealfs + " mkfs --force --store " + Q(store) + " --tag final " +
            Q(src) + " " + Q(work / "img") + " >/dev/null 2>&1")
          .exit_code,
      0);
  r = st::Run({SealfsBin(), "fsck", "--store", store});
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

}  // namespace
}  // namespace sealfs
