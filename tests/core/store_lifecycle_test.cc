// SPDX-License-Identifier: Apache-2.0
// Library pieces of the store lifecycle: the store lock (and StoreWriter
// holding it), mtime refresh on reuse, tag names, durations, scanning, and
// gc refusing a partial live set.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fs/core/store_lock.h"
#include "fs/store/gc.h"
#include "fs/store/scan.h"
#include "fs/store/tags.h"
#include "sealfs/digest.h"
#include "sealfs/format.h"
#include "sealfs/store.h"
#include "tests/test_util.h"

namespace sealfs {
namespace {

using ::sealfs::testing::RandomBytes;
using ::sealfs::testing::TempDir;
using ::sealfs::testing::WriteFile;

std::shared_ptr<Store> MustOpen(const std::string& path, Store::Mode mode) {
  Result<std::shared_ptr<Store>> store = Store::Open(path, mode);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? *store : nullptr;
}

TEST(StoreLock, WritableOpenCreatesLockFile) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  struct stat st;
  ASSERT_EQ(::lstat((dir / "s/lock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST(StoreLock, SharedLocksCoexistAndExcludeExclusive) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  Result<StoreLock> a =
      StoreLock::Acquire(store->dir_fd(), StoreLock::Kind::kShared, false);
  Result<StoreLock> b =
      StoreLock::Acquire(store->dir_fd(), StoreLock::Kind::kShared, false);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  Result<StoreLock> ex =
      StoreLock::Acquire(store->dir_fd(), StoreLock::Kind::kExclusive, false);
  ASSERT_FALSE(ex.ok());
  EXPECT_EQ(ex.status().err(), EWOULDBLOCK);
  EXPECT_NE(ex.status().context().find("2 writer"), std::string::npos)
      << ex.status().context();
}

TEST(StoreLock, ExclusiveExcludesShared) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  Result<StoreLock> ex =
      StoreLock::Acquire(store->dir_fd(), StoreLock::Kind::kExclusive, false);
  ASSERT_TRUE(ex.ok()) << ex.status().ToString();
  Result<StoreLock> sh =
      StoreLock::Acquire(store->dir_fd(), StoreLock::Kind::kShared, false);
  ASSERT_FALSE(sh.ok());
  EXPECT_EQ(sh.status().err(), EWOULDBLOCK);
}

TEST(StoreLock, StoreWriterHoldsSharedLockForItsLife) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  {
    StoreWriter writer(store);
    Result<StoreLock> ex =
        StoreLock::Acquire(store->dir_fd(), StoreLock::Kind::kExclusive, false);
    ASSERT_FALSE(ex.ok());
    EXPECT_EQ(ex.status().err(), EWOULDBLOCK);
  }
  Result<StoreLock> ex =
      StoreLock::Acquire(store->dir_fd(), StoreLock::Kind::kExclusive, false);
  EXPECT_TRUE(ex.ok()) << ex.status().ToString();
}

TEST(StoreLock, FifoOrSymlinkAsLockFileIsRefusedWithoutHanging) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  ASSERT_EQ(::unlink((dir / "s/lock").c_str()), 0);
  ASSERT_EQ(::mkfifo((dir / "s/lock").c_str(), 0644), 0);
  Result<StoreLock> l =
      StoreLock::Acquire(store->dir_fd(), StoreLock::Kind::kShared, true);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().err(), kErrCorrupt);
  ASSERT_EQ(::unlink((dir / "s/lock").c_str()), 0);
  ASSERT_EQ(::symlink("/etc/passwd", (dir / "s/lock").c_str()), 0);
  l = StoreLock::Acquire(store->dir_fd(), StoreLock::Kind::kShared, true);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().err(), kErrCorrupt);
  // A writer on such a store fails every call instead of writing unlocked.
  StoreWriter writer(store);
  std::vector<uint8_t> data = RandomBytes(100, 1);
  Status s = writer.AddFromBytes(data, ComputeMerkleTree(data));
  EXPECT_EQ(s.err(), kErrCorrupt);
}

