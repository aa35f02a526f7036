// SPDX-License-Identifier: Apache-2.0
// `sealfs stats MOUNTPOINT`: fetches a mounted image's counters from its
// daemon (an ioctl on the mount's root directory) and prints them as JSON;
// with --wait-prefetch, once the background fetch has every object.
#include <fcntl.h>
#include <getopt.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <thread>

#include "fs/fuse/stats.h"
#include "fs/util/hex.h"
#include "sealfs/unique_fd.h"
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {
namespace {

constexpr char kUsage[] =
    "Usage: sealfs stats [--wait-prefetch] MOUNTPOINT\n"
    "Print the counters of the sealfs daemon serving MOUNTPOINT as one JSON\n"
    "object: the image identity, the mount time, and lookups, opens, reads,\n"
    "bytes read, blocks verified, verification failures, missing objects,\n"
    "open objects, refused writes and errors since the mount.\n"
    "\n"
    "Options:\n"
    "  --wait-prefetch  first wait until the background fetch of a lazy mount\n"
    "                   has brought every object (prefetch_left is 0)\n"
    "  -h, --help       show this help\n"
    "\n"
    "Exit status: 0 success, 1 not a sealfs mount or no answer, 2 usage "
    "error.\n";

// The counters of the mount whose root is `fd`.
Result<fuse::StatsRecord> ReadStats(int fd, const std::string& mnt) {
  fuse::StatsRecord rec{};
  if (ioctl(fd, fuse::kStatsIoctl, &rec) != 0) {
    int err = errno;
    if (err == ENOTTY || err == EINVAL || err == ENOSYS) {
      return Status::FromErrno(err, mnt + ": not the root of a sealfs mount");
    }
    return Status::FromErrno(err, mnt);
  }
  if (rec.magic != fuse::kStatsMagic || rec.version != fuse::kStatsVersion) {
    return Status::FromErrno(EPROTO, mnt + ": unexpected stats record");
  }
  return rec;
}

// The value of counter `name` in `rec`, or 0 if the daemon has none.
uint64_t Counter(const fuse::StatsRecord& rec, const char* name) {
  int name_count = 0;
  const char* const* names = fuse::StatsCounterNames(&name_count);
  int n = std::min<int>(name_count, static_cast<int>(rec.counter_count));
  for (int i = 0; i < n; ++i) {
    if (std::strcmp(names[i], name) == 0) return rec.counters[i];
  }
  return 0;
}

}  // namespace

int CmdStats(int argc, char** argv) {
  enum { kWaitPrefetch = 256 };
  static const option kLong[] = {
      {"help", no_argument, nullptr, 'h'},
      {"wait-prefetch", no_argument, nullptr, kWaitPrefetch},
      {nullptr, 0, nullptr, 0},
  };
  optind = 1;
  bool wait_prefetch = false;
  int c;
  while ((c = getopt_long(argc, argv, "h", kLong, nullptr)) != -1) {
    if (c == 'h') {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
    if (c == kWaitPrefetch) {
      wait_prefetch = true;
      continue;
    }
    return UsageError("stats", "unknown option");
  }
  if (argc - optind != 1) return UsageError("stats", "expected MOUNTPOINT");
  std::string mnt = argv[optind];
  UniqueFd fd(open(mnt.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Fail("stats", ErrnoStatus(mnt));
  Result<fuse::StatsRecord> got = ReadStats(fd.get(), mnt);
  // One ioctl every 10 ms: a round trip to the daemon costs microseconds,
  // far cheaper than a process per look, which takes CPU from the fetch.
  while (wait_prefetch && got.ok() && Counter(*got, "prefetch_left") > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    got = ReadStats(fd.get(), mnt);
  }
  if (!got.ok()) return Fail("stats", got.status());
  const fuse::StatsRecord& rec = *got;
  int name_count = 0;
  const char* const* names = fuse::StatsCounterNames(&name_count);
  JsonWriter w;
  w.BeginObject();
  w.Key("mountpoint");
  w.String(mnt);
  w.Key("identity");
  w.String("sha256:" + HexEncode(std::span<const uint8_t>(rec.identity)));
  w.Key("mounted_at");
  w.Int(rec.mounted_at_sec);
  int n = std::min<int>(name_count, static_cast<int>(rec.counter_count));
  for (int i = 0; i < n; ++i) {
    w.Key(names[i]);
    w.Uint(rec.counters[i]);
  }
  w.End();
  std::printf("%s\n", w.str().c_str());
  return kExitOk;
}

}  // namespace sealfs::tools
