// SPDX-License-Identifier: Apache-2.0
// `sealfs digest FILE...`: prints each file's fs-verity digest exactly as
// `fsverity digest` does, so the two can be compared line by line.
#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "sealfs/digest.h"
#include "sealfs/unique_fd.h"
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {
namespace {

constexpr char kCmd[] = "digest";

constexpr char kHelp[] =
    "Usage: sealfs digest [OPTIONS] FILE...\n"
    "\n"
    "Print the fs-verity digest of each FILE, one line per file:\n"
    "\n"
    "    sha256:<64 hex digits> FILE\n"
    "\n"
    "This is the name sealfs gives the file's object in a store, and the\n"
    "same line `fsverity digest FILE` prints (SHA-256, 4096-byte blocks,\n"
    "no salt). Files need not be on a filesystem with fs-verity support.\n"
    "\n"
    "Options:\n"
    "  -h, --help   show this help and exit\n"
    "\n"
    "Exit status: 0 if every file was digested, 1 if any could not be read\n"
    "(the others are still printed), 2 on a usage error.\n";

Status DigestFile(const std::string& path) {
  // O_NONBLOCK so that opening a FIFO cannot hang waiting for a writer; it
  // does not affect reads of the files accepted below.
  UniqueFd fd(
      ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) return ErrnoStatus(path + ": open");
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(path + ": stat");
  // Only things with an end: a FIFO or /dev/zero would never finish.
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    return Status::FromErrno(S_ISDIR(st.st_mode) ? EISDIR : EINVAL,
                             path + ": not a regular file or block device");
  }
  Result<MerkleTree> tree = ComputeMerkleTree(fd.get());
  if (!tree.ok()) return tree.status().WithPrefix(path);
  std::printf("%s %s\n", tree->digest.ToString().c_str(), path.c_str());
  return {};
}

}  // namespace

int CmdDigest(int argc, char** argv) {
  static const option kOptions[] = {
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  optind = 1;
  opterr = 0;  // report unknown options ourselves, in our format
  int c;
  while ((c = getopt_long(argc, argv, "h", kOptions, nullptr)) != -1) {
    switch (c) {
      case 'h':
        std::fputs(kHelp, stdout);
        return kExitOk;
      default: {
        std::string opt = optopt != 0
                              ? std::string("-") + static_cast<char>(optopt)
                              : std::string(argv[optind - 1]);
        return UsageError(kCmd, "unknown option '" + opt + "'");
      }
    }
  }
  if (optind >= argc) return UsageError(kCmd, "no FILE given");

  int exit_code = kExitOk;
  for (int i = optind; i < argc; ++i) {
    Status s = DigestFile(argv[i]);
    if (!s.ok()) {
      // Keep the output in order relative to the error line.
      std::fflush(stdout);
      exit_code = Fail(kCmd, s);
    }
  }
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    return Fail(kCmd, ErrnoStatus("writing to standard output"));
  }
  return exit_code;
}

}  // namespace sealfs::tools
