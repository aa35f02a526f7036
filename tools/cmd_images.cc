// SPDX-License-Identifier: Apache-2.0
// `sealfs images`: one row per tag of a store: identity, signing keys, image
// size, bytes of objects it references, and bytes no other tag references.
#include <getopt.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include "fs/store/tags.h"
#include "sealfs/signature.h"
#include "sealfs/store.h"
#include "tools/cli.h"
#include "tools/command.h"
#include "tools/store_cli.h"

namespace sealfs::tools {
namespace {

constexpr char kCmd[] = "images";

void PrintHelp() {
  std::printf(
      "Usage: sealfs images [--store STORE] [--json]\n"
      "List the tagged images of a store (STORE/images/NAME): name,\n"
      "identity, signing key ids ('unsigned' if none), image size, number\n"
      "and total bytes of the objects it references, and the bytes of those\n"
      "no other tag references (what deleting the tag and running gc would\n"
      "free). A tag that is not a valid image is listed as broken.\n"
      "\n"
      "Options:\n"
      "  --store STORE  object store (default: $SEALFS_STORE, else\n"
      "                 /var/lib/sealfs/store)\n"
      "  --json         print one JSON object\n"
      "  -h, --help     show this help\n"
      "\n"
      "Exit status: 0 success, 1 failure or a broken tag, 2 usage error.\n");
}

struct Row {
  const store::Tag* tag = nullptr;
  std::string error;  // empty unless broken
  std::vector<std::string> keys;
  std::vector<store::ObjectRef> refs;
  uint64_t object_bytes = 0;
  uint64_t unique_bytes = 0;
};

}  // namespace

int CmdImages(int argc, char** argv) {
  enum { kStore = 256, kJson };
  static const option kOptions[] = {
      {"store", required_argument, nullptr, kStore},
      {"json", no_argument, nullptr, kJson},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  std::string store_path = DefaultStore();
  bool json = false;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "h", kOptions, nullptr)) != -1) {
    switch (c) {
      case kStore: store_path = optarg; break;
      case kJson: json = true; break;
      case 'h': PrintHelp(); return kExitOk;
      default:
        return UsageError(kCmd, std::string("unknown or incomplete option '") +
                                    argv[optind - 1] + "'");
    }
  }
  if (optind != argc) return UsageError(kCmd, "unexpected argument");

  Result<std::shared_ptr<Store>> opened =
      Store::Open(store_path, Store::Mode::kReadOnly);
  if (!opened.ok()) return Fail(kCmd, opened.status().WithPrefix("store"));
  Result<std::vector<store::Tag>> tags = store::ListTags(**opened);
  if (!tags.ok()) return Fail(kCmd, tags.status().WithPrefix(store_path));

  std::vector<Row> rows;
  std::unordered_map<Digest, int, DigestHash> users;  // tags per object
  for (const store::Tag& tag : *tags) {
    Row row;
    row.tag = &tag;
    if (!tag.status.ok()) {
      row.error = tag.status.ToString();
    } else {
      Result<std::vector<store::ObjectRef>> refs =
          store::ImageObjects(*tag.manifest);
      Result<std::vector<Signature>> sigs =
          ParseSignatureBlock(tag.manifest->trailer_bytes());
      if (!refs.ok()) {
        row.error = refs.status().ToString();
      } else if (!sigs.ok()) {
        row.error = sigs.status().ToString();
      } else {
        row.refs = std::move(*refs);
        for (const Signature& s : *sigs) row.keys.push_back(s.key.KeyId());
        for (const store::ObjectRef& ref : row.refs) {
          ++users[ref.digest];
          row.object_bytes += ref.size;
        }
      }
    }
    rows.push_back(std::move(row));
  }
  bool broken = false;
  for (Row& row : rows) {
    if (!row.error.empty()) broken = true;
    for (const store::ObjectRef& ref : row.refs) {
      if (users[ref.digest] == 1) row.unique_bytes += ref.size;
    }
  }

  if (json) {
    JsonWriter w;
    w.BeginObject();
    w.Key("store"); w.String(store_path);
    w.Key("images");
    w.BeginArray();
    for (const Row& row : rows) {
      w.BeginObject();
      w.Key("name"); w.String(row.tag->name);
      w.Key("broken"); w.Bool(!row.error.empty());
      if (!row.error.empty()) {
        w.Key("error"); w.String(row.error);
      } else {
        w.Key("identity"); w.String(row.tag->manifest->identity().ToString());
        w.Key("keys");
        w.BeginArray();
        for (const std::string& k : row.keys) w.String(k);
        w.End();
        w.Key("image_size"); w.Uint(row.tag->file_size);
        w.Key("objects"); w.Uint(row.refs.size());
        w.Key("object_bytes"); w.Uint(row.object_bytes);
        w.Key("unique_bytes"); w.Uint(row.unique_bytes);
      }
      w.End();
    }
    w.End();
    w.End();
    std::printf("%s\n", w.str().c_str());
    return broken ? kExitFailure : kExitOk;
  }

  int width = 4;
  for (const Row& row : rows) {
    width = std::max(width, static_cast<int>(row.tag->name.size()));
  }
  std::printf("%-*s  %-71s  %10s  %8s  %10s  %10s  %s\n", width, "NAME",
              "IDENTITY", "SIZE", "OBJECTS", "BYTES", "UNIQUE", "KEYS");
  for (const Row& row : rows) {
    if (!row.error.empty()) {
      std::printf("%-*s  BROKEN: %s\n", width, row.tag->name.c_str(),
                  row.error.c_str());
      continue;
    }
    std::string keys;
    for (const std::string& k : row.keys) {
      if (!keys.empty()) keys.push_back(',');
      keys.append(k, 0, 16);  // enough to tell keys apart in a listing
    }
    if (keys.empty()) keys = "unsigned";
    std::printf("%-*s  %-71s  %10s  %8zu  %10s  %10s  %s\n", width,
                row.tag->name.c_str(),
                row.tag->manifest->identity().ToString().c_str(),
                HumanBytes(row.tag->file_size).c_str(), row.refs.size(),
                HumanBytes(row.object_bytes).c_str(),
                HumanBytes(row.unique_bytes).c_str(), keys.c_str());
  }
  if (broken) {
    std::fprintf(stderr, "sealfs images: some tags are broken; 'sealfs gc' "
                         "refuses to run until they are fixed or deleted\n");
  }
  return broken ? kExitFailure : kExitOk;
}

}  // namespace sealfs::tools
