// SPDX-License-Identifier: Apache-2.0
// `sealfs fsck`: checks a whole store (objects, trees, tags, junk), moves
// what is corrupt to quarantine and, with --repair, rebuilds trees.
#include <getopt.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fs/store/fsck.h"
#include "sealfs/store.h"
#include "tools/cli.h"
#include "tools/command.h"
#include "tools/store_cli.h"

namespace sealfs::tools {
namespace {

constexpr char kCmd[] = "fsck";

void PrintHelp() {
  std::printf(
      "Usage: sealfs fsck [--store STORE] [--repair] [--max-rate MB/s]\n"
      "                   [--threads N] [--json]\n"
      "Check a whole object store: re-hash every object and compare it with\n"
      "its name, check every tree against its object, check that every\n"
      "tagged image is valid and that all its objects are present, and flag\n"
      "anything else under objects/ and trees/. Corrupt objects and junk are\n"
      "moved to STORE/quarantine/ with a record of why (never deleted).\n"
      "Prints one line per problem on stdout and a summary on stderr.\n"
      "\n"
      "Options:\n"
      "  --store STORE     object store (default: $SEALFS_STORE, else\n"
      "                    /var/lib/sealfs/store)\n"
      "  --repair          rebuild missing or bad trees from good objects\n"
      "  --max-rate MB/s   limit reading to this many MB (10^6 bytes) per\n"
      "                    second in total (default: unlimited)\n"
      "  --threads N       hashing threads (default: online CPUs)\n"
      "  --json            print one JSON report instead of lines\n"
      "  -h, --help        show this help\n"
      "\n"
      "Exit status: 0 store clean, 1 problems found (even if quarantined or\n"
      "repaired), 2 could not run (no such store, usage error).\n");
}

std::string Record(const store::QuarantineRecord& r) {
  JsonWriter w;
  w.BeginObject();
  w.Key("original"); w.String(r.original);
  w.Key("reason"); w.String(r.reason);
  w.Key("expected"); r.expected.empty() ? w.Null() : w.String(r.expected);
  w.Key("actual"); r.actual.empty() ? w.Null() : w.String(r.actual);
  w.Key("time"); w.Int(r.time);
  w.Key("quarantined_as"); w.String(r.quarantined_as);
  w.Key("by"); w.String("sealfs fsck");
  w.End();
  return w.str();
}

}  // namespace

int CmdFsck(int argc, char** argv) {
  enum { kStore = 256, kRepair, kMaxRate, kThreads, kJson };
  static const option kOptions[] = {
      {"store", required_argument, nullptr, kStore},
      {"repair", no_argument, nullptr, kRepair},
      {"max-rate", required_argument, nullptr, kMaxRate},
      {"threads", required_argument, nullptr, kThreads},
      {"json", no_argument, nullptr, kJson},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  std::string store_path = DefaultStore();
  store::FsckOptions options;
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  options.threads = cpus > 0 ? static_cast<int>(cpus) : 1;
  bool json = false;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "h", kOptions, nullptr)) != -1) {
    switch (c) {
      case kStore: store_path = optarg; break;
      case kRepair: options.repair = true; break;
      case kMaxRate: {
        char* end = nullptr;
        const double mb = std::strtod(optarg, &end);
        if (end == optarg || *end != '\0' || !std::isfinite(mb) || mb <= 0 ||
            mb > 1e7) {
          return UsageError(kCmd, "--max-rate needs a positive number of MB/s");
        }
        options.max_rate = static_cast<uint64_t>(mb * 1e6);
        break;
      }
      case kThreads: {
        char* end = nullptr;
        const long n = std::strtol(optarg, &end, 10);
        if (end == optarg || *end != '\0' || n < 1 || n > 1024) {
          return UsageError(kCmd, "--threads needs a number from 1 to 1024");
        }
        options.threads = static_cast<int>(n);
        break;
      }
      case kJson: json = true; break;
      case 'h': PrintHelp(); return kExitOk;
      default:
        return UsageError(kCmd, std::string("unknown or incomplete option '") +
                                    argv[optind - 1] + "'");
    }
  }
  if (optind != argc) return UsageError(kCmd, "unexpected argument");
  options.progress = !json && isatty(STDERR_FILENO) == 1;
  options.format_record = Record;

  Result<std::shared_ptr<Store>> opened =
      Store::Open(store_path, Store::Mode::kReadWrite);
  if (!opened.ok()) {
    (void)Fail(kCmd, opened.status().WithPrefix("store"));
    return kExitUsage;  // could not run
  }
  const auto start = std::chrono::steady_clock::now();
  Result<store::FsckReport> report = store::RunFsck(**opened, options);
  if (!report.ok()) {
    (void)Fail(kCmd, report.status().WithPrefix(store_path));
    return kExitUsage;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  const store::FsckReport& r = *report;

  if (json) {
    JsonWriter w;
    w.BeginObject();
    w.Key("store"); w.String(store_path);
    w.Key("clean"); w.Bool(r.problems.empty());
    w.Key("objects"); w.Uint(r.objects);
    w.Key("object_bytes"); w.Uint(r.object_bytes);
    w.Key("trees"); w.Uint(r.trees);
    w.Key("tags"); w.Uint(r.tags);
    w.Key("temp_files"); w.Uint(r.temp_files);
    w.Key("orphan_trees"); w.Uint(r.orphan_trees);
    w.Key("quarantined"); w.Uint(r.quarantined);
    w.Key("repaired"); w.Uint(r.repaired);
    w.Key("milliseconds"); w.Uint(static_cast<uint64_t>(seconds * 1000));
    w.Key("problems");
    w.BeginArray();
    for (const store::FsckProblem& p : r.problems) {
      w.BeginObject();
      w.Key("kind"); w.String(p.kind);
      w.Key("path"); w.String(p.path);
      w.Key("detail"); w.String(p.detail);
      w.Key("digest"); p.digest.empty() ? w.Null() : w.String(p.digest);
      w.Key("tag"); p.tag.empty() ? w.Null() : w.String(p.tag);
      w.Key("action"); p.action.empty() ? w.Null() : w.String(p.action);
      w.Key("action_failed"); w.Bool(p.failed_action);
      w.Key("message"); w.String(p.Line());
      w.End();
    }
    w.End();
    w.End();
    std::printf("%s\n", w.str().c_str());
  } else {
    for (const store::FsckProblem& p : r.problems) {
      std::printf("%s\n", p.Line().c_str());
    }
    std::fflush(stdout);
    const double mib_s =
        seconds > 0 ? static_cast<double>(r.object_bytes) / 1048576.0 / seconds
                    : 0;
    std::fprintf(stderr,
                 "sealfs fsck: %llu objects (%s), %llu trees, %llu tags "
                 "checked in %.2f s (%.0f MiB/s); %zu problems, %llu "
                 "quarantined, %llu trees rebuilt\n",
                 static_cast<unsigned long long>(r.objects),
                 HumanBytes(r.object_bytes).c_str(),
                 static_cast<unsigned long long>(r.trees),
                 static_cast<unsigned long long>(r.tags), seconds, mib_s,
                 r.problems.size(), static_cast<unsigned long long>(r.quarantined),
                 static_cast<unsigned long long>(r.repaired));
  }
  return r.problems.empty() ? kExitOk : kExitFailure;
}

}  // namespace sealfs::tools
