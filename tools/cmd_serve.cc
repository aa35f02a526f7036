// SPDX-License-Identifier: Apache-2.0
// `sealfs serve [--replace] [--socket PATH]`: the host mount service.
#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "fs/fuse/log.h"
#include "fs/serve/channel.h"
#include "fs/serve/keeper.h"
#include "fs/serve/service.h"
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {
namespace {

constexpr char kUsage[] =
    "Usage: sealfs serve [--replace] [--socket PATH] [--no-keeper] "
    "[--fd-store]\n"
    "Serve many sealfs mounts from one process. `sealfs mount` hands its\n"
    "mount to a running service (it mounts with its own rights and passes\n"
    "the FUSE connection over), and returns once the mount is ready. One\n"
    "verified manifest is held per distinct image, and open objects and\n"
    "verified tree blocks per store, for all their mounts; each mount's\n"
    "pubkey=/keyring=/digest= is still checked.\n"
    "\n"
    "Runs in the foreground, logging to stderr, and tells systemd when it is\n"
    "ready ($NOTIFY_SOCKET). SIGTERM, SIGINT or SIGHUP unmount every session\n"
    "and stop. SIGUSR2 upgrades in place: the program at this one's path\n"
    "(a new build, after an upgrade) is started with --replace and takes\n"
    "every session over; should it fail, this one goes on serving. A\n"
    "keeper process holds a copy of every FUSE connection, so a\n"
    "service that crashes or is killed loses no mount: the next one takes\n"
    "its sessions back. A keeper that dies is started again. Under systemd\n"
    "with a file-descriptor store, systemd holds them instead (no keeper).\n"
    "\n"
    "Options:\n"
    "  --replace      take over the sessions of the running service (an\n"
    "                 upgrade without unmounting), which then exits\n"
    "  --socket PATH  control socket (default: $SEALFS_SERVE_SOCKET, else\n"
    "                 /run/sealfs/serve.sock as root, else\n"
    "                 $XDG_RUNTIME_DIR/sealfs/serve.sock)\n"
    "  --no-keeper    keep no copy of the connections (a crash of this\n"
    "                 process then leaves its mounts dead)\n"
    "  --fd-store     under systemd ($NOTIFY_SOCKET), keep the connections\n"
    "                 in its file-descriptor store (FDSTORE=1), which the\n"
    "                 unit allows with FileDescriptorStoreMax=; implied\n"
    "                 when systemd sets $FDSTORE (systemd 254 and later)\n"
    "  -h, --help     show this help\n"
    "\n"
    "Exit status: 0 stopped (or replaced), 1 failed, 2 usage error.\n";

}  // namespace

int CmdServe(int argc, char** argv) {
  static const option kLong[] = {
      {"replace", no_argument, nullptr, 'r'},
      {"socket", required_argument, nullptr, 's'},
      {"no-keeper", no_argument, nullptr, 'n'},
      {"fd-store", no_argument, nullptr, 'F'},
      {"keeper", no_argument, nullptr, 'k'},  // internal: run as the keeper
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  serve::ServeOptions options;
  bool keeper = false;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "h", kLong, nullptr)) != -1) {
    switch (c) {
      case 'r':
        options.replace = true;
        break;
      case 's':
        options.socket_path = optarg;
        break;
      case 'n':
        options.keeper = false;
        break;
      case 'F':
        options.fd_store = true;
        break;
      case 'k':
        keeper = true;
        break;
      case 'h':
        std::fputs(kUsage, stdout);
        return kExitOk;
      default:
        return UsageError("serve", "unknown option");
    }
  }
  if (optind != argc) return UsageError("serve", "unexpected argument");
  if (keeper) {
    // The keeper is given its own socket's path.
    if (options.socket_path.empty())
      return UsageError("serve", "--keeper needs --socket");
    Status st = serve::RunKeeper(options.socket_path);
    return st.ok() ? kExitOk : Fail("serve", st);
  }
  if (options.socket_path.empty()) {
    Result<std::string> path = serve::DefaultSocketPath();
    if (!path.ok()) return Fail("serve", path.status());
    options.socket_path = *path;
  }
  options.exe = "/proc/self/exe";
  // By path: after an upgrade the file there is the new build.
  std::error_code ec;
  options.program = std::filesystem::read_symlink("/proc/self/exe", ec);
  fuse::InstallFuseLogger();
  Status st = serve::RunService(options);
  if (!st.ok()) return Fail("serve", st);
  return kExitOk;
}

}  // namespace sealfs::tools
