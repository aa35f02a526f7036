// SPDX-License-Identifier: Apache-2.0
// `sealfs cat`: writes one file of an image to stdout without mounting it.
// Every 4 KiB block is checked against the file's Merkle tree before any of
// its bytes are written; a block that fails ends the command.
#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fs/mkfs/image_file.h"
#include "fs/util/io.h"
#include "sealfs/digest.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/store.h"
#include "tools/cli.h"
#include "tools/command.h"
#include "tools/store_cli.h"

namespace sealfs::tools {
namespace {

constexpr char kCmd[] = "cat";
constexpr uint64_t kChunkBlocks = 256;  // 1 MiB per read

void PrintHelp() {
  std::printf(
      "Usage: sealfs cat [--store STORE] IMAGE PATH\n"
      "Write the content of the regular file PATH of IMAGE to stdout. Every\n"
      "block is verified against the file's digest before it is written; on\n"
      "a corrupt block nothing of that block is written and the command\n"
      "fails naming the block and the object.\n"
      "\n"
      "Options:\n"
      "  --store STORE  object store (default: $SEALFS_STORE, else %s)\n"
      "  -h, --help     show this help\n"
      "\n"
      "Exit status: 0 success, 1 failure (including a corrupt block),\n"
      "2 usage error.\n",
      kDefaultStore);
}

// Streams a store object through a BlockVerifier to stdout.
Status CatObject(const Store& store, const Digest& digest, uint64_t size,
                 const std::string& path) {
  const std::string object = "object " + digest.ToString();
  Result<UniqueFd> fd = store.OpenObject(digest);
  if (!fd.ok()) return fd.status().WithPrefix(path + ": " + object);
  Result<TreeBlockReader> reader = store.OpenTree(digest, size, fd->get());
  if (!reader.ok()) return reader.status().WithPrefix(path + ": " + object);
  BlockVerifier verifier(digest, size, std::move(*reader));

  std::vector<uint8_t> buf(kChunkBlocks * kBlockSize);
  for (uint64_t offset = 0; offset < size;) {
    const uint64_t want = std::min<uint64_t>(buf.size(), size - offset);
    Result<size_t> got =
        PreadFull(fd->get(), std::span<uint8_t>(buf.data(), want), offset);
    if (!got.ok()) return got.status().WithPrefix(path + ": " + object);
    for (uint64_t done = 0; done < want; done += kBlockSize) {
      const uint64_t block = (offset + done) / kBlockSize;
      const uint64_t len = std::min<uint64_t>(kBlockSize, want - done);
      const std::string where =
          path + ": block " + std::to_string(block) + " of " + object;
      if (*got < done + len) {
        return Status::Corrupt(where + ": object is shorter than the file");
      }
      Status s = verifier.VerifyBlock(block, {buf.data() + done, len});
      if (!s.ok()) return s.WithPrefix(where);
      SEALFS_RETURN_IF_ERROR(
          WriteFull(STDOUT_FILENO, {buf.data() + done, len})
              .WithPrefix("stdout"));
    }
    offset += want;
  }
  return Status();
}

}  // namespace

int CmdCat(int argc, char** argv) {
  enum { kStore = 256 };
  static const option kOptions[] = {
      {"store", required_argument, nullptr, kStore},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  std::string store_path = DefaultStore();
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "h", kOptions, nullptr)) != -1) {
    switch (c) {
      case kStore: store_path = optarg; break;
      case 'h': PrintHelp(); return kExitOk;
      default:
        return UsageError(kCmd, std::string("unknown or incomplete option '") +
                                    argv[optind - 1] + "'");
    }
  }
  if (argc - optind != 2) return UsageError(kCmd, "expected IMAGE and PATH");
  const std::string image = argv[optind];
  const std::string path = argv[optind + 1];

  Result<std::shared_ptr<const Manifest>> opened = Manifest::Open(image);
  if (!opened.ok()) return Fail(kCmd, opened.status().WithPrefix(image));
  const Manifest& m = **opened;
  Result<uint64_t> ino = mkfs::ResolvePath(m, path);
  if (!ino.ok()) return Fail(kCmd, ino.status());
  Result<Inode> inode = m.GetInode(*ino);
  if (!inode.ok()) return Fail(kCmd, inode.status().WithPrefix(path));
  if (S_ISDIR(inode->mode)) {
    return Fail(kCmd, Status::FromErrno(EISDIR, path));
  }
  if (!S_ISREG(inode->mode)) {
    return Fail(kCmd, Status::FromErrno(EINVAL, path + ": not a regular file"));
  }
  if (inode->is_inline()) {
    // Inline content is covered by the manifest's own digest.
    Result<std::span<const uint8_t>> data = m.InlineData(*ino);
    if (!data.ok()) return Fail(kCmd, data.status().WithPrefix(path));
    Status s = WriteFull(STDOUT_FILENO, *data);
    if (!s.ok()) return Fail(kCmd, s.WithPrefix("stdout"));
    return kExitOk;
  }
  Result<Digest> digest = m.FileDigest(*ino);
  if (!digest.ok()) return Fail(kCmd, digest.status().WithPrefix(path));
  Result<std::shared_ptr<Store>> store =
      Store::Open(store_path, Store::Mode::kReadOnly);
  if (!store.ok()) return Fail(kCmd, store.status().WithPrefix(store_path));
  Status s = CatObject(**store, *digest, inode->size, path);
  if (!s.ok()) return Fail(kCmd, s);
  return kExitOk;
}

}  // namespace sealfs::tools
