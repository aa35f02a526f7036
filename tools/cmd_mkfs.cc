// SPDX-License-Identifier: Apache-2.0
// `sealfs mkfs`: builds an image (manifest, optionally signed) from a
// directory tree, or from tar layers (--from-tar), and adds every file's
// content to the object store.
#include <getopt.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "fs/mkfs/mkfs.h"
#include "fs/mkfs/mkfs_dump.h"
#include "fs/mkfs/oci_import.h"
#include "fs/mkfs/tar_import.h"
#include "fs/store/tags.h"
#include "fs/util/io.h"
#include "sealfs/format.h"
#include "tools/cli.h"
#include "tools/command.h"
#include "tools/oci_source_cli.h"
#include "tools/registry_cli.h"
#include "tools/store_cli.h"

namespace sealfs::tools {
namespace {

constexpr char kCmd[] = "mkfs";

void PrintHelp() {
  std::printf(
      "Usage: sealfs mkfs [OPTIONS] SOURCE IMAGE\n"
      "       sealfs mkfs [OPTIONS] --from-dump DUMP IMAGE\n"
      "       sealfs mkfs [OPTIONS] --from-tar LAYER [--from-tar LAYER...] "
      "IMAGE\n"
      "       sealfs mkfs [OPTIONS] --from-oci SOURCE IMAGE\n"
      "Build the image IMAGE from the directory tree SOURCE: every regular\n"
      "file's content goes into the object store under its fs-verity digest,\n"
      "all metadata into the manifest. Prints the image identity on stdout.\n"
      "With --from-dump, build IMAGE from a composefs dump file instead\n"
      "(see sealfs-dump(1)): the objects it names must be in the store;\n"
      "CONTENT too long to inline is stored as an object.\n"
      "With --from-tar, build IMAGE from OCI layers (tar, pax or GNU tar;\n"
      "plain, gzip, zstd, xz or bzip2; '-' is stdin) applied in order with\n"
      "whiteouts, streaming their files into the store.\n"
      "With --from-oci, build IMAGE from a container image: SOURCE is\n"
      "oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker://HOST/REPO[:TAG].\n"
      "Every blob is checked against its digest and every layer against\n"
      "the config's diff_ids; the image keeps the config (see\n"
      "'sealfs inspect --oci-config').\n"
      "\n"
      "Options:\n"
      "  --store STORE      object store (default: $SEALFS_STORE, else %s;\n"
      "                     created if missing)\n"
      "  --key KEYFILE      sign the image with this Ed25519 private key\n"
      "  --epoch SECONDS    clamp mtimes later than SECONDS (default:\n"
      "                     $SOURCE_DATE_EPOCH when set)\n"
      "  --threads N        hashing threads (default: online CPUs)\n"
      "  --inline-max BYTES inline files of at most BYTES bytes in the\n"
      "                     manifest (default 64, at most %u)\n"
      "  --force            replace an existing IMAGE\n"
      "  --from-dump DUMP   read the tree from composefs dump DUMP ('-' for\n"
      "                     standard input); SOURCE is not given\n"
      "  --allow-missing    with --from-dump: build even if objects are\n"
      "                     missing from the store (reads of those files fail\n"
      "                     until the objects are added)\n"
      "  --basedir DIR      with --from-dump: read PAYLOAD files that have no\n"
      "                     DIGEST from DIR/PAYLOAD, compute their digests\n"
      "                     and add them to the store\n"
      "  --from-tar LAYER   read the tree from this tar layer ('-' for\n"
      "                     standard input; repeat for more, lowest first)\n"
      "  --from-oci SOURCE  read the tree from the container image SOURCE\n"
      "  --platform OS/ARCH[/VARIANT]\n"
      "                     with --from-oci: the image of a multi-platform\n"
      "                     index to build (default: this host's, %s)\n"
      "  --tag NAME         also record the image as STORE/images/NAME, a\n"
      "                     root for 'sealfs gc' (repeatable)\n"
      "  -h, --help         show this help\n"
      "\n"
      "Registry options (with --from-oci docker://...):\n"
      "%s"
      "\n"
      "Exit status: 0 success, 1 failure, 2 usage error.\n",
      kDefaultStore, kMaxInlineSize, mkfs::HostPlatform().ToString().c_str(),
      kRegistryFlagsHelp);
}

// Parses a whole decimal integer in [min, max].
bool ParseInt(const char* text, long long min, long long max, long long* out) {
  if (text == nullptr || *text == '\0') return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max) return false;
  *out = v;
  return true;
}

// Builds from a composefs dump: no hashing, the objects are already stored.
int MkfsFromDump(const mkfs::DumpMkfsOptions& options) {
  Result<mkfs::DumpMkfsReport> report = mkfs::BuildImageFromDump(options);
  if (!report.ok()) return Fail(kCmd, report.status());
  std::printf("%s\n", report->identity.ToString().c_str());
  std::fflush(stdout);
  std::fprintf(stderr,
               "sealfs mkfs: %llu inodes, %llu stored files (%s), image %s\n",
               static_cast<unsigned long long>(report->inodes),
               static_cast<unsigned long long>(report->files),
               HumanBytes(report->file_bytes).c_str(),
               HumanBytes(report->image_bytes).c_str());
  if (report->objects_missing > 0) {
    std::fprintf(stderr,
                 "sealfs mkfs: warning: %llu objects are missing from the "
                 "store; reads of their files fail until they are added\n",
                 static_cast<unsigned long long>(report->objects_missing));
  }
  return kExitOk;
}

}  // namespace

