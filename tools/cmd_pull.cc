// SPDX-License-Identifier: Apache-2.0
// `sealfs pull`: copies the objects of an image (a local image file, or a
// tag fetched from the source) that a store lacks from another store, a
// directory or an HTTP(S) server, verifying each before it is visible.
#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fs/core/store_io.h"
#include "fs/core/trust.h"
#include "fs/remote/object_source.h"
#include "fs/remote/pull.h"
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

constexpr char kCmd[] = "pull";

void PrintHelp() {
  std::printf(
      "Usage: sealfs pull --from SOURCE [OPTIONS] IMAGE|TAG\n"
      "Copy into the store every object of an image that it lacks, from\n"
      "SOURCE: another store directory, an http(s):// URL serving a store's\n"
      "layout, or docker://HOST[:PORT]/REPO[:TAG], an OCI registry where\n"
      "'sealfs push' put the image. Each object is verified against the\n"
      "digest in the manifest before it becomes visible; nothing else from\n"
      "SOURCE is trusted. Without --pubkey, --keyring or --digest the image\n"
      "itself is only checked for being well formed, not for who made it.\n"
      "IMAGE is a local image file; TAG is fetched from SOURCE/images/TAG\n"
      "(from a registry: the image tagged TAG), validated, and written to\n"
      "STORE/images/TAG once all its objects are in. Re-running an\n"
      "interrupted pull fetches only what is still missing.\n"
      "\n"
      "Options:\n"
      "  --from SOURCE      store directory, http(s):// URL or docker:// ref\n"
      "  --store STORE      object store (default: $SEALFS_STORE, else %s;\n"
      "                     created if missing)\n"
      "  --pubkey FILE      trust images signed by this Ed25519 public key\n"
      "                     (may repeat); with it, --keyring or --digest, an\n"
      "                     image that is not trusted is refused before any\n"
      "                     object is fetched\n"
      "  --keyring DIR      trust every *.pub key in DIR\n"
      "  --digest sha256:HEX  accept only the image with this identity\n"
      "  --jobs N           connections to an HTTP source, 1..64 (default 8;\n"
      "                     each carries many transfers in turn, or at once\n"
      "                     over HTTP/2)\n"
      "  --verify           re-hash objects already in the store; quarantine\n"
      "                     and re-fetch corrupt ones (repairs a store)\n"
      "%s"
      "  --timeout SECONDS  connect and stall time-out per transfer\n"
      "                     (default 10; a transfer below 1 KiB/s that long\n"
      "                     is aborted)\n"
      "  --json             print the report as JSON on stdout\n"
      "  -h, --help         show this help\n"
      "\n"
      "Exit status: 0 every object is in the store, 1 some object failed\n"
      "(each listed on stderr) or the image is not trusted, 2 usage error or\n"
      "the pull could not start.\n",
      kDefaultStore, kRegistryFlagsHelp);
}

bool ParseUint(const char* text, unsigned long min, unsigned long max,
               unsigned long* out) {
  if (text == nullptr || *text < '0' || *text > '9') return false;
  char* end = nullptr;
  errno = 0;
  unsigned long v = std::strtoul(text, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max) return false;
  *out = v;
  return true;
}

std::string Mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MiB", bytes / 1048576.0);
  return buf;
}

// "could not start": one line on stderr, exit 2.
int CannotStart(const Status& status) {
  std::fprintf(stderr, "sealfs %s: %s\n", kCmd, status.ToString().c_str());
  return kExitUsage;
}

// Writes STORE/images/NAME atomically (temp, fsync, rename).
Status WriteImage(const Store& store, const std::string& name,
                  const std::vector<uint8_t>& bytes) {
  if (::mkdirat(store.dir_fd(), "images", 0755) != 0 && errno != EEXIST) {
    return ErrnoStatus(store.path() + "/images: mkdir");
  }
  // images/ must be a real directory of the store, not a symlink out of it.
  if (!OpenBeneath(store.dir_fd(), "images", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
           .ok()) {
    return Status::Corrupt(store.path() + "/images: not a directory");
  }
  return WriteFileAtomic(store.path() + "/images/" + name, bytes, 0644);
}

}  // namespace