TEST(StoreWriterReuse, ReusedObjectGetsFreshMtime) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  std::vector<uint8_t> data = RandomBytes(10000, 7);
  MerkleTree tree = ComputeMerkleTree(data);
  {
    StoreWriter writer(store);
    ASSERT_TRUE(writer.AddFromBytes(data, tree).ok());
    ASSERT_TRUE(writer.Commit().ok());
  }
  const std::string object = dir / "s/" + Store::ObjectPath(tree.digest);
  struct timespec old_times[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, object.c_str(), old_times, 0), 0);
  {
    StoreWriter writer(store);
    ASSERT_TRUE(writer.AddFromBytes(data, tree).ok());
    ASSERT_TRUE(writer.Commit().ok());
    EXPECT_EQ(writer.objects_written(), 0u);
  }
  struct stat st;
  ASSERT_EQ(::stat(object.c_str(), &st), 0);
  EXPECT_GT(st.st_mtim.tv_sec, 1000000000 + 86400);
}

TEST(TagName, AcceptsTheDocumentedAlphabet) {
  for (const char* name : {"a", "base", "app-1.2_rc3", "A.B", "x-", "0"}) {
    EXPECT_TRUE(store::CheckTagName(name).ok()) << name;
  }
  EXPECT_TRUE(store::CheckTagName(std::string(128, 'x')).ok());
}

TEST(TagName, RefusesEverythingElse) {
  const std::vector<std::string> bad = {"",
                                        ".",
                                        "..",
                                        ".hidden",
                                        "../etc",
                                        "a/b",
                                        "/abs",
                                        "a b",
                                        "tab\tx",
                                        "nl\n",
                                        "ä",
                                        "a\\b",
                                        "a:b",
                                        "a*",
                                        std::string(129, 'x'),
                                        "x.tmp-1",
                                        std::string("nul\0x", 5)};
  for (const std::string& name : bad) {
    Status s = store::CheckTagName(name);
    EXPECT_EQ(s.err(), EINVAL) << store::PrintableName(name);
  }
}

TEST(Duration, Parses) {
  EXPECT_EQ(*store::ParseDuration("0"), 0);
  EXPECT_EQ(*store::ParseDuration("45"), 45);
  EXPECT_EQ(*store::ParseDuration("30s"), 30);
  EXPECT_EQ(*store::ParseDuration("10m"), 600);
  EXPECT_EQ(*store::ParseDuration("2h"), 7200);
  EXPECT_EQ(*store::ParseDuration("7d"), 7 * 86400);
  for (const char* bad :
       {"", "s", "-1", "1.5h", "1w", "h1", "99999999999d", " 1", "1 "}) {
    Result<int64_t> r = store::ParseDuration(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().err(), EINVAL);
  }
}

TEST(Scan, ClassifiesEveryKindOfEntry) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  std::vector<uint8_t> data = RandomBytes(5000, 3);
  MerkleTree tree = ComputeMerkleTree(data);
  {
    StoreWriter writer(store);
    ASSERT_TRUE(writer.AddFromBytes(data, tree).ok());
    ASSERT_TRUE(writer.Commit().ok());
  }
  const std::string objects = dir / "s/objects";
  const std::string leaf(62, 'a');
  WriteFile(objects + "/ab/.tmp-123", "partial");
  WriteFile(objects + "/ab/NOTHEX", "x");
  ASSERT_EQ(::mkdir((objects + "/zz").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((objects + "/ab").c_str(), 0755) == 0 || errno == EEXIST,
            true);
  ASSERT_EQ(::mkfifo((objects + "/ab/" + leaf).c_str(), 0644), 0);
  Result<std::vector<store::ScanEntry>> entries =
      store::ScanStoreDir(store->dir_fd(), kObjectsDir);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  std::map<std::string, store::ScanEntry::Kind> kinds;
  for (const store::ScanEntry& e : *entries) kinds[e.rel_path] = e.kind;
  using Kind = store::ScanEntry::Kind;
  EXPECT_EQ(kinds[Store::ObjectPath(tree.digest)], Kind::kFile);
  EXPECT_EQ(kinds["objects/ab/.tmp-123"], Kind::kTemp);
  EXPECT_EQ(kinds["objects/ab/NOTHEX"], Kind::kBadName);
  EXPECT_EQ(kinds["objects/zz"], Kind::kBadFanout);
  EXPECT_EQ(kinds["objects/ab/" + leaf], Kind::kNotRegular);
  EXPECT_EQ(entries->size(), 5u);
}

