// SPDX-License-Identifier: Apache-2.0
// Mounting through the service; listing its sessions.
#include "fs/serve/client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include <fuse_lowlevel.h>

#include "fs/fuse/unprivileged.h"
#include "fs/remote/registry_ref.h"
#include "fs/serve/channel.h"
#include "fs/serve/servable.h"
#include "sealfs/signature.h"

namespace sealfs::serve {
namespace {

// How long a caller waits for the service to read an image from a
// registry (each request there is bounded by remote_timeout=).
constexpr int kRegistryWaitS = 120;

struct SessionDeleter {
  void operator()(fuse_session* se) const { fuse_session_destroy(se); }
};
using SessionPtr = std::unique_ptr<fuse_session, SessionDeleter>;

Status FromReply(const Received& r, std::string* text) {
  SEALFS_ASSIGN_OR_RETURN(Reply reply, DecodeReply(r.message));
  if (reply.err != 0) {
    return Status::FromErrno(static_cast<int>(reply.err), reply.text);
  }
  if (text != nullptr) *text = reply.text;
  return Status();
}

// The trusted keys, read with the caller's own rights.
Result<std::vector<std::array<uint8_t, 32>>> CallerKeys(
    const fuse::MountOptions& o) {
  std::vector<std::array<uint8_t, 32>> keys;
  for (const std::string& path : o.pubkeys) {
    SEALFS_ASSIGN_OR_RETURN(PublicKey k, LoadPublicKey(path));
    keys.push_back(k.raw);
  }
  if (!o.keyring.empty()) {
    SEALFS_ASSIGN_OR_RETURN(std::vector<PublicKey> ring,
                            LoadKeyring(o.keyring));
    for (const PublicKey& k : ring) keys.push_back(k.raw);
  }
  if (keys.size() > kMaxPubkeys) {
    return Status::FromErrno(E2BIG, "more than 64 trusted keys");
  }
  return keys;
}

bool NoService(const Status& st) {
  return st.err() == ENOENT || st.err() == ECONNREFUSED || st.err() == ENOTDIR;
}

}  // namespace

Result<bool> MountThroughService(const fuse::MountRequest& req,
                                 const std::string& option_text) {
  Result<std::string> path = DefaultSocketPath();
  if (!path.ok()) return false;
  // The socket's owner is the service's user. What the service would
  // refuse, a daemon of the caller's own serves (remote= for another user:
  // the caller's own rights fetch into the store, as standalone).
  const fuse::MountOptions& o = req.options;
  struct stat socket_st {};
  if (stat(path->c_str(), &socket_st) != 0) {
    Status st = ErrnoStatus(*path);
    if (NoService(st)) return false;
    return st;
  }
  const bool from_registry = remote::IsDockerRef(req.image);
  if (!CheckServable(o, from_registry, geteuid(), socket_st.st_uid).ok()) {
    return false;
  }
  Result<UniqueFd> sock = Connect(*path);
  if (!sock.ok()) {
    if (NoService(sock.status())) return false;
    return sock.status();
  }
  // The service reads an image from a registry while this waits.
  SetTimeout(sock->get(), from_registry ? kRegistryWaitS : 30);
  MountSpec spec;
  spec.image_label = req.image;
  if (from_registry) spec.registry = req.image;
  spec.store_label = o.store;
  spec.options = option_text;
  char* real = realpath(req.mountpoint.c_str(), nullptr);
  if (real == nullptr) return ErrnoStatus(req.mountpoint);
  spec.mountpoint = real;
  std::free(real);
  if (spec.image_label.size() > kMaxStringBytes ||
      spec.store_label.size() > kMaxStringBytes ||
      spec.mountpoint.size() > kMaxStringBytes ||
      spec.options.size() > kMaxStringBytes) {
    return Status::FromErrno(ENAMETOOLONG, "mount request too long");
  }
  SEALFS_ASSIGN_OR_RETURN(spec.pubkeys, CallerKeys(o));
  UniqueFd image;
  if (!from_registry) {
    image.reset(open(req.image.c_str(), O_RDONLY | O_CLOEXEC));
    if (!image.valid()) return ErrnoStatus(req.image);
  }
  // A lazy mount's store is made if missing, as standalone.
  if ((from_registry || !o.remote.empty()) &&
      mkdir(o.store.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoStatus("store " + o.store + ": mkdir");
  }
  UniqueFd store(open(o.store.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!store.valid()) return ErrnoStatus("store " + o.store);
  const bool is_root = geteuid() == 0;
  if (!is_root) SEALFS_RETURN_IF_ERROR(fuse::CheckUnprivilegedMount(o));
  // An image from a registry is read by the service: only the store goes.
  const int fds[2] = {image.get(), store.get()};
  SEALFS_ASSIGN_OR_RETURN(
      Received prepared,
      Call(sock->get(), EncodeMountSpec(Type::kMount, spec),
           from_registry ? std::span<const int>(&fds[1], 1)
                         : std::span<const int>(fds)));
  std::string warning;
  SEALFS_RETURN_IF_ERROR(FromReply(prepared, &warning));
  if (!warning.empty()) {
    std::fprintf(stderr, "sealfs mount: warning: %s\n", warning.c_str());
  }
  // The mount is made here, with the caller's rights (mount(2) as root,
  // else fusermount3), exactly as a standalone mount would be, and without
  // auto_unmount: the session outlives this process.
  std::string kopts = fuse::KernelOptionString(o, is_root, false);
  fuse_args args = FUSE_ARGS_INIT(0, nullptr);
  if (fuse_opt_add_arg(&args, "sealfs") != 0 ||
      fuse_opt_add_arg(&args, "-o") != 0 ||
      fuse_opt_add_arg(&args, kopts.c_str()) != 0) {
    fuse_opt_free_args(&args);
    return Status::FromErrno(ENOMEM, "fuse arguments");
  }
  static const fuse_lowlevel_ops kNoOps = {};
  SessionPtr se(fuse_session_new(&args, &kNoOps, sizeof(kNoOps), nullptr));
  fuse_opt_free_args(&args);
  if (se == nullptr) {
    return Status::FromErrno(
        EINVAL, "cannot create FUSE session (options " + kopts + ")");
  }
  if (fuse_session_mount(se.get(), spec.mountpoint.c_str()) != 0) {
    return Status::FromErrno(EIO, spec.mountpoint + ": mount failed");
  }
  int fuse_fd = fuse_session_fd(se.get());
  Message attach;
  attach.type = Type::kAttach;
  Result<Received> ready = Call(sock->get(), attach, {&fuse_fd, 1});
  Status st = ready.ok() ? FromReply(*ready, nullptr) : ready.status();
  if (!st.ok()) {
    fuse_session_unmount(se.get());
    return st;
  }
  return true;
}

Result<std::string> ListServiceMounts() {
  SEALFS_ASSIGN_OR_RETURN(std::string path, DefaultSocketPath());
  SEALFS_ASSIGN_OR_RETURN(UniqueFd sock, Connect(path));
  SetTimeout(sock.get(), 10);
  Message ask;
  ask.type = Type::kList;
  SEALFS_ASSIGN_OR_RETURN(Received r, Call(sock.get(), ask));
  std::string text;
  SEALFS_RETURN_IF_ERROR(FromReply(r, &text));
  return text;
}

}  // namespace sealfs::serve