int CmdPull(int argc, char** argv) {
  enum {
    kFrom = 256,
    kStore,
    kJobs,
    kVerify,
    kTimeout,
    kJson,
    kPubkey,
    kKeyring,
    kDigest
  };
  static const option kOptions[] = {
      {"from", required_argument, nullptr, kFrom},
      {"store", required_argument, nullptr, kStore},
      {"jobs", required_argument, nullptr, kJobs},
      {"verify", no_argument, nullptr, kVerify},
      {"timeout", required_argument, nullptr, kTimeout},
      {"json", no_argument, nullptr, kJson},
      {"pubkey", required_argument, nullptr, kPubkey},
      {"keyring", required_argument, nullptr, kKeyring},
      {"digest", required_argument, nullptr, kDigest},
      SEALFS_REGISTRY_OPTIONS,
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  std::string from;
  std::string store_path = DefaultStore();
  remote::PullOptions options;
  options.format_record = [](const store::QuarantineRecord& r) {
    return QuarantineRecordJson(r, "sealfs pull --verify");
  };
  remote::SourceOptions source_options;
  TrustPolicy trust;
  trust.how_to_trust = "--pubkey, --keyring or --digest";
  bool json = false;
  unsigned long value = 0;

  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "h", kOptions, nullptr)) != -1) {
    switch (c) {
      case kFrom:
        from = optarg;
        break;
      case kStore:
        store_path = optarg;
        break;
      case kJobs:
        if (!ParseUint(optarg, 1, 64, &value)) {
          return UsageError(kCmd, "--jobs needs a number from 1 to 64");
        }
        source_options.connections = static_cast<unsigned>(value);
        break;
      case kVerify:
        options.verify = true;
        break;
      case kTimeout:
        if (!ParseUint(optarg, 1, 3600, &value)) {
          return UsageError(kCmd, "--timeout needs seconds from 1 to 3600");
        }
        source_options.limits.connect_timeout_s = static_cast<unsigned>(value);
        source_options.limits.stall_timeout_s = static_cast<unsigned>(value);
        break;
      case kJson:
        json = true;
        break;
      case kPubkey:
        trust.pubkeys.emplace_back(optarg);
        break;
      case kKeyring:
        trust.keyring = optarg;
        break;
      case kDigest: {
        Result<Digest> d = Digest::Parse(optarg);
        if (!d.ok()) {
          return UsageError(kCmd, "--digest needs sha256:<64 hex>");
        }
        trust.digest = *d;
        break;
      }
      case kTlsVerify:
      case kCertDir:
      case kAuthfile: {
        remote::RegistryOptions registry;
        registry.tls_verify = source_options.tls_verify;
        registry.cert_dir = source_options.cert_dir;
        registry.authfile = source_options.authfile;
        std::string error;
        if (!ApplyRegistryFlag(c, optarg, &registry, &error)) {
          return UsageError(kCmd, error);
        }
        source_options.tls_verify = registry.tls_verify;
        source_options.cert_dir = registry.cert_dir;
        source_options.authfile = registry.authfile;
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
  if (from.empty()) return UsageError(kCmd, "--from SOURCE is required");
  if (argc - optind != 1) return UsageError(kCmd, "expected one IMAGE or TAG");
  const std::string target = argv[optind];

  // A path that exists is an image file; otherwise a tag at the source.
  struct stat st;
  const bool is_file = ::stat(target.c_str(), &st) == 0;
  if (!is_file && !remote::IsValidImageName(target)) {
    return UsageError(kCmd, "'" + target +
                                "' is neither an image file nor a tag name "
                                "([A-Za-z0-9._-], not starting with '.')");
  }
  std::string tag = is_file ? "" : target;
  // A registry's objects are in the packs of one image: the tag's, unless
  // --from names one.
  std::string spec = from;
  if (remote::IsDockerRef(from)) {
    Result<remote::RegistryRef> ref = remote::ParseRegistryRef(from, false);
    if (!ref.ok()) return UsageError(kCmd, ref.status().context());
    if (ref->tag.empty() && ref->digest.empty()) {
      if (tag.empty()) {
        return UsageError(
            kCmd, "--from " + from + " needs :TAG to pull a local image file");
      }
      spec += ":" + tag;
    }
  }
  std::vector<uint8_t> image_bytes;
  Result<std::unique_ptr<remote::ObjectSource>> opened =
      remote::OpenObjectSourceAndImage(
          spec, source_options,
          remote::IsDockerRef(from) && !tag.empty() ? &image_bytes : nullptr);
  if (!opened.ok()) return CannotStart(opened.status().WithPrefix("source"));
  std::shared_ptr<remote::ObjectSource> source = std::move(*opened);
  if (is_file) {
    Result<std::vector<uint8_t>> bytes = ReadFileBytes(target);
    if (!bytes.ok()) return CannotStart(bytes.status().WithPrefix(target));
    image_bytes = std::move(*bytes);
  } else if (image_bytes.empty()) {
    Result<std::vector<uint8_t>> bytes = source->ReadImage(tag);
    if (!bytes.ok()) return CannotStart(bytes.status());
    image_bytes = std::move(*bytes);
  }
  // Validated, and trusted if asked, before anything is fetched: a hostile
  // image never gets to name objects.
  const std::string label = tag.empty() ? target : "image " + tag;
  Result<std::shared_ptr<const Manifest>> manifest =
      Manifest::FromBytes(image_bytes);
  if (!manifest.ok()) return CannotStart(manifest.status().WithPrefix(label));
  if (trust.any()) {
    std::string unused;
    Status trusted =
        CheckTrust(**manifest, label, trust, LoadTrustedKeys(trust), &unused);
    if (!trusted.ok()) {
      // Refusals are whole sentences; a key file that cannot be read is not.
      const bool refused =
          trusted.err() == EKEYREJECTED || trusted.err() == ENODATA;
      std::fprintf(
          stderr, "sealfs %s: %s\n", kCmd,
          refused ? trusted.context().c_str() : trusted.ToString().c_str());
      return kExitFailure;
    }
  }
  Result<std::vector<remote::PullItem>> items = remote::ObjectsOf(**manifest);
  if (!items.ok()) return CannotStart(items.status());
  Result<std::shared_ptr<Store>> store =
      Store::Open(store_path, Store::Mode::kCreate);
  if (!store.ok()) return CannotStart(store.status().WithPrefix("store"));

  uint64_t total_bytes = 0;
  for (const remote::PullItem& item : *items) total_bytes += item.size;
  const auto start = std::chrono::steady_clock::now();
  Result<remote::PullReport> report = [&] {
    Progress progress("pull", total_bytes, Progress::Unit::kBytes);
    return remote::PullObjects(source, *store, *items, options, &progress);
  }();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (!report.ok()) return Fail(kCmd, report.status());

  for (const remote::PullFailure& f : report->failures) {
    std::fprintf(stderr, "sealfs %s: %s\n", kCmd, f.reason.c_str());
  }
  bool tag_written = false;
  Status tag_status;
  if (!tag.empty() && report->failures.empty()) {
    tag_status = WriteImage(**store, tag, image_bytes);
    tag_written = tag_status.ok();
  }
  const double rate = seconds > 0 ? report->fetched_bytes / seconds : 0;
  if (json) {
    JsonWriter w;
    w.BeginObject();
    w.Key("image");
    w.String(target);
    w.Key("identity");
    w.String((*manifest)->identity().ToString());
    w.Key("source");
    w.String(from);
    w.Key("objects");
    w.Uint(report->objects);
    w.Key("fetched");
    w.Uint(report->fetched);
    w.Key("fetched_bytes");
    w.Uint(report->fetched_bytes);
    w.Key("skipped");
    w.Uint(report->skipped);
    w.Key("skipped_bytes");
    w.Uint(report->skipped_bytes);
    w.Key("repaired");
    w.Uint(report->repaired);
    w.Key("trees_fixed");
    w.Uint(report->trees_fixed);
    w.Key("failed");
    w.Uint(report->failures.size());
    w.Key("failures");
    w.BeginArray();
    for (const remote::PullFailure& f : report->failures) {
      w.BeginObject();
      w.Key("digest");
      w.String(f.digest.ToString());
      w.Key("reason");
      w.String(f.reason);
      w.End();
    }
    w.End();
    w.Key("tag_written");
    w.Bool(tag_written);
    w.Key("milliseconds");
    w.Uint(static_cast<uint64_t>(seconds * 1000));
    w.End();
    std::printf("%s\n", w.str().c_str());
  }
  std::fprintf(
      stderr,
      "sealfs %s: %s: %llu objects: %llu fetched (%s), %llu skipped (%s), "
      "%llu repaired, %zu failed; %.2f s, %s/s\n",
      kCmd, target.c_str(), static_cast<unsigned long long>(report->objects),
      static_cast<unsigned long long>(report->fetched),
      Mib(report->fetched_bytes).c_str(),
      static_cast<unsigned long long>(report->skipped),
      Mib(report->skipped_bytes).c_str(),
      static_cast<unsigned long long>(report->repaired),
      report->failures.size(), seconds,
      Mib(static_cast<uint64_t>(rate)).c_str());
  if (!tag_status.ok())
    return Fail(kCmd, tag_status.WithPrefix("image " + tag));
  return report->failures.empty() ? kExitOk : kExitFailure;
}

}  // namespace sealfs::tools
