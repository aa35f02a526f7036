// SPDX-License-Identifier: Apache-2.0
// `sealfs stats MOUNTPOINT`: fetches a mounted image's counters from its
// daemon (an ioctl on the mount's root directory) and prints them as JSON.
#include <fcntl.h>
#include <getopt.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <span>
#include <string>

#include "fs/fuse/stats.h"
#include "fs/util/hex.h"
#include "sealfs/unique_fd.h"
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {
namespace {

constexpr char kUsage[] =
    "Usage: sealfs stats MOUNTPOINT\n"
    "Print the counters of the sealfs daemon serving MOUNTPOINT as one JSON\n"
    "object: the image identity, the mount time, and lookups, opens, reads,\n"
    "bytes read, blocks verified, verification failures, missing objects,\n"
    "open objects, refused writes and errors since the mount.\n"
    "\n"
    "Options:\n"
    "  -h, --help   show this help\n"
    "\n"
    "Exit status: 0 success, 1 not a sealfs mount or no answer, 2 usage "
    "error.\n";

}  // namespace

int CmdStats(int argc, char** argv) {
  static const option kLong[] = {
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "h", kLong, nullptr)) != -1) {
    if (c == 'h') {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
    return UsageError("stats", "unknown option");
  }
  if (argc - optind != 1) return UsageError("stats", "expected MOUNTPOINT");
  std::string mnt = argv[optind];
  UniqueFd fd(open(mnt.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Fail("stats", ErrnoStatus(mnt));
  fuse::StatsRecord rec{};
  if (ioctl(fd.get(), fuse::kStatsIoctl, &rec) != 0) {
    int err = errno;
    if (err == ENOTTY || err == EINVAL || err == ENOSYS) {
      return Fail("stats", Status::FromErrno(
                               err, mnt + ": not the root of a sealfs mount"));
    }
    return Fail("stats", Status::FromErrno(err, mnt));
  }
  if (rec.magic != fuse::kStatsMagic || rec.version != fuse::kStatsVersion) {
    return Fail("stats",
                Status::FromErrno(EPROTO, mnt + ": unexpected stats record"));
  }
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
