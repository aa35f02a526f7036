// SPDX-License-Identifier: Apache-2.0
// `sealfs push`: uploads an image and its objects to an OCI registry
// (docs/FORMAT.md#registry), packing the objects into a few large blobs.
#include <getopt.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fs/remote/pull.h"
#include "fs/remote/push.h"
#include "fs/remote/registry_client.h"
#include "fs/remote/registry_ref.h"
#include "fs/util/io.h"
#include "fs/util/progress.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/store.h"
#include "tools/cli.h"
#include "tools/command.h"
#include "tools/registry_cli.h"
#include "tools/store_cli.h"

namespace sealfs::tools {
namespace {

constexpr char kCmd[] = "push";

void PrintHelp() {
  std::printf(
      "Usage: sealfs push --to docker://HOST[:PORT]/REPO[:TAG] [OPTIONS] "
      "IMAGE\n"
      "Upload the image file IMAGE (or the image tagged IMAGE in the store)\n"
      "and every object it references to an OCI registry, as one OCI\n"
      "manifest (artifactType application/vnd.sealfs.image.v1) whose layers\n"
      "are the image file and a few packs of objects, each with an index.\n"
      "Blobs the repository has already are not sent again; each object is\n"
      "re-hashed as it is packed, so a corrupt store is refused rather than\n"
      "published. The image's signature travels inside it: a registry is\n"
      "trusted with nothing. TAG defaults to 'latest'.\n"
      "\n"
      "Options:\n"
      "  --to REF           where to push (docker://HOST[:PORT]/REPO[:TAG])\n"
      "  --store STORE      object store (default: $SEALFS_STORE, else %s)\n"
      "  --base REF         reuse the packs of this earlier image (same\n"
      "                     registry) for the objects the two share, so only\n"
      "                     new objects are uploaded; packs in another\n"
      "                     repository are mounted, not copied\n"
      "%s"
      "  --jobs N           uploads at once, 1..32 (default 4)\n"
      "  --json             print the report as JSON on stdout\n"
      "  -h, --help         show this help\n"
      "\n"
      "Exit status: 0 pushed, 1 failed (one line on stderr), 2 usage error.\n",
      kDefaultStore, kRegistryFlagsHelp);
}

}  // namespace

int CmdPush(int argc, char** argv) {
  enum { kTo = 256, kStore, kBase, kJobs, kJson };
  static const option kOptions[] = {
      {"to", required_argument, nullptr, kTo},
      {"store", required_argument, nullptr, kStore},
      {"base", required_argument, nullptr, kBase},
      {"jobs", required_argument, nullptr, kJobs},
      {"json", no_argument, nullptr, kJson},
      SEALFS_REGISTRY_OPTIONS,
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  std::string to;
  std::string store_path = DefaultStore();
  remote::PushOptions options;
  bool json = false;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "h", kOptions, nullptr)) != -1) {
    std::string error;
    switch (c) {
      case kTo:
        to = optarg;
        break;
      case kStore:
        store_path = optarg;
        break;
      case kBase:
        options.base = optarg;
        break;
      case kJobs: {
        char* end = nullptr;
        const unsigned long n = std::strtoul(optarg, &end, 10);
        if (*optarg < '0' || *optarg > '9' || *end != '\0' || n < 1 || n > 32) {
          return UsageError(kCmd, "--jobs needs a number from 1 to 32");
        }
        options.parallel = static_cast<unsigned>(n);
        break;
      }
      case kJson:
        json = true;
        break;
      case kTlsVerify:
      case kCertDir:
      case kAuthfile:
        if (!ApplyRegistryFlag(c, optarg, &options.registry, &error)) {
          return UsageError(kCmd, error);
        }
        break;
      case 'h':
        PrintHelp();
        return kExitOk;
      default:
        return UsageError(kCmd, std::string("unknown or incomplete option '") +
                                    argv[optind - 1] + "'");
    }
  }
  if (to.empty()) return UsageError(kCmd, "--to docker://... is required");
  if (argc - optind != 1) return UsageError(kCmd, "expected one IMAGE");
  Result<remote::RegistryRef> ref = remote::ParseRegistryRef(to, false);
  if (!ref.ok()) return UsageError(kCmd, ref.status().context());
  if (!ref->digest.empty()) {
    return UsageError(kCmd, "--to names a tag, not a digest");
  }
  if (ref->tag.empty()) ref->tag = "latest";
  if (!options.base.empty()) {
    Result<remote::RegistryRef> base =
        remote::ParseRegistryRef(options.base, true);
    if (!base.ok()) return UsageError(kCmd, base.status().context());
  }

  Result<std::shared_ptr<Store>> store =
      Store::Open(store_path, Store::Mode::kReadOnly);
  if (!store.ok()) return Fail(kCmd, store.status().WithPrefix("store"));
  // A path that exists is an image file; otherwise a tag in the store.
  std::string image_path = argv[optind];
  struct stat st;
  if (::stat(image_path.c_str(), &st) != 0 &&
      image_path.find('/') == std::string::npos) {
    image_path = store_path + "/images/" + image_path;
  }
  Result<std::vector<uint8_t>> image = ReadFileBytes(image_path);
  if (!image.ok()) return Fail(kCmd, image.status());
  Result<std::shared_ptr<const Manifest>> manifest =
      Manifest::FromBytes(*image);
  if (!manifest.ok())
    return Fail(kCmd, manifest.status().WithPrefix(image_path));

  Result<std::shared_ptr<remote::RegistryClient>> client =
      remote::RegistryClient::Open(*ref, options.registry);
  if (!client.ok()) return Fail(kCmd, client.status());
  const auto start = std::chrono::steady_clock::now();
  uint64_t total = 0;
  Result<std::vector<remote::PullItem>> items = remote::ObjectsOf(**manifest);
  if (!items.ok()) return Fail(kCmd, items.status());
  for (const remote::PullItem& item : *items) total += item.size;
  Result<remote::PushReport> report = [&] {
    // Each byte is counted twice: hashed, then uploaded.
    Progress progress("push", 2 * total, Progress::Unit::kBytes);
    return remote::PushImage(**client, ref->tag, *image, **manifest, *store,
                             options, &progress);
  }();
  if (!report.ok()) return Fail(kCmd, report.status());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (json) {
    JsonWriter w;
    w.BeginObject();
    w.Key("reference");
    w.String(ref->ToString());
    w.Key("manifest_digest");
    w.String(report->manifest_digest);
    w.Key("identity");
    w.String((*manifest)->identity().ToString());
    w.Key("objects");
    w.Uint(report->objects);
    w.Key("packs");
    w.Uint(report->packs);
    w.Key("packs_reused");
    w.Uint(report->packs_reused);
    w.Key("blobs_uploaded");
    w.Uint(report->blobs_uploaded);
    w.Key("blobs_present");
    w.Uint(report->blobs_present);
    w.Key("blobs_mounted");
    w.Uint(report->blobs_mounted);
    w.Key("bytes_uploaded");
    w.Uint(report->bytes_uploaded);
    w.Key("milliseconds");
    w.Uint(static_cast<uint64_t>(seconds * 1000));
    w.End();
    std::printf("%s\n", w.str().c_str());
  }
  std::fprintf(stderr,
               "sealfs %s: %s: %llu objects in %llu packs (%llu reused); "
               "%llu blobs uploaded (%s), %llu present, %llu mounted; "
               "%.2f s\n",
               kCmd, ref->ToString().c_str(),
               static_cast<unsigned long long>(report->objects),
               static_cast<unsigned long long>(report->packs),
               static_cast<unsigned long long>(report->packs_reused),
               static_cast<unsigned long long>(report->blobs_uploaded),
               HumanBytes(report->bytes_uploaded).c_str(),
               static_cast<unsigned long long>(report->blobs_present),
               static_cast<unsigned long long>(report->blobs_mounted), seconds);
  return kExitOk;
}

}  // namespace sealfs::tools
