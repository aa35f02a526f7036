// SPDX-License-Identifier: Apache-2.0
// `sealfs mount [-f] [-o OPTIONS] IMAGE MOUNTPOINT`, and mount.fuse.sealfs,
// the helper mount(8) runs for `mount -t fuse.sealfs IMAGE DIR -o ...`.
#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "fs/fuse/mount_options.h"
#include "fs/fuse/session.h"
#include "fs/serve/client.h"
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {
namespace {

constexpr char kUsage[] =
    "Usage: sealfs mount [-f] [-o OPTIONS] IMAGE MOUNTPOINT\n"
    "       mount.fuse.sealfs IMAGE MOUNTPOINT [-sfnv] [-o OPTIONS]\n"
    "Mount a sealfs image read-only. Every 4 KiB block is checked against the\n"
    "image's Merkle trees as it is read; a block that fails reads as EIO.\n"
    "\n"
    "The image must carry a valid signature by a trusted key (pubkey=,\n"
    "keyring=) or match a pinned identity (digest=); otherwise nothing is\n"
    "mounted. Without -f the command returns once the mount is ready. If a\n"
    "`sealfs serve` service is running (its control socket answers), it\n"
    "serves the mount, sharing the verified image with other mounts of it;\n"
    "otherwise a detached daemon of its own serves it (messages go to\n"
    "syslog).\n"
    "\n"
    "Options:\n"
    "  -f, --foreground   stay in the foreground, logging to stderr\n"
    "  -o OPT[,OPT...]    mount options (may repeat):\n"
    "       store=DIR         object store (required)\n"
    "       pubkey=FILE[:FILE...]  trusted Ed25519 public key(s), PEM\n"
    "       keyring=DIR       trust every *.pub key in DIR\n"
    "       digest=sha256:HEX pin the image identity (enough on its own)\n"
    "       insecure          mount even if not signed or not trusted\n"
    "       allow_other       let other users in (default when root)\n"
    "       threads=N         worker threads (default: one per CPU, 2 to 4;\n"
    "                         16 with remote=)\n"
    "       user=NAME         run the daemon as NAME after mounting\n"
    "       remote=URL|DIR    fetch missing objects as they are read "
    "(verified);\n"
    "                         STORE is created if missing\n"
    "       remote_timeout=S  connect/stall time-out of a fetch (default 5)\n"
    "       remote_connections=N  connections to the remote (default 8)\n"
    "       tls_verify=false  registry: allow plain HTTP, skip cert checks\n"
    "       cert_dir=DIR      registry: also trust DIR/*.crt\n"
    "       authfile=FILE     registry credentials (default: auth.json)\n"
    "       prefetch=all|none|FILE  with remote=, what to fetch in the\n"
    "                         background: everything (default), nothing,\n"
    "                         or the files FILE lists first, then the rest\n"
    "       record=FILE       write the order files are first opened to FILE\n"
    "                         (a list for prefetch=FILE)\n"
    "       debug             trace FUSE requests (with -f)\n"
    "       max_read=N        largest read request, 4096..1048576 bytes\n"
    "       uidmap=C:H:N[:C:H:N...]  report image uid C+i as H+i (i < N);\n"
    "                         uids outside every range as 65534\n"
    "       gidmap=C:H:N[:C:H:N...]  the same for groups\n"
    "       squash_to_uid=UID, squash_to_gid=GID  report one owner for all\n"
    "       standalone        never use the service; a daemon of its own\n"
    "       nodev,nosuid,noexec,noatime,...  standard flags, passed on\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit status: 0 mounted (or, with -f, served and unmounted cleanly),\n"
    "1 refused or failed (nothing mounted), 2 usage error.\n";

int MountFail(const Status& st) {
  // Trust refusals are complete sentences; everything else gets its errno.
  if (st.err() == EKEYREJECTED || st.err() == ENODATA) {
    std::fprintf(stderr, "sealfs mount: %s\n", st.context().c_str());
    return kExitFailure;
  }
  return Fail("mount", st);
}

// What the -o arguments said, as the service is to parse them again, with
// `standalone` taken out (it is this command's, not the mount's).
struct OptionText {
  std::string text;
  bool standalone = false;
};

Status AddOptions(std::string_view arg, fuse::MountRequest* req,
                  OptionText* out) {
  std::string kept;
  size_t start = 0;
  while (start <= arg.size()) {
    size_t comma = arg.find(',', start);
    if (comma == std::string_view::npos) comma = arg.size();
    std::string_view opt = arg.substr(start, comma - start);
    if (opt == "standalone") {
      out->standalone = true;
    } else if (!opt.empty()) {
      if (!kept.empty()) kept += ',';
      kept += opt;
    }
    start = comma + 1;
  }
  if (kept.empty()) return Status();
  SEALFS_RETURN_IF_ERROR(fuse::ParseMountOptions(kept, &req->options));
  if (!out->text.empty()) out->text += ',';
  out->text += kept;
  return Status();
}

int Finish(fuse::MountRequest& req, const OptionText& text) {
  if (req.options.store.empty()) {
    return UsageError("mount", "missing -o store=DIR");
  }
  if (!req.options.insecure && req.options.pubkeys.empty() &&
      req.options.keyring.empty() && !req.options.digest.has_value()) {
    return UsageError("mount",
                      "no trusted key: give -o pubkey=FILE, keyring=DIR or "
                      "digest=sha256:HEX (or insecure)");
  }
  if (!text.standalone && !req.foreground) {
    Result<bool> served = serve::MountThroughService(req, text.text);
    if (!served.ok()) return MountFail(served.status());
    if (*served) return kExitOk;
  }
  Status st = fuse::RunMount(req);
  if (!st.ok()) return MountFail(st);
  return kExitOk;
}

}  // namespace

int CmdMount(int argc, char** argv) {
  static const option kLong[] = {
      {"foreground", no_argument, nullptr, 'f'},
      {"options", required_argument, nullptr, 'o'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  fuse::MountRequest req;
  OptionText text;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "+fo:h", kLong, nullptr)) != -1) {
    switch (c) {
      case 'f':
        req.foreground = true;
        break;
      case 'o': {
        Status st = AddOptions(optarg, &req, &text);
        if (!st.ok()) return UsageError("mount", st.context());
        break;
      }
      case 'h':
        std::fputs(kUsage, stdout);
        return kExitOk;
      default:
        return UsageError("mount", "unknown option");
    }
  }
  if (argc - optind != 2) {
    return UsageError("mount", "expected IMAGE and MOUNTPOINT");
  }
  req.image = argv[optind];
  req.mountpoint = argv[optind + 1];
  return Finish(req, text);
}

int CmdMountHelper(int argc, char** argv) {
  // mount(8) calls: mount.fuse.sealfs SOURCE DIR [-sfnv] [-o OPTIONS].
  // -s (sloppy), -n (no mtab) and -v (verbose) need no action here.
  fuse::MountRequest req;
  OptionText text;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
    if (arg == "-o") {
      if (i + 1 >= argc) return UsageError("mount", "-o needs an argument");
      Status st = AddOptions(argv[++i], &req, &text);
      if (!st.ok()) return UsageError("mount", st.context());
    } else if (arg.starts_with("-o")) {
      Status st = AddOptions(arg.substr(2), &req, &text);
      if (!st.ok()) return UsageError("mount", st.context());
    } else if (arg.size() > 1 && arg[0] == '-') {
      for (char f : arg.substr(1)) {
        if (f == 'f') {
          req.foreground = true;
        } else if (f != 's' && f != 'n' && f != 'v') {
          return UsageError("mount", "unknown option -" + std::string(1, f));
        }
      }
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 2) {
    return UsageError("mount", "expected IMAGE and MOUNTPOINT");
  }
  req.image = positional[0];
  req.mountpoint = positional[1];
  return Finish(req, text);
}

}  // namespace sealfs::tools
