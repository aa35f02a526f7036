// SPDX-License-Identifier: Apache-2.0
// `sealfs COMMAND [ARGS...]`: dispatches to one subcommand. Also answers to
// the name mount.fuse.sealfs, the helper mount(8) runs for -t fuse.sealfs.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string_view>

#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {
namespace {

struct Command {
  const char* name;
  int (*run)(int argc, char** argv);
  const char* summary;
};

constexpr Command kCommands[] = {
    {"mkfs", CmdMkfs, "build a signed image from a directory tree"},
    {"mount", CmdMount, "mount an image, verifying every block read"},
    {"keygen", CmdKeygen, "create an Ed25519 signing key pair"},
    {"sign", CmdSign, "add a signature to an image"},
    {"verify", CmdVerify, "check an image's signature and print its identity"},
    {"inspect", CmdInspect, "show an image's identity, counts and signatures"},
    {"ls", CmdLs, "list a directory of an image without mounting it"},
    {"cat", CmdCat, "print a file of an image, verified, without mounting"},
    {"digest", CmdDigest, "print fs-verity digests of files"},
    {"stats", CmdStats, "print a mounted image's counters as JSON"},
    {"dump", CmdDump, "write an image as a composefs dump file"},
    {"diff", CmdDiff, "compare two images path by path"},
    {"tag", CmdTag, "record an image in a store as a root for gc"},
    {"images", CmdImages, "list a store's tagged images and their sizes"},
    {"fsck", CmdFsck, "check a store; quarantine corrupt objects"},
    {"gc", CmdGc, "remove objects no tagged image references"},
    {"pull", CmdPull, "fetch an image's missing objects, verified"},
    {"push", CmdPush, "upload an image and its objects to an OCI registry"},
    {"serve", CmdServe, "serve many mounts from one service process"},
    {"mounts", CmdMounts, "list the mounts the service serves"},
};

void PrintUsage(FILE* out) {
  std::fprintf(out,
               "Usage: sealfs COMMAND [OPTIONS] [ARGS...]\n"
               "A read-only filesystem whose every block is verified on read.\n"
               "\nCommands:\n");
  for (const Command& c : kCommands) {
    std::fprintf(out, "  %-9s %s\n", c.name, c.summary);
  }
  std::fprintf(out,
               "\nRun 'sealfs COMMAND --help' for a command's options.\n"
               "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

int Main(int argc, char** argv) {
  const char* slash = std::strrchr(argv[0], '/');
  std::string_view self = slash != nullptr ? slash + 1 : argv[0];
  if (self == "mount.fuse.sealfs") return CmdMountHelper(argc, argv);

  if (argc < 2) {
    PrintUsage(stderr);
    return kExitUsage;
  }
  std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    PrintUsage(stdout);
    return kExitOk;
  }
  if (name == "--version") {
    std::printf("sealfs %s\n", SEALFS_VERSION);
    return kExitOk;
  }
  for (const Command& c : kCommands) {
    if (name == c.name) return c.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "sealfs: unknown command '%s'\n", argv[1]);
  PrintUsage(stderr);
  return kExitUsage;
}

}  // namespace
}  // namespace sealfs::tools

int main(int argc, char** argv) {
  try {
    return sealfs::tools::Main(argc, argv);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "sealfs: out of memory\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sealfs: internal error: %s\n", e.what());
  }
  return sealfs::tools::kExitFailure;
}
