// SPDX-License-Identifier: Apache-2.0
// `sealfs diff`: compares two images path by path from their manifests, and
// exits like diff(1): 0 identical, 1 different, 2 trouble.
#include <getopt.h>

#include <cstdio>
#include <string>
#include <vector>

#include "fs/mkfs/dump_format.h"
#include "fs/mkfs/image_diff.h"
#include "sealfs/manifest_reader.h"
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {
namespace {

constexpr char kCmd[] = "diff";

void PrintHelp() {
  std::printf(
      "Usage: sealfs diff [--json] IMAGE_A IMAGE_B\n"
      "Compare two images path by path, from their manifests alone (the\n"
      "object store is not needed), and print one line per path that\n"
      "differs, sorted by path:\n"
      "  A  PATH                   added in IMAGE_B\n"
      "  D  PATH                   removed from IMAGE_A\n"
      "  T  PATH  OLD->NEW         file type changed\n"
      "  M  PATH  FIELD,...        changed: content, target, mode, uid,\n"
      "                            gid, rdev, mtime, xattrs, links\n"
      "Paths are escaped as in a composefs dump (space is \\x20). Content is\n"
      "compared by fs-verity digest.\n"
      "\n"
      "Options:\n"
      "  --json       print a JSON array of {\"path\", \"change\", \"fields\",\n"
      "               \"old_type\", \"new_type\"} objects instead\n"
      "  -h, --help   show this help\n"
      "\n"
      "Exit status: 0 identical, 1 different, 2 error or usage error.\n");
}

std::string Shown(const std::string& path) {
  std::string out;
  mkfs::AppendDumpEscaped(&out, path, mkfs::DumpEscape::kStandard);
  return out;
}

void PrintText(const std::vector<mkfs::PathChange>& changes) {
  for (const mkfs::PathChange& c : changes) {
    std::string line = mkfs::ChangeLetter(c.kind);
    line += "  " + Shown(c.path);
    if (c.kind == mkfs::ChangeKind::kTypeChanged) {
      line += "  ";
      line += mkfs::FileTypeName(c.old_mode);
      line += "->";
      line += mkfs::FileTypeName(c.new_mode);
    } else if (c.kind == mkfs::ChangeKind::kModified) {
      line += "  ";
      for (size_t i = 0; i < c.fields.size(); ++i) {
        if (i > 0) line += ",";
        line += c.fields[i];
      }
    }
    std::printf("%s\n", line.c_str());
  }
}

void PrintJson(const std::vector<mkfs::PathChange>& changes) {
  JsonWriter w;
  w.BeginArray();
  for (const mkfs::PathChange& c : changes) {
    w.BeginObject();
    w.Key("path");
    w.String(c.path);
    w.Key("change");
    w.String(mkfs::ChangeName(c.kind));
    w.Key("fields");
    w.BeginArray();
    for (const std::string& f : c.fields) w.String(f);
    w.End();
    w.Key("old_type");
    if (c.old_mode != 0) {
      w.String(mkfs::FileTypeName(c.old_mode));
    } else {
      w.Null();
    }
    w.Key("new_type");
    if (c.new_mode != 0) {
      w.String(mkfs::FileTypeName(c.new_mode));
    } else {
      w.Null();
    }
    w.End();
  }
  w.End();
  std::printf("%s\n", w.str().c_str());
}

}  // namespace

int CmdDiff(int argc, char** argv) {
  enum { kJson = 256 };
  static const option kOptions[] = {
      {"json", no_argument, nullptr, kJson},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  bool json = false;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "h", kOptions, nullptr)) != -1) {
    switch (c) {
      case kJson:
        json = true;
        break;
      case 'h':
        PrintHelp();
        return kExitOk;
      default:
        return UsageError(kCmd, std::string("unknown or incomplete option '") +
                                    argv[optind - 1] + "'");
    }
  }
  if (argc - optind != 2) return UsageError(kCmd, "expected IMAGE_A IMAGE_B");
  const std::string path_a = argv[optind];
  const std::string path_b = argv[optind + 1];
  // diff(1) convention: trouble is 2, so 1 can only mean "different".
  Result<std::shared_ptr<const Manifest>> a = Manifest::Open(path_a);
  if (!a.ok()) {
    Fail(kCmd, a.status().WithPrefix(path_a));
    return kExitUsage;
  }
  Result<std::shared_ptr<const Manifest>> b = Manifest::Open(path_b);
  if (!b.ok()) {
    Fail(kCmd, b.status().WithPrefix(path_b));
    return kExitUsage;
  }
  Result<std::vector<mkfs::PathChange>> changes = mkfs::DiffImages(**a, **b);
  if (!changes.ok()) {
    Fail(kCmd, changes.status());
    return kExitUsage;
  }
  if (json) {
    PrintJson(*changes);
  } else {
    PrintText(*changes);
  }
  std::fflush(stdout);
  return changes->empty() ? kExitOk : kExitFailure;
}

}  // namespace sealfs::tools
