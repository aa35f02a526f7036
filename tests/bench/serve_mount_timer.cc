// SPDX-License-Identifier: Apache-2.0
// Times repeat mounts through a running `sealfs serve` from inside one
// process: the request, the mount, the attach and the first stat of the
// mount root, as `sealfs mount` does them, but without starting a process
// for each (scripts/bench-serve.sh; a container runtime that speaks the
// control socket itself pays only this).
//
//   serve_mount_timer OPTIONS IMAGE DIR REPS
// mounts IMAGE REPS times under DIR, prints "MEDIAN_MS MIN_MS", and
// unmounts them all.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fs/fuse/mount_options.h"
#include "fs/fuse/session.h"
#include "fs/serve/client.h"

namespace {

int Unmount(const std::string& path) {
  if (geteuid() == 0) return umount2(path.c_str(), MNT_DETACH);
  const std::string cmd = "fusermount3 -u -z '" + path + "'";
  return std::system(cmd.c_str());  // NOLINT(concurrency-mt-unsafe)
}

}  // namespace

int main(int argc, char** argv) {
  using sealfs::fuse::MountRequest;
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s OPTIONS IMAGE DIR REPS\n", argv[0]);
    return 2;
  }
  const std::string options = argv[1];
  const std::string dir = argv[3];
  const int reps = std::atoi(argv[4]);
  MountRequest req;
  req.image = argv[2];
  if (sealfs::Status st =
          sealfs::fuse::ParseMountOptions(options, &req.options);
      !st.ok() || reps <= 0) {
    std::fprintf(stderr, "serve_mount_timer: bad options or REPS\n");
    return 2;
  }
  std::vector<double> ms;
  std::vector<std::string> mounted;
  int exit_code = 0;
  for (int i = 0; i < reps; ++i) {
    req.mountpoint = dir + "/t" + std::to_string(i);
    (void)mkdir(req.mountpoint.c_str(), 0755);
    const auto t0 = std::chrono::steady_clock::now();
    sealfs::Result<bool> served =
        sealfs::serve::MountThroughService(req, options);
    struct stat st {};
    const bool ok = served.ok() && *served &&
                    stat(req.mountpoint.c_str(), &st) == 0;
    const auto t1 = std::chrono::steady_clock::now();
    if (!ok) {
      std::fprintf(stderr, "serve_mount_timer: %s: %s\n",
                   req.mountpoint.c_str(),
                   served.ok() ? "no service, or stat failed"
                               : served.status().ToString().c_str());
      exit_code = 1;
      break;
    }
    mounted.push_back(req.mountpoint);
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  for (const std::string& m : mounted) {
    if (Unmount(m) != 0) exit_code = 1;
  }
  if (ms.empty()) return 1;
  std::sort(ms.begin(), ms.end());
  std::printf("%.2f %.2f\n", ms[ms.size() / 2], ms.front());
  return exit_code;
}
