// SPDX-License-Identifier: Apache-2.0
// `sealfs gc`: frees objects and trees no tagged image references, older than
// a grace period, under the exclusive store lock.
#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "fs/store/gc.h"
#include "sealfs/store.h"
#include "tools/cli.h"
#include "tools/command.h"
#include "tools/store_cli.h"

namespace sealfs::tools {
namespace {

constexpr char kCmd[] = "gc";

void PrintHelp() {
  std::printf(
      "Usage: sealfs gc [--store STORE] [--grace DURATION] [--dry-run]\n"
      "                 [--json] [--no-wait]\n"
      "Remove every object that no tagged image (STORE/images/) references\n"
      "and that was neither written nor reused by a build for DURATION, its\n"
      "tree, trees whose object is gone, and stale partial writes. Waits for\n"
      "running builds (which hold the store lock shared) to finish, and\n"
      "builds wait for gc. Refuses to run while any tag is broken.\n"
      "Quarantine is left alone.\n"
      "\n"
      "Options:\n"
      "  --store STORE      object store (default: $SEALFS_STORE, else\n"
      "                     /var/lib/sealfs/store)\n"
      "  --grace DURATION   keep unreferenced objects younger than this:\n"
      "                     30s, 10m, 2h, 7d or 0 (default 1h)\n"
      "  --dry-run          print what would be removed; remove nothing\n"
      "  --json             print one JSON object\n"
      "  --no-wait          fail instead of waiting when builds are running\n"
      "  -h, --help         show this help\n"
      "\n"
      "Exit status: 0 success, 1 failure (broken tag, store busy with\n"
      "--no-wait, a removal failed), 2 usage error.\n");
}

std::string Duration(int64_t s) {
  if (s != 0 && s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s != 0 && s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s != 0 && s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

}  // namespace

int CmdGc(int argc, char** argv) {
  enum { kStore = 256, kGrace, kDryRun, kJson, kNoWait };
  static const option kOptions[] = {
      {"store", required_argument, nullptr, kStore},
      {"grace", required_argument, nullptr, kGrace},
      {"dry-run", no_argument, nullptr, kDryRun},
      {"json", no_argument, nullptr, kJson},
      {"no-wait", no_argument, nullptr, kNoWait},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  std::string store_path = DefaultStore();
  store::GcOptions options;
  bool json = false;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "h", kOptions, nullptr)) != -1) {
    switch (c) {
      case kStore:
        store_path = optarg;
        break;
      case kGrace: {
        Result<int64_t> grace = store::ParseDuration(optarg);
        if (!grace.ok()) return UsageError(kCmd, grace.status().context());
        options.grace_s = *grace;
        break;
      }
      case kDryRun:
        options.dry_run = true;
        break;
      case kJson:
        json = true;
        break;
      case kNoWait:
        options.wait = false;
        break;
      case 'h':
        PrintHelp();
        return kExitOk;
      default:
        return UsageError(kCmd, std::string("unknown or incomplete option '") +
                                    argv[optind - 1] + "'");
    }
  }
  if (optind != argc) return UsageError(kCmd, "unexpected argument");
  if (isatty(STDERR_FILENO) == 1) {
    options.on_wait = [](int holders) {
      if (holders > 0) {
        std::fprintf(stderr, "sealfs gc: waiting for %d writer%s to finish\n",
                     holders, holders == 1 ? "" : "s");
      } else {
        std::fprintf(stderr, "sealfs gc: waiting for builds to finish\n");
      }
    };
  }

  Result<std::shared_ptr<Store>> opened =
      Store::Open(store_path, options.dry_run ? Store::Mode::kReadOnly
                                              : Store::Mode::kReadWrite);
  if (!opened.ok()) return Fail(kCmd, opened.status().WithPrefix("store"));
  Result<store::GcReport> report = store::RunGc(**opened, options);
  if (!report.ok()) return Fail(kCmd, report.status());
  const store::GcReport& r = *report;

  if (json) {
    JsonWriter w;
    w.BeginObject();
    w.Key("store");
    w.String(store_path);
    w.Key("dry_run");
    w.Bool(options.dry_run);
    w.Key("grace_seconds");
    w.Int(options.grace_s);
    w.Key("tags");
    w.Uint(r.tags);
    w.Key("live_objects");
    w.Uint(r.live_objects);
    w.Key("live_bytes");
    w.Uint(r.live_bytes);
    w.Key("recent_objects");
    w.Uint(r.recent_objects);
    w.Key("recent_bytes");
    w.Uint(r.recent_bytes);
    w.Key("removed_objects");
    w.Uint(r.removed_objects);
    w.Key("removed_object_bytes");
    w.Uint(r.removed_object_bytes);
    w.Key("removed_trees");
    w.Uint(r.removed_trees);
    w.Key("removed_tree_bytes");
    w.Uint(r.removed_tree_bytes);
    w.Key("removed_temp_files");
    w.Uint(r.removed_temps);
    w.Key("removed_temp_bytes");
    w.Uint(r.removed_temp_bytes);
    w.Key("removed");
    w.BeginArray();
    for (const std::string& p : r.removed) w.String(p);
    w.End();
    w.Key("errors");
    w.BeginArray();
    for (const std::string& e : r.errors) w.String(e);
    w.End();
    w.End();
    std::printf("%s\n", w.str().c_str());
  } else {
    if (options.dry_run) {
      for (const std::string& p : r.removed) {
        std::printf("would remove %s\n", p.c_str());
      }
    }
    const uint64_t freed =
        r.removed_object_bytes + r.removed_tree_bytes + r.removed_temp_bytes;
    std::printf(
        "%s %llu objects (%s), %llu trees (%s), %llu partial writes: %s "
        "%s; kept %llu live objects (%s) of %llu tags, %llu unreferenced "
        "objects (%s) younger than %s\n",
        options.dry_run ? "would remove" : "removed",
        static_cast<unsigned long long>(r.removed_objects),
        HumanBytes(r.removed_object_bytes).c_str(),
        static_cast<unsigned long long>(r.removed_trees),
        HumanBytes(r.removed_tree_bytes).c_str(),
        static_cast<unsigned long long>(r.removed_temps),
        HumanBytes(freed).c_str(), options.dry_run ? "would be freed" : "freed",
        static_cast<unsigned long long>(r.live_objects),
        HumanBytes(r.live_bytes).c_str(),
        static_cast<unsigned long long>(r.tags),
        static_cast<unsigned long long>(r.recent_objects),
        HumanBytes(r.recent_bytes).c_str(), Duration(options.grace_s).c_str());
  }
  for (const std::string& e : r.errors) {
    std::fprintf(stderr, "sealfs gc: %s\n", e.c_str());
  }
  return r.errors.empty() ? kExitOk : kExitFailure;
}

}  // namespace sealfs::tools
