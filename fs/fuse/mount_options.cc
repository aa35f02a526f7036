// SPDX-License-Identifier: Apache-2.0
// -o option parsing for sealfs mount and mount.fuse.sealfs.
#include "fs/fuse/mount_options.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <thread>
#include <utility>

namespace sealfs::fuse {
namespace {

// A decimal number in [lo, hi], all of `text`.
bool ParseBounded(std::string_view text, unsigned lo, unsigned hi,
                  unsigned* out) {
  unsigned n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size() || n < lo ||
      n > hi) {
    return false;
  }
  *out = n;
  return true;
}

// Standard mount flags that make sense for a read-only FUSE mount and that
// fusermount3 accepts.
constexpr std::string_view kPassThrough[] = {
    "nodev",      "dev",         "nosuid",        "suid",       "noexec",
    "exec",       "noatime",     "atime",         "nodiratime", "relatime",
    "norelatime", "strictatime", "nostrictatime", "async",      "sync",
    "dirsync",    "lazytime",    "nolazytime",
};
// What mount(8) may hand a helper that has no meaning here.
constexpr std::string_view kIgnored[] = {
    "rw",
    "ro",
    "defaults",
    "auto",
    "noauto",
    "user",
    "nouser",
    "users",
    "owner",
    "group",
    "nofail",
    "_netdev",
    "default_permissions",
    "auto_unmount",
};

std::vector<std::string_view> SplitColon(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(':', start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) parts.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

Status ParseOne(std::string_view opt, MountOptions* out) {
  size_t eq = opt.find('=');
  std::string_view key = opt.substr(0, eq);
  std::string_view value =
      eq == std::string_view::npos ? std::string_view() : opt.substr(eq + 1);
  bool has_value = eq != std::string_view::npos;
  auto need_value = [&]() -> Status {
    if (!has_value || value.empty()) {
      return Status::FromErrno(
          EINVAL, "option '" + std::string(key) + "' needs a value");
    }
    return Status();
  };
  if (key == "store") {
    SEALFS_RETURN_IF_ERROR(need_value());
    out->store.assign(value);
  } else if (key == "pubkey") {
    SEALFS_RETURN_IF_ERROR(need_value());
    for (std::string_view p : SplitColon(value)) out->pubkeys.emplace_back(p);
  } else if (key == "keyring") {
    SEALFS_RETURN_IF_ERROR(need_value());
    out->keyring.assign(value);
  } else if (key == "digest") {
    SEALFS_RETURN_IF_ERROR(need_value());
    Result<Digest> d = Digest::Parse(value);
    if (!d.ok()) {
      return Status::FromErrno(EINVAL, "bad digest '" + std::string(value) +
                                           "' (want sha256:<64 hex>)");
    }
    out->digest = *d;
  } else if (key == "threads") {
    SEALFS_RETURN_IF_ERROR(need_value());
    if (!ParseBounded(value, 1, 256, &out->threads)) {
      return Status::FromErrno(EINVAL, "threads must be 1..256");
    }
  } else if (key == "remote") {
    SEALFS_RETURN_IF_ERROR(need_value());
    out->remote.assign(value);
  } else if (key == "prefetch") {
    SEALFS_RETURN_IF_ERROR(need_value());
    if (value == "all") {
      out->prefetch = MountOptions::Prefetch::kAll;
    } else if (value == "none") {
      out->prefetch = MountOptions::Prefetch::kNone;
    } else {
      out->prefetch = MountOptions::Prefetch::kList;
      out->prefetch_list.assign(value);
    }
  } else if (key == "tls_verify") {
    SEALFS_RETURN_IF_ERROR(need_value());
    if (value != "true" && value != "false") {
      return Status::FromErrno(EINVAL, "tls_verify must be true or false");
    }
    out->tls_verify = value == "true";
  } else if (key == "cert_dir") {
    SEALFS_RETURN_IF_ERROR(need_value());
    out->cert_dir.assign(value);
  } else if (key == "authfile") {
    SEALFS_RETURN_IF_ERROR(need_value());
    out->authfile.assign(value);
  } else if (key == "record") {
    SEALFS_RETURN_IF_ERROR(need_value());
    out->record.assign(value);
  } else if (key == "remote_connections") {
    SEALFS_RETURN_IF_ERROR(need_value());
    if (!ParseBounded(value, 1, 64, &out->remote_connections)) {
      return Status::FromErrno(EINVAL, "remote_connections must be 1..64");
    }
  } else if (key == "remote_timeout") {
    SEALFS_RETURN_IF_ERROR(need_value());
    if (!ParseBounded(value, 1, 3600, &out->remote_timeout_s)) {
      return Status::FromErrno(EINVAL, "remote_timeout must be 1..3600");
    }
  } else if (key == "user") {
    if (!has_value) return Status();  // fstab's "user" (user-mountable)
    SEALFS_RETURN_IF_ERROR(need_value());
    out->user.assign(value);
  } else if (opt == "insecure") {
    out->insecure = true;
  } else if (opt == "allow_other") {
    out->allow_other = true;
  } else if (opt == "noallow_other") {
    out->allow_other = false;
  } else if (opt == "debug") {
    out->debug = true;
  } else if (key == "max_read") {
    SEALFS_RETURN_IF_ERROR(need_value());
    if (!ParseBounded(value, 4096, 1 << 20, &out->max_read)) {
      return Status::FromErrno(EINVAL, "max_read must be 4096..1048576");
    }
  } else if (key == "uidmap" || key == "gidmap") {
    SEALFS_RETURN_IF_ERROR(need_value());
    const bool uid = key == "uidmap";
    IdMap& map = uid ? out->owners.uids : out->owners.gids;
    const std::optional<uint32_t>& squash =
        uid ? out->owners.squash_uid : out->owners.squash_gid;
    if (!map.identity()) {
      return Status::FromErrno(EINVAL, std::string(key) + " given twice");
    }
    if (squash.has_value()) {
      return Status::FromErrno(EINVAL, std::string(key) + "= and squash_to_" +
                                           (uid ? "uid" : "gid") +
                                           "= exclude each other");
    }
    Result<IdMap> parsed = IdMap::Parse(value);
    if (!parsed.ok()) {
      return parsed.status().WithPrefix("bad " + std::string(key) + " '" +
                                        std::string(value) + "'");
    }
    map = std::move(*parsed);
  } else if (key == "squash_to_uid" || key == "squash_to_gid") {
    SEALFS_RETURN_IF_ERROR(need_value());
    const bool uid = key == "squash_to_uid";
    const IdMap& map = uid ? out->owners.uids : out->owners.gids;
    std::optional<uint32_t>& squash =
        uid ? out->owners.squash_uid : out->owners.squash_gid;
    if (squash.has_value()) {
      return Status::FromErrno(EINVAL, std::string(key) + " given twice");
    }
    if (!map.identity()) {
      return Status::FromErrno(EINVAL, std::string(key) + "= and " +
                                           (uid ? "uid" : "gid") +
                                           "map= exclude each other");
    }
    unsigned id = 0;
    if (!ParseBounded(value, 0, kMaxId, &id)) {
      return Status::FromErrno(EINVAL,
                               std::string(key) + " must be 0..4294967294");
    }
    squash = id;
  } else if (key.starts_with("x-") || key == "comment") {
    // mount(8) and systemd annotations.
  } else {
    for (std::string_view p : kPassThrough) {
      if (opt == p) {
        out->kernel_options.emplace_back(opt);
        return Status();
      }
    }
    for (std::string_view i : kIgnored) {
      if (opt == i) return Status();
    }
    return Status::FromErrno(EINVAL,
                             "unknown mount option '" + std::string(opt) + "'");
  }
  return Status();
}

}  // namespace

unsigned DefaultThreads(const MountOptions& options) {
  if (options.threads != 0) return options.threads;
  if (!options.remote.empty()) return 16;
  // More workers than CPUs only take turns on them: on 2 CPUs a hash-bound
  // read ran 3-12% slower with 4 than with 2, and a cold tar of the bench
  // corpus was no faster (DESIGN.md).
  return std::clamp(std::thread::hardware_concurrency(), 2u, 4u);
}

Status ParseMountOptions(std::string_view text, MountOptions* out) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view opt = text.substr(start, end - start);
    if (!opt.empty()) SEALFS_RETURN_IF_ERROR(ParseOne(opt, out));
    start = end + 1;
  }
  return Status();
}

std::string KernelOptionString(const MountOptions& options, bool is_root,
                               bool auto_unmount) {
  // auto_unmount: fusermount3, started while we still hold privileges,
  // unmounts when the daemon's /dev/fuse fd closes, so the mount goes away
  // on SIGTERM or a crash even though the daemon has dropped every
  // capability by then. It makes libfuse mount through fusermount3 even for
  // root, so a privileged caller uses its own watchdog instead (session.cc).
  std::string s = "ro,default_permissions,fsname=sealfs,subtype=sealfs";
  if (auto_unmount) s += ",auto_unmount";
  if (options.allow_other.value_or(is_root)) s += ",allow_other";
  if (options.max_read != 0) {
    s += ",max_read=" + std::to_string(options.max_read);
  }
  for (const std::string& o : options.kernel_options) s += "," + o;
  return s;
}

}  // namespace sealfs::fuse