TEST(Gc, RefusesWhenATagIsBroken) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  std::vector<uint8_t> data = RandomBytes(5000, 3);
  MerkleTree tree = ComputeMerkleTree(data);
  {
    StoreWriter writer(store);
    ASSERT_TRUE(writer.AddFromBytes(data, tree).ok());
    ASSERT_TRUE(writer.Commit().ok());
  }
  WriteFile(dir / "s/images/broken", "not an image");
  store::GcOptions options;
  options.grace_s = 0;
  Result<store::GcReport> r = store::RunGc(*store, options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().err(), kErrCorrupt);
  EXPECT_NE(r.status().context().find("broken"), std::string::npos);
  EXPECT_TRUE(store->HasObject(tree.digest));
  // Without the broken tag the object is unreferenced and old enough.
  ASSERT_EQ(::unlink((dir / "s/images/broken").c_str()), 0);
  r = store::RunGc(*store, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->removed_objects, 1u);
  EXPECT_EQ(r->removed_trees, 1u);
  EXPECT_FALSE(store->HasObject(tree.digest));
}

TEST(Gc, NoWaitFailsWhileAWriterIsActive) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  StoreWriter writer(store);
  store::GcOptions options;
  options.wait = false;
  Result<store::GcReport> r = store::RunGc(*store, options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().err(), EWOULDBLOCK);
}

TEST(Gc, RemovesTempFilesOfAnInterruptedTagAfterTheGracePeriod) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  WriteFile(dir / "s/images/app.tmp-XYZ", "half a tag");
  WriteFile(dir / "s/images/.tmp-ABC", "another");
  store::GcOptions options;
  options.grace_s = 3600;  // both are new: kept
  Result<store::GcReport> r = store::RunGc(*store, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->removed_temps, 0u);
  options.grace_s = 0;
  r = store::RunGc(*store, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->removed_temps, 2u);
  EXPECT_NE(::access((dir / "s/images/app.tmp-XYZ").c_str(), F_OK), 0);
  EXPECT_NE(::access((dir / "s/images/.tmp-ABC").c_str(), F_OK), 0);
}

TEST(Gc, Issue20NotStarvedByOverlappingWriters) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  // Three writer processes whose shared locks overlap for 4 s: the lock
  // file is never free in that time, so gc gets in only if new writers
  // wait for it.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  std::vector<pid_t> writers;
  for (int i = 0; i < 3; ++i) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::usleep(static_cast<useconds_t>(i) * 40000);
      while (std::chrono::steady_clock::now() < until) {
        Result<StoreLock> lock = StoreLock::Acquire(
            store->dir_fd(), StoreLock::Kind::kShared, /*wait=*/true);
        if (!lock.ok()) ::_exit(1);
        ::usleep(120000);
      }
      ::_exit(0);
    }
    writers.push_back(pid);
  }
  ::usleep(300000);
  const auto start = std::chrono::steady_clock::now();
  store::GcOptions options;
  Result<store::GcReport> r = store::RunGc(*store, options);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_LT(waited, std::chrono::milliseconds(1500));
  for (pid_t pid : writers) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
}

TEST(StoreLock, SharedLockInAProcessThatHoldsOneSkipsTheTurnstile) {
  TempDir dir;
  auto store = MustOpen(dir / "s", Store::Mode::kCreate);
  pid_t gc = -1;
  {
    Result<StoreLock> first =
        StoreLock::Acquire(store->dir_fd(), StoreLock::Kind::kShared, true);
    ASSERT_TRUE(first.ok());
    // Another process stands in for a gc that holds the turnstile and waits
    // for `first`: this process's next shared lock must not wait for it.
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    gc = fork();
    ASSERT_GE(gc, 0);
    if (gc == 0) {
      ::close(ready[0]);
      int turnstile = ::openat(store->dir_fd(), ".", O_RDONLY | O_DIRECTORY);
      int lock = ::openat(store->dir_fd(), kLockFile, O_RDONLY);
      // The parent's lock descriptors came along with the fork, and a flock
      // lives as long as any copy: they go, or this waits on itself.
      for (int fd = 3; fd < 1024; ++fd) {
        if (fd != ready[1] && fd != turnstile && fd != lock) ::close(fd);
      }
      if (::flock(turnstile, LOCK_EX) != 0) ::_exit(1);
      (void)!::write(ready[1], "x", 1);
      ::_exit(::flock(lock, LOCK_EX) == 0 ? 0 : 1);
    }
    ::close(ready[1]);
    char c;
    ASSERT_EQ(::read(ready[0], &c, 1), 1);
    ::close(ready[0]);
    Result<StoreLock> second =
        StoreLock::Acquire(store->dir_fd(), StoreLock::Kind::kShared, false);
    EXPECT_TRUE(second.ok()) << second.status().ToString();
  }
  int status = 0;
  ASSERT_EQ(::waitpid(gc, &status, 0), gc);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace sealfs
