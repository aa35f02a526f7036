// SPDX-License-Identifier: Apache-2.0
// `sealfs ls`: lists a directory of an image (or one file) from the manifest
// alone, without mounting and without the store.
#include <getopt.h>
#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <string>

#include "fs/mkfs/image_file.h"
#include "sealfs/manifest_reader.h"
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {
namespace {

constexpr char kCmd[] = "ls";

void PrintHelp() {
  std::printf(
      "Usage: sealfs ls [-l] IMAGE [PATH]\n"
      "List the entries of directory PATH (default /) of IMAGE, sorted by\n"
      "name, or PATH itself if it is not a directory. Symlinks are not\n"
      "followed. Control characters in names are shown as \\ooo.\n"
      "\n"
      "Options:\n"
      "  -l, --long   mode, uid, gid, size (major, minor for devices), mtime\n"
      "               (UTC), name, and '-> target' for symlinks\n"
      "  -h, --help   show this help\n"
      "\n"
      "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

std::string TimeString(int64_t sec) {
  time_t t = static_cast<time_t>(sec);
  struct tm tm;
  char buf[64];
  if (gmtime_r(&t, &tm) == nullptr ||
      std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm) == 0) {
    return std::to_string(sec);
  }
  return buf;
}

Status PrintEntry(const Manifest& m, uint64_t ino, std::string_view name,
                  bool long_format) {
  const std::string shown = mkfs::EscapeName(name);
  if (!long_format) {
    std::printf("%s\n", shown.c_str());
    return Status();
  }
  SEALFS_ASSIGN_OR_RETURN(Inode inode, m.GetInode(ino));
  std::string size;
  const uint32_t type = inode.mode & S_IFMT;
  if (type == S_IFCHR || type == S_IFBLK) {
    size = std::to_string(inode.rdev_major) + ", " +
           std::to_string(inode.rdev_minor);
  } else if (type == S_IFREG || type == S_IFLNK) {
    size = std::to_string(inode.size);
  } else {
    size = "0";
  }
  std::string line = mkfs::ModeString(inode.mode) + " " +
                     std::to_string(inode.nlink) + " " +
                     std::to_string(inode.uid) + " " +
                     std::to_string(inode.gid) + " " + size + " " +
                     TimeString(inode.mtime_sec) + " " + shown;
  if (type == S_IFLNK) {
    SEALFS_ASSIGN_OR_RETURN(std::string_view target, m.ReadLink(ino));
    line += " -> " + mkfs::EscapeName(target);
  }
  std::printf("%s\n", line.c_str());
  return Status();
}

}  // namespace

int CmdLs(int argc, char** argv) {
  static const option kOptions[] = {
      {"long", no_argument, nullptr, 'l'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  bool long_format = false;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "lh", kOptions, nullptr)) != -1) {
    switch (c) {
      case 'l': long_format = true; break;
      case 'h': PrintHelp(); return kExitOk;
      default:
        return UsageError(kCmd, std::string("unknown option '") +
                                    argv[optind - 1] + "'");
    }
  }
  const int args = argc - optind;
  if (args < 1 || args > 2) return UsageError(kCmd, "expected IMAGE [PATH]");
  const std::string image = argv[optind];
  const std::string path = args == 2 ? argv[optind + 1] : "/";

  Result<std::shared_ptr<const Manifest>> opened = Manifest::Open(image);
  if (!opened.ok()) return Fail(kCmd, opened.status().WithPrefix(image));
  const Manifest& m = **opened;
  Result<uint64_t> ino = mkfs::ResolvePath(m, path);
  if (!ino.ok()) return Fail(kCmd, ino.status());
  Result<Inode> inode = m.GetInode(*ino);
  if (!inode.ok()) return Fail(kCmd, inode.status().WithPrefix(path));
  if (!S_ISDIR(inode->mode)) {
    Status s = PrintEntry(m, *ino, path, long_format);
    if (!s.ok()) return Fail(kCmd, s.WithPrefix(path));
    return kExitOk;
  }
  for (uint64_t i = 0;; ++i) {
    Result<DirEntry> entry = m.GetDirEntry(*ino, i);
    if (!entry.ok()) {
      if (entry.status().err() == ENOENT && i >= inode->size) break;
      return Fail(kCmd, entry.status().WithPrefix(path));
    }
    Status s = PrintEntry(m, entry->ino, entry->name, long_format);
    if (!s.ok()) {
      return Fail(kCmd, s.WithPrefix(path + "/" +
                                     mkfs::EscapeName(entry->name)));
    }
  }
  return kExitOk;
}

}  // namespace sealfs::tools
