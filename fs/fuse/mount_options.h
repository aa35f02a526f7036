// SPDX-License-Identifier: Apache-2.0
// Parsing of `-o` mount options: sealfs's own (store=, pubkey=, keyring=,
// digest=, threads=, insecure, user=, remote=, remote_timeout=, uidmap=,
// gidmap=, squash_to_uid=, squash_to_gid=) and the standard ones passed to
// the kernel (max_read= among them). Reentrant.
#ifndef SEALFS_FS_FUSE_MOUNT_OPTIONS_H_
#define SEALFS_FS_FUSE_MOUNT_OPTIONS_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fs/fuse/owner_map.h"
#include "sealfs/digest.h"
#include "sealfs/status.h"

namespace sealfs::fuse {

struct MountOptions {
  std::string store;                 // required
  std::vector<std::string> pubkeys;  // trusted public key files
  std::string keyring;               // directory of trusted *.pub files
  std::optional<Digest> digest;      // pinned image identity
  std::optional<bool> allow_other;   // unset: on when run as root
  unsigned threads = 0;              // max worker threads; 0: default
  bool insecure = false;             // mount even if not trusted
  std::string user;                  // switch to this user after mounting
  bool debug = false;                // libfuse request tracing (foreground)
  // Where missing objects are fetched from on first open (a store
  // directory or an http(s):// URL); empty: never fetch.
  std::string remote;
  unsigned remote_timeout_s = 5;    // connect/stall time-out of one fetch
  unsigned remote_connections = 8;  // to the remote at most
  // What a lazy mount fetches in the background (remote= only): every
  // object of the image (kAll, the default), nothing (kNone), or the files
  // a list names, in its order, then the rest (kList, prefetch_list).
  enum class Prefetch { kAll, kNone, kList };
  Prefetch prefetch = Prefetch::kAll;
  std::string prefetch_list;  // prefetch=FILE
  std::string record;         // record=FILE: write the access order there
  // Registries (docker:// images and remotes), with skopeo's meanings.
  bool tls_verify = true;  // tls_verify=false: plain HTTP, no cert check
  std::string cert_dir;    // extra CA certificates (*.crt)
  std::string authfile;    // else the usual auth files
  unsigned max_read = 0;   // largest read request; 0: not given
  OwnerMap owners;         // uidmap=, gidmap=, squash_to_*=
  // Standard options handed to the kernel/fusermount3 unchanged.
  std::vector<std::string> kernel_options;
};

// Worker threads when threads= is not given: one per CPU, at least 2 and at
// most 4; with remote=, 16, so that many readers waiting for the network do
// not queue behind each other.
unsigned DefaultThreads(const MountOptions& options);

// Parses one comma-separated option string (one -o argument) into `out`,
// accumulating with earlier ones. EINVAL naming the option for an unknown
// option or a bad value. Options a mount(8) helper receives that mean
// nothing to a FUSE filesystem (rw, defaults, auto, noauto, user, nofail,
// _netdev, x-*, comment=*) are accepted and ignored; rw never makes the mount
// writable. uidmap= (gidmap=) given twice, or with squash_to_uid=
// (squash_to_gid=), is EINVAL.
Status ParseMountOptions(std::string_view text, MountOptions* out);

// The option string for fuse_session_new: ro, default_permissions,
// fsname/subtype sealfs, auto_unmount if asked for, allow_other as chosen,
// and the pass-through options.
std::string KernelOptionString(const MountOptions& options, bool is_root,
                               bool auto_unmount);

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_MOUNT_OPTIONS_H_
