// SPDX-License-Identifier: Apache-2.0
// `sealfs pull` as a user runs it: from a store directory and from a real
// HTTP server (tests/tools/http_store_server.py) that may misbehave. Checks
// that every object lands verified or not at all, resumes after kill -9,
// pulls by tag, repairs with --verify, and every exit code.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sealfs/digest.h"
#include "tests/http_store_server.h"
#include "tests/nginx_server.h"
#include "tests/test_util.h"

namespace sealfs {
namespace {

namespace fs = std::filesystem;
namespace st = ::sealfs::testing;

using ::sealfs::testing::CommandResult;
using ::sealfs::testing::HttpStoreServer;
using ::sealfs::testing::RandomBytes;
using ::sealfs::testing::SealfsBin;
using ::sealfs::testing::TempDir;
using ::sealfs::testing::WriteFile;

// The unsigned number after "key": in a --json report; -1 if absent.
long long JsonNumber(const std::string& json, const std::string& key) {
  const std::string pat = "\"" + key + "\":";
  size_t at = json.find(pat);
  if (at == std::string::npos) return -1;
  return std::stoll(json.substr(at + pat.size()));
}

// Every file below STORE/objects, relative ("XX/<62 hex>"), and whether each
// one's content hashes to its name (and no temp file is there).
struct StoreScan {
  std::set<std::string> objects;
  std::vector<std::string> bad;  // names whose content mismatches, or temps
};

StoreScan ScanObjects(const std::string& store) {
  StoreScan scan;
  std::error_code ec;
  const fs::path root = fs::path(store) / "objects";
  if (!fs::exists(root, ec)) return scan;
  for (const auto& e : fs::recursive_directory_iterator(root, ec)) {
    if (!e.is_regular_file()) continue;
    const std::string rel = fs::relative(e.path(), root).string();
    const std::string name = e.path().filename().string();
    const std::string hex = rel.substr(0, 2) + name;
    Result<Digest> want = Digest::Parse(hex);
    std::vector<uint8_t> bytes = st::ReadFile(e.path().string());
    if (!want.ok() || rel.size() != 65 ||
        ComputeMerkleTree(bytes).digest != *want) {
      scan.bad.push_back(rel);
    } else {
      scan.objects.insert(rel);
    }
  }
  return scan;
}

class PullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Sizes around the block and tree boundaries; > 64 bytes so none is
    // inlined in the manifest.
    const size_t sizes[] = {100, 4096, 4097, 20000, 300000, 1 << 20, 5000};
    for (size_t i = 0; i < std::size(sizes); ++i) {
      WriteFile(src_ + "/d" + std::to_string(i % 3) + "/f" + std::to_string(i),
                RandomBytes(sizes[i], 100 + i));
    }
    WriteFile(src_ + "/copy", RandomBytes(4097, 102));  // same as f2
    Mkfs(src_, source_store_, image_);
    expected_ = ScanObjects(source_store_).objects;
    ASSERT_EQ(expected_.size(), std::size(sizes));
  }

