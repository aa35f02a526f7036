// SPDX-License-Identifier: Apache-2.0
// `sealfs inspect`: an image's identity, format version, sizes, counts and
// the keys of its signatures, as text or JSON. Validity of signatures needs a
// trusted key and is `sealfs verify`'s job.
#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "fs/core/oci.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/signature.h"
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {
namespace {

constexpr char kCmd[] = "inspect";

void PrintHelp() {
  std::printf(
      "Usage: sealfs inspect [--json] IMAGE\n"
      "       sealfs inspect --oci-config IMAGE\n"
      "Show the identity (fs-verity digest of the manifest), format version,\n"
      "sizes and counts of IMAGE, and the key ids of its signatures. The\n"
      "signatures are listed, not checked: use 'sealfs verify' for that.\n"
      "\n"
      "Options:\n"
      "  --json       print one JSON object\n"
      "  --oci-config print the OCI image config IMAGE was built from\n"
      "               (mkfs --from-oci), byte for byte: its SHA-256 is the\n"
      "               config digest of the OCI image\n"
      "  -h, --help   show this help\n"
      "\n"
      "Exit status: 0 success, 1 failure (unreadable or malformed image),\n"
      "2 usage error.\n");
}

struct Counts {
  uint64_t regular = 0, directories = 0, symlinks = 0, devices = 0,
           fifos = 0, sockets = 0, inline_files = 0, file_bytes = 0;
};

Result<Counts> CountInodes(const Manifest& m) {
  Counts c;
  for (uint64_t ino = 1; ino <= m.inode_count(); ++ino) {
    SEALFS_ASSIGN_OR_RETURN(Inode inode, m.GetInode(ino));
    switch (inode.mode & S_IFMT) {
      case S_IFREG:
        ++c.regular;
        c.file_bytes += inode.size;
        if (inode.is_inline()) ++c.inline_files;
        break;
      case S_IFDIR: ++c.directories; break;
      case S_IFLNK: ++c.symlinks; break;
      case S_IFCHR:
      case S_IFBLK: ++c.devices; break;
      case S_IFIFO: ++c.fifos; break;
      case S_IFSOCK: ++c.sockets; break;
      default: break;
    }
  }
  return c;
}

// Writes the image's OCI config to stdout exactly as stored, once it has
// checked that it is a JSON object: the bytes are signed, but whoever
// signed them may not be whoever reads them.
int PrintOciConfig(const std::string& image, const Manifest& m) {
  const std::span<const uint8_t> config = m.oci_config();
  if (config.empty()) {
    return Fail(kCmd, Status::FromErrno(ENODATA, image +
                                                     ": no OCI config (not "
                                                     "built with --from-oci)"));
  }
  nlohmann::json parsed;
  Status st = ParseJson(config, &parsed);
  if (st.ok() && !parsed.is_object()) {
    st = Status::Corrupt("not a JSON object");
  }
  if (!st.ok()) return Fail(kCmd, st.WithPrefix(image + ": OCI config"));
  if (std::fwrite(config.data(), 1, config.size(), stdout) != config.size()) {
    return Fail(kCmd, ErrnoStatus("stdout"));
  }
  // A terminal gets its prompt on a line of its own; a pipe gets the bytes.
  if (config.back() != '\n' && isatty(STDOUT_FILENO) == 1) std::putchar('\n');
  if (std::fflush(stdout) != 0) return Fail(kCmd, ErrnoStatus("stdout"));
  return kExitOk;
}

}  // namespace

int CmdInspect(int argc, char** argv) {
  static const option kOptions[] = {
      {"json", no_argument, nullptr, 'j'},
      {"oci-config", no_argument, nullptr, 'c'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  bool json = false;
  bool oci_config = false;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "h", kOptions, nullptr)) != -1) {
    switch (c) {
      case 'j': json = true; break;
      case 'c': oci_config = true; break;
      case 'h': PrintHelp(); return kExitOk;
      default:
        return UsageError(kCmd, std::string("unknown option '") +
                                    argv[optind - 1] + "'");
    }
  }
  if (argc - optind != 1) return UsageError(kCmd, "expected IMAGE");
  if (json && oci_config) {
    return UsageError(kCmd, "--json and --oci-config exclude each other");
  }
  const std::string image = argv[optind];

  Result<std::shared_ptr<const Manifest>> opened = Manifest::Open(image);
  if (!opened.ok()) return Fail(kCmd, opened.status().WithPrefix(image));
  const Manifest& m = **opened;
  if (oci_config) return PrintOciConfig(image, m);
  Result<Counts> counts = CountInodes(m);
  if (!counts.ok()) return Fail(kCmd, counts.status().WithPrefix(image));
  Result<std::vector<Signature>> sigs = ParseSignatureBlock(m.trailer_bytes());
  if (!sigs.ok()) {
    return Fail(kCmd, sigs.status().WithPrefix(image));
  }
  const uint64_t manifest_size = m.manifest_bytes().size();
  const uint64_t image_size = manifest_size + m.trailer_bytes().size();

  if (json) {
    JsonWriter w;
    w.BeginObject();
    w.Key("image"); w.String(image);
    w.Key("identity"); w.String(m.identity().ToString());
    w.Key("format_version"); w.Uint(m.version());
    w.Key("manifest_size"); w.Uint(manifest_size);
    w.Key("image_size"); w.Uint(image_size);
    w.Key("inodes"); w.Uint(m.inode_count());
    w.Key("dirents"); w.Uint(m.dirent_count());
    w.Key("objects"); w.Uint(m.digest_count());
    w.Key("xattr_sets"); w.Uint(m.xattr_set_count());
    w.Key("strings_bytes"); w.Uint(m.strings_size());
    w.Key("inline_bytes"); w.Uint(m.inline_size());
    w.Key("file_bytes"); w.Uint(counts->file_bytes);
    w.Key("oci_config");
    if (m.oci_config().empty()) {
      w.Null();
    } else {
      w.BeginObject();
      w.Key("digest"); w.String(OciDigest(BlobDigest(m.oci_config())));
      w.Key("size"); w.Uint(m.oci_config().size());
      w.End();
    }
    w.Key("types");
    w.BeginObject();
    w.Key("regular"); w.Uint(counts->regular);
    w.Key("inline"); w.Uint(counts->inline_files);
    w.Key("directory"); w.Uint(counts->directories);
    w.Key("symlink"); w.Uint(counts->symlinks);
    w.Key("device"); w.Uint(counts->devices);
    w.Key("fifo"); w.Uint(counts->fifos);
    w.Key("socket"); w.Uint(counts->sockets);
    w.End();
    w.Key("signatures");
    w.BeginArray();
    for (const Signature& s : *sigs) {
      w.BeginObject();
      w.Key("algorithm"); w.String("ed25519");
      w.Key("key_id"); w.String(s.key.KeyId());
      w.End();
    }
    w.End();
    w.End();
    std::printf("%s\n", w.str().c_str());
    return kExitOk;
  }

  auto line = [](const char* label, uint64_t v) {
    std::printf("%-16s %llu\n", label, static_cast<unsigned long long>(v));
  };
  std::printf("%-16s %s\n", "identity:", m.identity().ToString().c_str());
  line("format version:", m.version());
  line("manifest size:", manifest_size);
  line("image size:", image_size);
  line("inodes:", m.inode_count());
  std::printf("%-16s %llu regular (%llu inline), %llu dirs, %llu symlinks, "
              "%llu devices, %llu fifos, %llu sockets\n",
              "  by type:",
              static_cast<unsigned long long>(counts->regular),
              static_cast<unsigned long long>(counts->inline_files),
              static_cast<unsigned long long>(counts->directories),
              static_cast<unsigned long long>(counts->symlinks),
              static_cast<unsigned long long>(counts->devices),
              static_cast<unsigned long long>(counts->fifos),
              static_cast<unsigned long long>(counts->sockets));
  line("dirents:", m.dirent_count());
  line("objects:", m.digest_count());
  line("xattr sets:", m.xattr_set_count());
  line("strings bytes:", m.strings_size());
  line("inline bytes:", m.inline_size());
  line("file bytes:", counts->file_bytes);
  if (!m.oci_config().empty()) {
    std::printf("%-16s %s, %zu bytes\n", "oci config:",
                OciDigest(BlobDigest(m.oci_config())).c_str(),
                m.oci_config().size());
  }
  line("signatures:", sigs->size());
  for (const Signature& s : *sigs) {
    std::printf("  ed25519 key %s\n", s.key.KeyId().c_str());
  }
  return kExitOk;
}

}  // namespace sealfs::tools
