// SPDX-License-Identifier: Apache-2.0
// `sealfs mounts [--json]`: what the running service serves.
#include <getopt.h>

#include <cstdio>
#include <string>

#include "fs/serve/client.h"
#include "tools/cli.h"
#include "tools/command.h"
#include <nlohmann/json.hpp>

namespace sealfs::tools {
namespace {

constexpr char kUsage[] =
    "Usage: sealfs mounts [--json]\n"
    "List the mounts the running `sealfs serve` serves (a user's own; all of\n"
    "them for root): session id, mount point, image, and how many mounts\n"
    "share that image's one verified manifest. With --json, one array of\n"
    "objects with the fields id, mountpoint, image, store, uid, identity\n"
    "(the image's digest), image_mounts (mounts sharing its manifest),\n"
    "image_copy (which copy in memory), pinned (for an image or remote=\n"
    "from a registry: the reference pinned to the manifest digest it was\n"
    "mounted with; else empty) and serving.\n"
    "\n"
    "Options:\n"
    "  --json       print JSON\n"
    "  -h, --help   show this help\n"
    "\n"
    "Exit status: 0 success, 1 no service or no answer, 2 usage error.\n";

}  // namespace

int CmdMounts(int argc, char** argv) {
  static const option kLong[] = {
      {"json", no_argument, nullptr, 'j'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  bool json = false;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "h", kLong, nullptr)) != -1) {
    if (c == 'j') {
      json = true;
    } else if (c == 'h') {
      std::fputs(kUsage, stdout);
      return kExitOk;
    } else {
      return UsageError("mounts", "unknown option");
    }
  }
  if (optind != argc) return UsageError("mounts", "unexpected argument");
  Result<std::string> listing = serve::ListServiceMounts();
  if (!listing.ok()) {
    return Fail("mounts", listing.status().WithPrefix("no service"));
  }
  if (json) {
    std::printf("%s\n", listing->c_str());
    return kExitOk;
  }
  nlohmann::json all = nlohmann::json::parse(*listing, nullptr, false);
  if (!all.is_array()) {
    return Fail("mounts", Status::FromErrno(EPROTO, "malformed listing"));
  }
  std::printf("%-4s %-30s %-6s %s\n", "ID", "MOUNTPOINT", "SHARED", "IMAGE");
  for (const auto& m : all) {
    std::printf("%-4llu %-30s %-6lld %s\n",
                static_cast<unsigned long long>(m.value("id", uint64_t{0})),
                m.value("mountpoint", std::string()).c_str(),
                static_cast<long long>(m.value("image_mounts", int64_t{0})),
                m.value("image", std::string()).c_str());
  }
  return kExitOk;
}

}  // namespace sealfs::tools