  void Mkfs(const std::string& src, const std::string& store,
            const std::string& image) {
    CommandResult r =
        st::Run({SealfsBin(), "mkfs", "--store", store, src, image});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  CommandResult Pull(const std::string& from, const std::string& target,
                     std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {SealfsBin(), "pull", "--from", from,
                                     "--store",   store_, "--json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(target);
    return st::Run(argv);
  }

  void StartServer(const std::string& mode) {
    std::string why = server_.Start(source_store_, mode, log_);
    ASSERT_EQ(why, "");
  }

  // Nothing in the store whose content mismatches its name, no temp file.
  void ExpectStoreClean() {
    StoreScan scan = ScanObjects(store_);
    EXPECT_TRUE(scan.bad.empty()) << scan.bad.front();
  }

  TempDir work_;
  std::string src_ = work_ / "src";
  std::string source_store_ = work_ / "source";
  std::string store_ = work_ / "store";
  std::string image_ = work_ / "image";
  std::string log_ = work_ / "requests.log";
  std::set<std::string> expected_;
  HttpStoreServer server_;
};

TEST_F(PullTest, FromStoreDirectoryFetchesAllThenNothing) {
  CommandResult r = Pull(source_store_, image_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(JsonNumber(r.out, "fetched"), 7);
  EXPECT_EQ(JsonNumber(r.out, "failed"), 0);
  EXPECT_EQ(ScanObjects(store_).objects, expected_);
  ExpectStoreClean();
  EXPECT_EQ(
      st::Run({"diff", "-r", source_store_ + "/objects", store_ + "/objects"})
          .exit_code,
      0);

  r = Pull(source_store_, image_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(JsonNumber(r.out, "fetched"), 0);
  EXPECT_EQ(JsonNumber(r.out, "skipped"), 7);
}

TEST_F(PullTest, OverHttpFetchesAllThenNothing) {
  StartServer("normal");
  CommandResult r = Pull(server_.url(), image_, {"--jobs", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(JsonNumber(r.out, "fetched"), 7);
  EXPECT_EQ(ScanObjects(store_).objects, expected_);
  EXPECT_EQ(st::CountLogLines(log_, "/objects/"), 7);
  // Trees are rebuilt locally, never requested.
  EXPECT_EQ(st::CountLogLines(log_, "/trees/"), 0);
  EXPECT_EQ(
      st::Run({"diff", "-r", source_store_ + "/objects", store_ + "/objects"})
          .exit_code,
      0);
  EXPECT_EQ(st::Run({"diff", "-r", source_store_ + "/trees", store_ + "/trees"})
                .exit_code,
            0);

  r = Pull(server_.url() + "/", image_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(JsonNumber(r.out, "fetched"), 0);
  EXPECT_EQ(st::CountLogLines(log_, "/objects/"), 7);  // no new request
}

TEST_F(PullTest, CorruptSourceListsEveryObjectAndLandsNothing) {
  StartServer("corrupt");
  CommandResult r = Pull(server_.url(), image_);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(JsonNumber(r.out, "failed"), 7);
  for (const std::string& rel : expected_) {
    const std::string digest = "sha256:" + rel.substr(0, 2) + rel.substr(3);
    EXPECT_NE(r.err.find("object " + digest + ": " + server_.url() +
                         " served wrong bytes (hashes to sha256:"),
              std::string::npos)
        << r.err;
  }
  EXPECT_TRUE(ScanObjects(store_).objects.empty());
  ExpectStoreClean();
}

TEST_F(PullTest, TruncatedBodyFailsAndLandsNothing) {
  StartServer("truncated");
  CommandResult r = Pull(server_.url(), image_);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("connection closed after"), std::string::npos) << r.err;
  EXPECT_TRUE(ScanObjects(store_).objects.empty());
  ExpectStoreClean();
}

TEST_F(PullTest, WrongContentLengthIsRefused) {
  StartServer("wrong-length");
  CommandResult r = Pull(server_.url(), image_);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("(Content-Length), the manifest says"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(ScanObjects(store_).objects.empty());
}

TEST_F(PullTest, StallingServerTimesOut) {
  StartServer("stall");
  // 7 objects, 7 jobs, 1 s stall time-out: fails, never hangs (ctest's own
  // time-out would catch a hang).
  CommandResult r =
      Pull(server_.url(), image_, {"--timeout", "1", "--jobs", "7"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("timed out"), std::string::npos) << r.err;
  EXPECT_TRUE(ScanObjects(store_).objects.empty());
}

TEST_F(PullTest, NotFoundAndServerErrorsAreNamed) {
  StartServer("404");
  CommandResult r = Pull(server_.url(), image_);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(" not found at " + server_.url() + "/objects/"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("(HTTP 404)"), std::string::npos);
  StartServer("500");
  r = Pull(server_.url(), image_);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("(HTTP 500)"), std::string::npos) << r.err;
}

TEST_F(PullTest, RedirectToAnotherProtocolIsNotFollowed) {
  StartServer("redirect-file");
  CommandResult r = Pull(server_.url(), image_);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(JsonNumber(r.out, "failed"), 7);
  EXPECT_TRUE(ScanObjects(store_).objects.empty());
}

TEST_F(PullTest, StoreDirectorySourceFollowsNoSymlinkAndChecksSizes) {
  // One object replaced by a symlink to a file with the right bytes, one
  // by a file of the wrong size: both refused, the rest pulled.
  auto it = expected_.begin();
  const std::string linked = source_store_ + "/objects/" + *it++;
  const std::string resized = source_store_ + "/objects/" + *it;
  const std::string outside = work_ / "outside";
  fs::copy_file(linked, outside);
  fs::remove(linked);
  fs::create_symlink(outside, linked);
  std::vector<uint8_t> longer = st::ReadFile(resized);
  longer.push_back(0);
  fs::remove(resized);
  WriteFile(resized, longer);

  CommandResult r = Pull(source_store_, image_);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(JsonNumber(r.out, "failed"), 2);
  EXPECT_EQ(JsonNumber(r.out, "fetched"), 5);
  EXPECT_NE(r.err.find("the manifest says"), std::string::npos) << r.err;
  EXPECT_EQ(ScanObjects(store_).objects.size(), 5u);
  ExpectStoreClean();
}

TEST_F(PullTest, ServerDownFailsEveryObject) {
  StartServer("normal");
  const std::string url = server_.url();
  server_.Stop();
  CommandResult r = Pull(url, image_, {"--timeout", "2"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(JsonNumber(r.out, "failed"), 7);
  EXPECT_TRUE(ScanObjects(store_).objects.empty());
}

TEST_F(PullTest, KilledPullResumesWithOnlyTheRest) {
  // Many objects from a slow server, so the pull is still running when some
  // batches are committed.
  const std::string src = work_ / "many";
  for (int i = 0; i < 400; ++i) {
    WriteFile(src + "/f" + std::to_string(i), RandomBytes(200 + i, 1000 + i));
  }
  const std::string image = work_ / "many.img";
  Mkfs(src, source_store_, image);
  StartServer("slow");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl(SealfsBin().c_str(), "sealfs", "pull", "--from",
          server_.url().c_str(), "--store", store_.c_str(), "--jobs", "2",
          image.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until some objects are committed, then kill -9.
  size_t present = 0;
  for (int i = 0; i < 600 && present == 0; ++i) {
    usleep(50000);
    present = ScanObjects(store_).objects.size();
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "pull finished before it was killed";
  present = ScanObjects(store_).objects.size();
  ASSERT_GT(present, 0u);
  ASSERT_LT(present, 400u);
  ExpectStoreClean();  // a kill leaves no partial object under a name

  StartServer("normal");
  CommandResult r = Pull(server_.url(), image, {"--jobs", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(JsonNumber(r.out, "skipped"), static_cast<long long>(present));
  EXPECT_EQ(JsonNumber(r.out, "fetched"),
            static_cast<long long>(400 - present));
  EXPECT_EQ(ScanObjects(store_).objects.size(), 400u);
  ExpectStoreClean();
}

TEST_F(PullTest, ByTagWritesTheImageLastAndOnlyOnSuccess) {
  fs::create_directories(source_store_ + "/images");
  fs::copy_file(image_, source_store_ + "/images/web-1.0");
  StartServer("corrupt");
  CommandResult r = Pull(server_.url(), "web-1.0");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_FALSE(fs::exists(store_ + "/images/web-1.0"));

  StartServer("normal");
  r = Pull(server_.url(), "web-1.0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"tag_written\":true"), std::string::npos);
  EXPECT_EQ(st::ReadFile(store_ + "/images/web-1.0"), st::ReadFile(image_));
  EXPECT_EQ(ScanObjects(store_).objects, expected_);

  // From a store directory too.
  fs::remove_all(store_);
  r = Pull(source_store_, "web-1.0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(st::ReadFile(store_ + "/images/web-1.0"), st::ReadFile(image_));
}

TEST_F(PullTest, BadOrMissingTagCannotStart) {
  StartServer("normal");
  CommandResult r = Pull(server_.url(), "nosuchtag");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("HTTP 404"), std::string::npos) << r.err;
  // A tag that is not a manifest.
  WriteFile(source_store_ + "/images/junk", "not an image");
  r = Pull(server_.url(), "junk");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = Pull(source_store_, "junk");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_FALSE(fs::exists(store_ + "/images/junk"));
}

TEST_F(PullTest, VerifyQuarantinesAndRepairsAFlippedObject) {
  ASSERT_EQ(Pull(source_store_, image_).exit_code, 0);
  const std::string victim = *expected_.rbegin();
  const std::string path = store_ + "/objects/" + victim;
  std::vector<uint8_t> good = st::ReadFile(path);
  std::vector<uint8_t> bad = good;
  bad[bad.size() / 2] ^= 0x40;
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  WriteFile(path, bad);

  // Without --verify the object counts as present.
  CommandResult r = Pull(source_store_, image_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(JsonNumber(r.out, "fetched"), 0);

  StartServer("normal");
  r = Pull(server_.url(), image_, {"--verify"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(JsonNumber(r.out, "repaired"), 1);
  EXPECT_EQ(JsonNumber(r.out, "fetched"), 1);
  EXPECT_EQ(JsonNumber(r.out, "skipped"), 6);
  EXPECT_EQ(st::ReadFile(path), good);
  ExpectStoreClean();
  // quarantine/<64 hex>.<time> holds the bad copy, with a .json record.
  const std::string hex = victim.substr(0, 2) + victim.substr(3);
  int copies = 0, records = 0;
  for (const auto& e : fs::directory_iterator(store_ + "/quarantine")) {
    const std::string name = e.path().filename().string();
    ASSERT_EQ(name.rfind(hex + ".", 0), 0u) << name;
    if (name.ends_with(".json")) {
      ++records;
      std::vector<uint8_t> rec = st::ReadFile(e.path().string());
      const std::string text(rec.begin(), rec.end());
      EXPECT_NE(text.find("hashes to sha256:"), std::string::npos) << text;
      EXPECT_NE(text.find("\"expected\":\"sha256:" + hex + "\""),
                std::string::npos)
          << text;
      EXPECT_NE(text.find("\"quarantined_as\":\"quarantine/" + hex),
                std::string::npos)
          << text;
    } else {
      ++copies;
      EXPECT_EQ(st::ReadFile(e.path().string()), bad);
    }
  }
  EXPECT_EQ(copies, 1);
  EXPECT_EQ(records, 1);

  // A corrupt source cannot "repair" a good store: nothing changes.
  StartServer("corrupt");
  r = Pull(server_.url(), image_, {"--verify"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(JsonNumber(r.out, "fetched"), 0);
}

TEST_F(PullTest, ExitCodes) {
  CommandResult r = st::Run({SealfsBin(), "pull", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Usage: sealfs pull"), std::string::npos);
  EXPECT_EQ(st::Run({SealfsBin(), "pull", image_}).exit_code, 2);  // no --from
  EXPECT_EQ(st::Run({SealfsBin(), "pull", "--from", source_store_}).exit_code,
            2);
  EXPECT_EQ(Pull(source_store_, image_, {"--jobs", "0"}).exit_code, 2);
  EXPECT_EQ(Pull(source_store_, image_, {"--bogus"}).exit_code, 2);
  EXPECT_EQ(Pull(source_store_, image_, {"--timeout", "x"}).exit_code, 2);
  r = Pull(source_store_, "../etc/passwd");  // neither a file nor a tag
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("sealfs pull: ", 0), 0u) << r.err;
  EXPECT_EQ(Pull(source_store_, "web.tmp-1234abcd").exit_code, 2);  // temp
  EXPECT_EQ(Pull(source_store_, ".hidden").exit_code, 2);
  r = Pull("ftp://example.invalid/store", image_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("only http://, https:// and docker://"),
            std::string::npos)
      << r.err;
  r = Pull(work_ / "no-such-store", image_);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  WriteFile(work_ / "notimage", "garbage");
  EXPECT_EQ(Pull(source_store_, work_ / "notimage").exit_code, 2);
  EXPECT_EQ(Pull(source_store_, image_).exit_code, 0);
  ExpectStoreClean();
}

TEST_F(PullTest, FromNginxFetchesAllVerified) {
  st::NginxServer nginx;
  const std::string dir = work_ / "nginx";
  fs::create_directories(dir);
  ASSERT_EQ(nginx.Start(source_store_, dir), "");
  CommandResult r = Pull(nginx.url(), image_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(JsonNumber(r.out, "fetched"), 7);
  EXPECT_EQ(ScanObjects(store_).objects, expected_);
  ExpectStoreClean();
  EXPECT_EQ(st::Run({"diff", "-r", source_store_ + "/trees", store_ + "/trees"})
                .exit_code,
            0);
}

// With 10 ms per request, fetching 1,000 objects one after another takes
// at least 10 s: the transfers must overlap.
TEST_F(PullTest, TransfersOverlapOnASlowServer) {
  const std::string src = work_ / "many";
  for (int i = 0; i < 1000; ++i) {
    WriteFile(src + "/d" + std::to_string(i % 20) + "/f" + std::to_string(i),
              RandomBytes(200 + static_cast<size_t>(i), 5000 + i));
  }
  const std::string image = work_ / "many-image";
  Mkfs(src, source_store_, image);
  ASSERT_EQ(
      server_.Start(source_store_, "latency", log_, 0, {"--delay", "0.01"}),
      "");
  const auto start = std::chrono::steady_clock::now();
  CommandResult r = Pull(server_.url(), image, {"--jobs", "16"});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(JsonNumber(r.out, "fetched"), 1000);
  EXPECT_EQ(st::CountLogLines(log_, "/objects/"), 1000);
  EXPECT_GE(st::MaxConcurrentRequests(log_), 4);
  EXPECT_LT(seconds, 10.0);
  ExpectStoreClean();
}

TEST_F(PullTest, UntrustedImageFetchesNothing) {
  const std::string key = work_ / "key";
  const std::string other = work_ / "other";
  ASSERT_EQ(st::Run({SealfsBin(), "keygen", key}).exit_code, 0);
  ASSERT_EQ(st::Run({SealfsBin(), "keygen", other}).exit_code, 0);
  ASSERT_EQ(st::Run({SealfsBin(), "sign", "--key", key, image_}).exit_code, 0);
  StartServer("normal");

  CommandResult r = Pull(server_.url(), image_, {"--pubkey", other + ".pub"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("not trusted"), std::string::npos) << r.err;
  EXPECT_EQ(st::CountLogLines(log_, "/objects/"), 0);
  EXPECT_TRUE(ScanObjects(store_).objects.empty());

  r = Pull(server_.url(), image_,
           {"--digest", "sha256:" + std::string(64, '0')});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("does not match"), std::string::npos) << r.err;
  EXPECT_EQ(st::CountLogLines(log_, "/objects/"), 0);

  r = Pull(server_.url(), image_, {"--pubkey", key + ".pub"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ScanObjects(store_).objects, expected_);
}

}  // namespace
}  // namespace sealfs
