// SPDX-License-Identifier: Apache-2.0
// `sealfs tag`: records an image file under STORE/images/NAME (a root for
// gc), or deletes such a tag.
#include <getopt.h>

#include <cstdio>
#include <string>
#include <vector>

#include "fs/core/store_lock.h"
#include "fs/store/tags.h"
#include "fs/util/io.h"
#include "sealfs/store.h"
#include "tools/cli.h"
#include "tools/command.h"
#include "tools/store_cli.h"

namespace sealfs::tools {
namespace {

constexpr char kCmd[] = "tag";

void PrintHelp() {
  std::printf(
      "Usage: sealfs tag [--store STORE] IMAGE NAME\n"
      "       sealfs tag [--store STORE] --delete NAME\n"
      "Record the image file IMAGE (manifest and signatures, byte for byte)\n"
      "as STORE/images/NAME, replacing a tag of that name. Tagged images are\n"
      "the roots of 'sealfs gc': their objects are never collected. The\n"
      "image must be valid; objects it needs that the store lacks are\n"
      "reported as a warning.\n"
      "NAME: 1 to 128 characters of A-Z a-z 0-9 . _ -, not starting with\n"
      "'.', not containing '.tmp-'.\n"
      "\n"
      "Options:\n"
      "  --store STORE  object store (default: $SEALFS_STORE, else\n"
      "                 /var/lib/sealfs/store)\n"
      "  --delete       remove the tag NAME (the objects stay until gc)\n"
      "  -h, --help     show this help\n"
      "\n"
      "Exit status: 0 success, 1 failure, 2 usage error (incl. a bad NAME).\n");
}

}  // namespace

int CmdTag(int argc, char** argv) {
  enum { kStore = 256, kDelete };
  static const option kOptions[] = {
      {"store", required_argument, nullptr, kStore},
      {"delete", no_argument, nullptr, kDelete},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  std::string store_path = DefaultStore();
  bool remove = false;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "h", kOptions, nullptr)) != -1) {
    switch (c) {
      case kStore:
        store_path = optarg;
        break;
      case kDelete:
        remove = true;
        break;
      case 'h':
        PrintHelp();
        return kExitOk;
      default:
        return UsageError(kCmd, std::string("unknown or incomplete option '") +
                                    argv[optind - 1] + "'");
    }
  }
  const int args = argc - optind;
  if (remove ? args != 1 : args != 2) {
    return UsageError(kCmd,
                      remove ? "expected NAME" : "expected IMAGE and NAME");
  }
  const std::string name = argv[argc - 1];
  if (Status s = store::CheckTagName(name); !s.ok()) {
    return UsageError(kCmd, s.context());
  }
  Result<std::shared_ptr<Store>> opened =
      Store::Open(store_path, Store::Mode::kReadWrite);
  if (!opened.ok()) return Fail(kCmd, opened.status().WithPrefix("store"));
  const Store& st = **opened;

  if (remove) {
    Status s = store::DeleteTag(st, name);
    if (!s.ok()) return Fail(kCmd, s);
    std::printf("deleted tag %s\n", name.c_str());
    return kExitOk;
  }

  const std::string image = argv[optind];
  Result<std::vector<uint8_t>> bytes = ReadFileBytes(image);
  if (!bytes.ok()) return Fail(kCmd, bytes.status().WithPrefix(image));
  Result<std::shared_ptr<const Manifest>> manifest = store::ParseImage(*bytes);
  if (!manifest.ok()) {
    return Fail(kCmd,
                manifest.status().WithPrefix(image + ": not a valid image"));
  }
  Result<std::vector<store::ObjectRef>> refs = store::ImageObjects(**manifest);
  if (!refs.ok()) return Fail(kCmd, refs.status().WithPrefix(image));

  // Shared, like a build: the tag lands either before a gc reads the tags
  // (its objects are then live) or after the sweep ends.
  Result<StoreLock> lock =
      StoreLock::Acquire(st.dir_fd(), StoreLock::Kind::kShared, /*wait=*/true);
  if (!lock.ok()) return Fail(kCmd, lock.status().WithPrefix("store"));
  uint64_t missing = 0;
  for (const store::ObjectRef& ref : *refs) {
    if (!st.HasObject(ref.digest)) ++missing;
  }
  Status wrote = store::WriteTag(st, name, *bytes);
  if (!wrote.ok()) return Fail(kCmd, wrote);
  if (missing > 0) {
    std::fprintf(stderr,
                 "sealfs tag: warning: the store lacks %llu of the image's "
                 "%zu objects ('sealfs fsck' reports them)\n",
                 static_cast<unsigned long long>(missing), refs->size());
  }
  std::printf("%s %s\n", name.c_str(),
              (*manifest)->identity().ToString().c_str());
  return kExitOk;
}

}  // namespace sealfs::tools