int CmdMkfs(int argc, char** argv) {
  enum {
    kStore = 256,
    kKey,
    kEpoch,
    kThreads,
    kInlineMax,
    kForce,
    kFromDump,
    kAllowMissing,
    kFromTar,
    kTag,
    kFromOci,
    kPlatform,
    kBasedir,
  };
  static const option kOptions[] = {
      {"store", required_argument, nullptr, kStore},
      {"key", required_argument, nullptr, kKey},
      {"epoch", required_argument, nullptr, kEpoch},
      {"threads", required_argument, nullptr, kThreads},
      {"inline-max", required_argument, nullptr, kInlineMax},
      {"force", no_argument, nullptr, kForce},
      {"from-dump", required_argument, nullptr, kFromDump},
      {"allow-missing", no_argument, nullptr, kAllowMissing},
      {"from-tar", required_argument, nullptr, kFromTar},
      {"tag", required_argument, nullptr, kTag},
      {"from-oci", required_argument, nullptr, kFromOci},
      {"platform", required_argument, nullptr, kPlatform},
      {"basedir", required_argument, nullptr, kBasedir},
      SEALFS_REGISTRY_OPTIONS,
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  mkfs::MkfsOptions options;
  std::string from_dump;
  bool allow_missing = false;
  std::vector<std::string> layers;
  std::string from_oci;
  std::string basedir;
  mkfs::OciImportOptions oci_options;
  oci_options.platform = mkfs::HostPlatform();
  remote::RegistryOptions registry;
  bool registry_flags = false;
  options.store = DefaultStore();
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  options.threads = cpus > 0 ? static_cast<int>(cpus) : 1;
  long long value = 0;
  if (const char* sde = std::getenv("SOURCE_DATE_EPOCH");
      sde != nullptr && *sde != '\0') {
    if (!ParseInt(sde, INT64_MIN, INT64_MAX, &value)) {
      return UsageError(kCmd, "SOURCE_DATE_EPOCH is not an integer");
    }
    options.epoch = value;
  }

  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "h", kOptions, nullptr)) != -1) {
    switch (c) {
      case kStore:
        options.store = optarg;
        break;
      case kKey:
        options.key_path = optarg;
        break;
      case kEpoch:
        if (!ParseInt(optarg, INT64_MIN, INT64_MAX, &value)) {
          return UsageError(kCmd, "--epoch needs an integer number of seconds");
        }
        options.epoch = value;
        break;
      case kThreads:
        if (!ParseInt(optarg, 1, 1024, &value)) {
          return UsageError(kCmd, "--threads needs a number from 1 to 1024");
        }
        options.threads = static_cast<int>(value);
        break;
      case kInlineMax:
        if (!ParseInt(optarg, 0, kMaxInlineSize, &value)) {
          return UsageError(kCmd, "--inline-max needs a number from 0 to " +
                                      std::to_string(kMaxInlineSize));
        }
        options.inline_max = static_cast<uint32_t>(value);
        break;
      case kForce:
        options.force = true;
        break;
      case kFromDump:
        from_dump = optarg;
        break;
      case kAllowMissing:
        allow_missing = true;
        break;
      case kFromTar:
        layers.emplace_back(optarg);
        break;
      case kTag:
        if (Status s = store::CheckTagName(optarg); !s.ok()) {
          return UsageError(kCmd, s.context());
        }
        options.tags.push_back(optarg);
        break;
      case kFromOci:
        from_oci = optarg;
        break;
      case kBasedir:
        basedir = optarg;
        break;
      case kPlatform: {
        Result<mkfs::Platform> p = mkfs::ParsePlatform(optarg);
        if (!p.ok()) return UsageError(kCmd, p.status().context());
        oci_options.platform = *p;
        oci_options.platform_given = true;
        break;
      }
      case kTlsVerify:
      case kCertDir:
      case kAuthfile: {
        std::string error;
        if (!ApplyRegistryFlag(c, optarg, &registry, &error)) {
          return UsageError(kCmd, error);
        }
        registry_flags = true;
        break;
      }
      case 'h':
        PrintHelp();
        return kExitOk;
      default:
        return UsageError(kCmd, std::string("unknown or incomplete option '") +
                                    argv[optind - 1] + "'");
    }
  }
  if (allow_missing && from_dump.empty()) {
    return UsageError(kCmd, "--allow-missing needs --from-dump");
  }
  if (!basedir.empty() && from_dump.empty()) {
    return UsageError(kCmd, "--basedir needs --from-dump");
  }
  if ((!from_dump.empty()) + (!layers.empty()) + (!from_oci.empty()) > 1) {
    return UsageError(kCmd,
                      "--from-dump, --from-tar and --from-oci exclude each "
                      "other");
  }
  if (oci_options.platform_given && from_oci.empty()) {
    return UsageError(kCmd, "--platform needs --from-oci");
  }
  if (registry_flags && !from_oci.starts_with("docker://")) {
    return UsageError(kCmd,
                      "--tls-verify, --cert-dir and --authfile need "
                      "--from-oci docker://...");
  }
  if (!from_dump.empty()) {
    // A dump build writes no objects and takes no store lock; tagging it
    // here could race gc. `sealfs tag` afterwards takes the lock.
    if (!options.tags.empty()) {
      return UsageError(kCmd,
                        "--tag does not apply to --from-dump; run "
                        "'sealfs tag' on the image");
    }
    if (argc - optind != 1) {
      return UsageError(kCmd, "expected IMAGE only with --from-dump");
    }
    mkfs::DumpMkfsOptions dump_options;
    options.image = argv[optind];
    dump_options.output = options;
    dump_options.dump_path = from_dump;
    dump_options.allow_missing = allow_missing;
    dump_options.basedir = basedir;
    return MkfsFromDump(dump_options);
  }
  if (!layers.empty() || !from_oci.empty()) {
    if (argc - optind != 1) {
      return UsageError(kCmd, layers.empty()
                                  ? "with --from-oci, expected only IMAGE"
                                  : "with --from-tar, expected only IMAGE");
    }
    options.image = argv[optind];
  } else if (argc - optind != 2) {
    return UsageError(kCmd, "expected SOURCE and IMAGE");
  } else {
    options.source = argv[optind];
    options.image = argv[optind + 1];
  }
  options.progress = isatty(STDERR_FILENO) == 1;
  // The walk holds one fd per directory level and the store writer batches
  // temp files by the fd limit.
  UseWholeFdLimit();

  auto start = std::chrono::steady_clock::now();
  Result<mkfs::MkfsReport> report = Status();
  if (!from_oci.empty()) {
    Result<std::shared_ptr<OciImageSource>> source =
        OpenOciSource(from_oci, oci_options.platform, registry);
    if (!source.ok()) return Fail(kCmd, source.status());
    report = mkfs::BuildImageFromOci(std::move(*source), oci_options, options);
  } else {
    report = layers.empty() ? mkfs::BuildImage(options)
                            : mkfs::BuildImageFromTar(layers, options);
  }
  if (!report.ok()) return Fail(kCmd, report.status());
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf("%s\n", report->identity.ToString().c_str());
  std::fflush(stdout);
  std::fprintf(stderr,
               "sealfs mkfs: %llu inodes, %llu files (%s), %llu new objects "
               "(%s written), image %s, %.2f s\n",
               static_cast<unsigned long long>(report->inodes),
               static_cast<unsigned long long>(report->files),
               HumanBytes(report->file_bytes).c_str(),
               static_cast<unsigned long long>(report->objects_written),
               HumanBytes(report->bytes_written).c_str(),
               HumanBytes(report->image_bytes).c_str(), seconds);
  return kExitOk;
}

}  // namespace sealfs::tools
