// SPDX-License-Identifier: Apache-2.0
// Crash safety of builds: `sealfs mkfs` killed with SIGKILL at 20 random
// moments into one store. Afterwards `sealfs fsck` is clean (no object
// lacks its tree), every object in the store is whole and named by its
// content's digest (checked here too, independently), every tree matches
// its object, an image that exists is complete, and a build run to the end
// succeeds.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sealfs/digest.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/store.h"
#include "tests/test_util.h"

namespace sealfs::testing {
namespace {

namespace fs = std::filesystem;

// Starts `sealfs mkfs` with stdio on /dev/null; returns its pid.
pid_t StartMkfs(const std::vector<std::string>& args) {
  pid_t pid = fork();
  if (pid == 0) {
    freopen("/dev/null", "r", stdin);
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    std::vector<char*> argv;
    std::string bin = SealfsBin();
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

// Checks every file under objects/ and trees/: objects hash to their name,
// trees equal the tree of their object. Returns the number of objects.
size_t ExpectStoreConsistent(const std::string& store) {
  size_t objects = 0;
  for (const auto& e : fs::recursive_directory_iterator(store + "/objects")) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    const std::string fanout = e.path().parent_path().filename().string();
    EXPECT_EQ(name.size(), 62u) << e.path() << ": not an object name";
    if (name.size() != 62) continue;
    std::vector<uint8_t> data = ReadFile(e.path());
    MerkleTree tree = ComputeMerkleTree(data);
    EXPECT_EQ(tree.digest.ToString(), "sha256:" + fanout + name)
        << e.path() << ": content does not match its name";
    const std::string tree_path = store + "/" + Store::TreePath(tree.digest);
    if (fs::exists(tree_path)) {
      EXPECT_EQ(ReadFile(tree_path), tree.tree) << tree_path;
    }
    ++objects;
  }
  // A tree whose object is absent is what a kill between the two links of
  // a pair leaves (trees are linked first): garbage for gc, an orphan to
  // fsck, never read. The reverse, an object that needs a tree and has
  // none, is a problem, and the fsck run after this check catches it.
  for (const auto& e : fs::recursive_directory_iterator(store + "/trees")) {
    if (!e.is_regular_file()) continue;
    EXPECT_EQ(e.path().filename().string().size(), 62u)
        << e.path() << ": not a tree name";
  }
  return objects;
}

TEST(CrashSafety, SigkillDuringBuildsLeavesAConsistentStore) {
  TempDir dir;
  const std::string src = dir / "src";
  // Enough work that a build lasts a while: many small files and a few
  // large ones, so kills land during the walk, hashing, batches and links.
  for (int i = 0; i < 400; ++i) {
    WriteFile(src + "/d" + std::to_string(i % 20) + "/f" + std::to_string(i),
              RandomBytes(static_cast<size_t>(i) * 997 % 70000, 900 + i));
  }
  for (int i = 0; i < 4; ++i) {
    WriteFile(src + "/big" + std::to_string(i),
              RandomBytes((4u << 20) + static_cast<size_t>(i), 990 + i));
  }
  const std::string store = dir / "store";
  // How long a whole build takes here (into a scratch store): kills are
  // spread over that span, so they land in the walk, the hashing, the
  // batch syncs and the links.
  const auto t0 = std::chrono::steady_clock::now();
  CommandResult scratch =
      testing::Run({SealfsBin(), "mkfs", "--store", dir / "scratch", src,
                    dir / "scratch.img"});
  ASSERT_EQ(scratch.exit_code, 0) << scratch.err;
  const auto full_us = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::steady_clock::now() - t0)
                           .count();
  std::mt19937 rng(20261122);
  int64_t span_us = full_us;
  int killed_running = 0;
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE(round);
    const std::string image = dir / ("image" + std::to_string(round));
    // New content every round, so every build has objects to write.
    WriteFile(src + "/big" + std::to_string(round % 4),
              RandomBytes((4u << 20) + static_cast<size_t>(round), 5000 + round));
    for (int i = 0; i < 40; ++i) {
      WriteFile(src + "/new/r" + std::to_string(round) + "-" + std::to_string(i),
                RandomBytes(3000 + static_cast<size_t>(i) * 101, 6000 + round * 40 + i));
    }
    pid_t pid = StartMkfs({"mkfs", "--store", store, src, image});
    ASSERT_GT(pid, 0);
    // Kill at a random moment within the span the last finished build
    // took (the first: a whole build), polling so a build that ends
    // sooner teaches the next round its length.
    const auto start = std::chrono::steady_clock::now();
    const auto kill_at =
        start + std::chrono::microseconds(
                    std::uniform_int_distribution<int64_t>(0, span_us)(rng));
    int status = 0;
    pid_t done = 0;
    while ((done = waitpid(pid, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < kill_at) {
      usleep(500);
    }
    if (done == pid) {
      span_us = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - start)
                    .count();
    } else {
      ASSERT_EQ(done, 0);
      ASSERT_EQ(kill(pid, SIGKILL), 0);
      ++killed_running;
      ASSERT_EQ(waitpid(pid, &status, 0), pid);
    }
    // An image is renamed into place whole, after its objects are durable:
    // if it exists (the kill came after that), it is complete.
    if (fs::exists(image)) {
      auto manifest = Manifest::Open(image);
      ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
      for (uint64_t i = 0; i < (*manifest)->digest_count(); ++i) {
        auto digest = (*manifest)->DigestAt(i);
        ASSERT_TRUE(digest.ok());
        EXPECT_TRUE(fs::exists(store + "/" + Store::ObjectPath(*digest)))
            << "image " << image << " references a missing object";
      }
    } else {
      EXPECT_TRUE(WIFSIGNALED(status)) << "a finished build left no image";
    }
    if (fs::exists(store + "/objects")) {
      ExpectStoreConsistent(store);
      CommandResult fsck =
          testing::Run({SealfsBin(), "fsck", "--store", store});
      EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
    }
  }
  std::printf("crash safety: %d of 20 builds killed while running (a whole "
              "build: %lld ms)\n",
              killed_running, static_cast<long long>(full_us / 1000));
  EXPECT_GE(killed_running, 5) << "kills should land during builds";
  // A build run to the end succeeds, and its files read back verified.
  CommandResult done = testing::Run({SealfsBin(), "mkfs", "--store", store, src,
                            dir / "final"});
  ASSERT_EQ(done.exit_code, 0) << done.err;
  for (const std::string path : {"/big3", "/d7/f387", "/new/r19-39"}) {
    CommandResult cat =
        testing::Run({SealfsBin(), "cat", "--store", store, dir / "final", path});
    ASSERT_EQ(cat.exit_code, 0) << path << ": " << cat.err;
    const std::vector<uint8_t> want = ReadFile(src + path);
    EXPECT_TRUE(cat.out == std::string(want.begin(), want.end())) << path;
  }
  EXPECT_GT(ExpectStoreConsistent(store), 400u);
}

// The same at every link, exactly: strace kills the build as it enters its
// Nth linkat, for each N in turn, so a kill lands between the two links of
// every object/tree pair. Before trees were linked ahead of their objects,
// 12 of 30 such kills left an object without its tree (fsck exit 1).
TEST(CrashSafety, KillAtEveryLinkLeavesNoObjectWithoutItsTree) {
  ASSERT_TRUE(HaveProgram("strace")) << "scripts/install.sh installs strace";
  TempDir dir;
  const std::string src = dir / "src";
  for (int i = 0; i < 12; ++i) {  // 5-16 KB: every object needs a tree
    WriteFile(src + "/f" + std::to_string(i),
              RandomBytes(5000 + static_cast<size_t>(i) * 1000, 700 + i));
  }
  int killed = 0;
  for (int n = 1; n <= 30; ++n) {
    SCOPED_TRACE(n);
    const std::string store = dir / ("store" + std::to_string(n));
    const std::string image = dir / ("image" + std::to_string(n));
    testing::Run({"strace", "-f", "-qq", "-o", "/dev/null", "-e",
                  "trace=linkat", "-e",
                  "inject=linkat:signal=KILL:when=" + std::to_string(n),
                  SealfsBin(), "mkfs", "--store", store, src, image});
    if (!fs::exists(image)) ++killed;
    CommandResult fsck = testing::Run({SealfsBin(), "fsck", "--store", store});
    EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
  }
  EXPECT_GE(killed, 24) << "the kills should land among the 24 links";
}

}  // namespace
}  // namespace sealfs::testing
