// SPDX-License-Identifier: Apache-2.0
// `sealfs dump`: writes an image as a composefs dump file (composefs-dump(5)),
// the text form `sealfs mkfs --from-dump` reads back.
#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <span>
#include <string>

#include "fs/mkfs/dump_writer.h"
#include "fs/util/io.h"
#include "sealfs/manifest_reader.h"
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {
namespace {

constexpr char kCmd[] = "dump";

void PrintHelp() {
  std::printf(
      "Usage: sealfs dump [-o FILE] IMAGE\n"
      "Write IMAGE as a composefs dump: one line per path, sorted by path,\n"
      "with size, mode, owner, mtime, symlink target or object payload,\n"
      "inline content, fs-verity digest and xattrs. Reads only the image,\n"
      "never the store. `sealfs mkfs --from-dump` turns it back into the\n"
      "same image.\n"
      "\n"
      "Options:\n"
      "  -o, --output FILE  write to FILE (replaced atomically) instead of\n"
      "                     standard output\n"
      "  -h, --help         show this help\n"
      "\n"
      "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

}  // namespace

int CmdDump(int argc, char** argv) {
  static const option kOptions[] = {
      {"output", required_argument, nullptr, 'o'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  std::string output;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "o:h", kOptions, nullptr)) != -1) {
    switch (c) {
      case 'o':
        output = optarg;
        break;
      case 'h':
        PrintHelp();
        return kExitOk;
      default:
        return UsageError(kCmd, std::string("unknown or incomplete option '") +
                                    argv[optind - 1] + "'");
    }
  }
  if (argc - optind != 1) return UsageError(kCmd, "expected IMAGE");
  const std::string image = argv[optind];

  Result<std::shared_ptr<const Manifest>> manifest = Manifest::Open(image);
  if (!manifest.ok()) return Fail(kCmd, manifest.status().WithPrefix(image));
  Result<std::string> text = mkfs::DumpImage(**manifest);
  if (!text.ok()) return Fail(kCmd, text.status().WithPrefix(image));
  std::span<const uint8_t> bytes(
      reinterpret_cast<const uint8_t*>(text->data()), text->size());
  if (output.empty() || output == "-") {
    Status s = WriteFull(STDOUT_FILENO, bytes);
    if (!s.ok()) return Fail(kCmd, s.WithPrefix("standard output"));
    return kExitOk;
  }
  Status s = WriteFileAtomic(output, bytes, 0644);
  if (!s.ok()) return Fail(kCmd, s.WithPrefix(output));
  return kExitOk;
}

}  // namespace sealfs::tools
