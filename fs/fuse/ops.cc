// SPDX-License-Identifier: Apache-2.0
// noexcept adapters from libfuse's low-level callbacks to Filesystem. Each
// calls one Result-returning method and replies exactly once, as its last
// statement; ReplyError() is the one place that maps library errors to the
// errno a reader sees.
#include "fs/fuse/ops.h"

#include <sys/stat.h>

#include <cstring>
#include <new>
#include <string>

#include "fs/fuse/bdi.h"
#include "fs/fuse/filesystem.h"
#include "fs/fuse/read_buffer.h"
#include "fs/fuse/stats.h"

namespace sealfs::fuse {
namespace {


Filesystem& GetFs(fuse_req_t req) {
  return *static_cast<Filesystem*>(fuse_req_userdata(req));
}

// Corrupt structures and digest mismatches are EIO to readers: a reader must
// never see bytes, or an answer, derived from unverified data.
void ReplyError(fuse_req_t req, const Status& status) {
  int err = status.err();
  if (err == kErrCorrupt || err == kErrDigest || err <= 0) err = EIO;
  if (err != ENOENT && err != ENODATA) GetFs(req).CountError();
  fuse_reply_err(req, err);
}

void ReplyRofs(fuse_req_t req) {
  GetFs(req).CountWriteAttempt();
  fuse_reply_err(req, EROFS);
}

void FuseInit(void* userdata, fuse_conn_info* conn) noexcept {
  conn->want |=
      conn->capable &
      (FUSE_CAP_IOCTL_DIR | FUSE_CAP_READDIRPLUS | FUSE_CAP_CACHE_SYMLINKS |
       FUSE_CAP_POSIX_ACL | FUSE_CAP_ASYNC_READ | FUSE_CAP_PARALLEL_DIROPS);
  // Nothing ever changes: keep cached pages even when attributes are
  // refreshed.
  conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
  // libfuse derives the kernel's max_pages from max_write (read_buffer.h
  // says why this size).
  conn->max_write = kMaxRequestBytes;
  // The kernel caps the mount's readahead at this; SetMountReadahead()
  // raises the bdi default (128 KiB) so cold sequential reads arrive as
  // several large requests in flight, whose hashing overlaps the disk.
  conn->max_readahead = kReadaheadKb * 1024;
  // Room for the requests of several readahead windows (4 MiB / 256 KiB
  // each; at twice that, some were still abandoned): once congested, the
  // kernel abandons the rest of a readahead, whose pages it has already
  // added to the cache, and adds them again later. At the default limits
  // (12 background requests, congested at 9) a cold 1 GiB read added 2.4
  // pages to the cache for every page of the file.
  conn->max_background = 4 * kReadaheadKb * 1024 / kMaxRequestBytes;
  conn->congestion_threshold = conn->max_background * 3 / 4;
  conn->time_gran = 1;
  auto* fs = static_cast<Filesystem*>(userdata);
  // libfuse refuses the INIT unless this repeats the max_read= option.
  conn->max_read = fs->max_read();
  fs->set_opendir_optional((conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) != 0);
  fs->set_open_optional((conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) != 0);
}

void FuseLookup(fuse_req_t req, fuse_ino_t parent, const char* name) noexcept {
  try {
    Result<fuse_entry_param> e = GetFs(req).Lookup(parent, name);
    if (!e.ok()) return ReplyError(req, e.status());
    fuse_reply_entry(req, &*e);
  } catch (const std::bad_alloc&) {
    fuse_reply_err(req, ENOMEM);
  }
}

void FuseForget(fuse_req_t req, fuse_ino_t /*ino*/,
                uint64_t /*nlookup*/) noexcept {
  fuse_reply_none(req);  // nothing is allocated per inode
}

void FuseForgetMulti(fuse_req_t req, size_t /*count*/,
                     fuse_forget_data* /*forgets*/) noexcept {
  fuse_reply_none(req);
}

void FuseGetattr(fuse_req_t req, fuse_ino_t ino,
                 fuse_file_info* /*fi*/) noexcept {
  try {
    Result<struct stat> st = GetFs(req).GetAttr(ino);
    if (!st.ok()) return ReplyError(req, st.status());
    fuse_reply_attr(req, &*st, kCacheTimeoutSec);
  } catch (const std::bad_alloc&) {
    fuse_reply_err(req, ENOMEM);
  }
}

void FuseReadlink(fuse_req_t req, fuse_ino_t ino) noexcept {
  try {
    Result<std::string> target = GetFs(req).ReadLink(ino);
    if (!target.ok()) return ReplyError(req, target.status());
    fuse_reply_readlink(req, target->c_str());
  } catch (const std::bad_alloc&) {
    fuse_reply_err(req, ENOMEM);
  }
}

void FuseOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept {
  // Not an error: "no opendir needed, now or later" (see Filesystem).
  if (GetFs(req).opendir_optional()) return (void)fuse_reply_err(req, ENOSYS);
  try {
    Result<struct stat> st = GetFs(req).GetAttr(ino);
    if (!st.ok()) return ReplyError(req, st.status());
    if (!S_ISDIR(st->st_mode))
      return ReplyError(req, Status::FromErrno(ENOTDIR, "opendir"));
    fi->fh = 0;
    fi->keep_cache = 1;
    fi->cache_readdir = 1;
    fuse_reply_open(req, fi);
  } catch (const std::bad_alloc&) {
    fuse_reply_err(req, ENOMEM);
  }
}

void ReadDirCommon(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                   bool plus) noexcept {
  try {
    Result<std::string> buf =
        GetFs(req).ReadDir(req, ino, size, static_cast<uint64_t>(off), plus);
    if (!buf.ok()) return ReplyError(req, buf.status());
    fuse_reply_buf(req, buf->data(), buf->size());
  } catch (const std::bad_alloc&) {
    fuse_reply_err(req, ENOMEM);
  }
}

void FuseReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                 fuse_file_info* /*fi*/) noexcept {
  ReadDirCommon(req, ino, size, off, /*plus=*/false);
}

void FuseReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                     fuse_file_info* /*fi*/) noexcept {
  ReadDirCommon(req, ino, size, off, /*plus=*/true);
}

void FuseReleasedir(fuse_req_t req, fuse_ino_t /*ino*/,
                    fuse_file_info* /*fi*/) noexcept {
  fuse_reply_err(req, 0);
}

void FuseOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept {
  // Not an error: "no open needed, now or later" (see Filesystem).
  if (GetFs(req).open_optional()) return (void)fuse_reply_err(req, ENOSYS);
  try {
    Result<uint64_t> fh = GetFs(req).Open(ino, fi->flags);
    if (!fh.ok()) return ReplyError(req, fh.status());
    fi->fh = *fh;
    fi->keep_cache = 1;  // content never changes: reuse the page cache
    fi->noflush = 1;
    if (fuse_reply_open(req, fi) != 0) {
      // The opener went away (interrupted); the kernel will send no release.
      GetFs(req).Release(*fh);
    }
  } catch (const std::bad_alloc&) {
    fuse_reply_err(req, ENOMEM);
  }
}

void FuseRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
              fuse_file_info* fi) noexcept {
  try {
    ReadBuffer buffer;  // outlives the reply, which copies from it
    Result<std::span<const uint8_t>> data =
        GetFs(req).Read(ino, fi->fh, size, static_cast<uint64_t>(off), buffer);
    if (!data.ok()) return ReplyError(req, data.status());
    fuse_reply_buf(req, reinterpret_cast<const char*>(data->data()),
                   data->size());
  } catch (const std::bad_alloc&) {
    fuse_reply_err(req, ENOMEM);
  }
}

void FuseRelease(fuse_req_t req, fuse_ino_t /*ino*/,
                 fuse_file_info* fi) noexcept {
  GetFs(req).Release(fi->fh);
  fuse_reply_err(req, 0);
}

// Nothing to flush on a read-only mount. Files this daemon opens say
// `noflush`; for those the kernel opens without asking (no-open) it sends
// FLUSH at every close, so the first answer is ENOSYS, which tells the
// kernel never to send it again: a close then costs no round trip (and no
// uninterruptible wait for the daemon's answer).
void FuseFlush(fuse_req_t req, fuse_ino_t /*ino*/,
               fuse_file_info* /*fi*/) noexcept {
  fuse_reply_err(req, ENOSYS);
}

void FuseFsync(fuse_req_t req, fuse_ino_t /*ino*/, int /*datasync*/,
               fuse_file_info* /*fi*/) noexcept {
  fuse_reply_err(req, 0);
}

void FuseStatfs(fuse_req_t req, fuse_ino_t /*ino*/) noexcept {
  try {
    Result<struct statvfs> sv = GetFs(req).StatFs();
    if (!sv.ok()) return ReplyError(req, sv.status());
    fuse_reply_statfs(req, &*sv);
  } catch (const std::bad_alloc&) {
    fuse_reply_err(req, ENOMEM);
  }
}

// An image without a single xattr answers getxattr with ENOSYS: the kernel
// then stops asking for the mount's lifetime (callers get EOPNOTSUPP, as on
// a filesystem without xattrs), which saves `ls -l` three round trips per
// file (security.selinux and the two POSIX ACL names). listxattr still
// answers with an empty list, so tar --xattrs, getfattr -d and rsync -X see
// no attributes rather than an error.
void FuseGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name,
                  size_t size) noexcept {
  if (!GetFs(req).holds_xattrs()) return (void)fuse_reply_err(req, ENOSYS);
  try {
    std::string scratch;  // holds a value whose ids the mount rewrites
    Result<std::string_view> value = GetFs(req).GetXattr(ino, name, &scratch);
    if (!value.ok()) return ReplyError(req, value.status());
    if (size == 0) return (void)fuse_reply_xattr(req, value->size());
    if (size < value->size()) return (void)fuse_reply_err(req, ERANGE);
    fuse_reply_buf(req, value->data(), value->size());
  } catch (const std::bad_alloc&) {
    fuse_reply_err(req, ENOMEM);
  }
}

void FuseListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) noexcept {
  try {
    Result<std::string> names = GetFs(req).ListXattr(ino);
    if (!names.ok()) return ReplyError(req, names.status());
    if (size == 0) return (void)fuse_reply_xattr(req, names->size());
    if (size < names->size()) return (void)fuse_reply_err(req, ERANGE);
    fuse_reply_buf(req, names->data(), names->size());
  } catch (const std::bad_alloc&) {
    fuse_reply_err(req, ENOMEM);
  }
}

void FuseAccess(fuse_req_t req, fuse_ino_t ino, int mask) noexcept {
  Status st = GetFs(req).Access(ino, mask);
  if (!st.ok()) return ReplyError(req, st);
  fuse_reply_err(req, 0);
}

void FuseIoctl(fuse_req_t req, fuse_ino_t /*ino*/, unsigned int cmd,
               void* /*arg*/, fuse_file_info* /*fi*/, unsigned flags,
               const void* /*in_buf*/, size_t /*in_bufsz*/,
               size_t out_bufsz) noexcept {
  if (cmd != kStatsIoctl || (flags & FUSE_IOCTL_COMPAT) != 0 ||
      out_bufsz < sizeof(StatsRecord)) {
    return (void)fuse_reply_err(req, ENOTTY);
  }
  StatsRecord rec;
  GetFs(req).FillStats(&rec);
  fuse_reply_ioctl(req, 0, &rec, sizeof(rec));
}

// Every request that would change the tree. The mount is read-only, so the
// kernel normally refuses these itself; they are answered anyway.
void FuseSetattr(fuse_req_t req, fuse_ino_t, struct stat*, int,
                 fuse_file_info*) noexcept {
  ReplyRofs(req);
}
void FuseMknod(fuse_req_t req, fuse_ino_t, const char*, mode_t,
               dev_t) noexcept {
  ReplyRofs(req);
}
void FuseMkdir(fuse_req_t req, fuse_ino_t, const char*, mode_t) noexcept {
  ReplyRofs(req);
}
void FuseUnlink(fuse_req_t req, fuse_ino_t, const char*) noexcept {
  ReplyRofs(req);
}
void FuseRmdir(fuse_req_t req, fuse_ino_t, const char*) noexcept {
  ReplyRofs(req);
}
void FuseSymlink(fuse_req_t req, const char*, fuse_ino_t,
                 const char*) noexcept {
  ReplyRofs(req);
}
void FuseRename(fuse_req_t req, fuse_ino_t, const char*, fuse_ino_t,
                const char*, unsigned int) noexcept {
  ReplyRofs(req);
}
void FuseLink(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) noexcept {
  ReplyRofs(req);
}
void FuseWrite(fuse_req_t req, fuse_ino_t, const char*, size_t, off_t,
               fuse_file_info*) noexcept {
  ReplyRofs(req);
}
void FuseCreate(fuse_req_t req, fuse_ino_t, const char*, mode_t,
                fuse_file_info*) noexcept {
  ReplyRofs(req);
}
void FuseSetxattr(fuse_req_t req, fuse_ino_t, const char*, const char*, size_t,
                  int) noexcept {
  ReplyRofs(req);
}
void FuseRemovexattr(fuse_req_t req, fuse_ino_t, const char*) noexcept {
  ReplyRofs(req);
}
void FuseFallocate(fuse_req_t req, fuse_ino_t, int, off_t, off_t,
                   fuse_file_info*) noexcept {
  ReplyRofs(req);
}
void FuseCopyFileRange(fuse_req_t req, fuse_ino_t, off_t, fuse_file_info*,
                       fuse_ino_t, off_t, fuse_file_info*, size_t,
                       int) noexcept {
  ReplyRofs(req);
}

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops{};
  ops.init = FuseInit;
  ops.lookup = FuseLookup;
  ops.forget = FuseForget;
  ops.forget_multi = FuseForgetMulti;
  ops.getattr = FuseGetattr;
  ops.readlink = FuseReadlink;
  ops.opendir = FuseOpendir;
  ops.readdir = FuseReaddir;
  ops.readdirplus = FuseReaddirplus;
  ops.releasedir = FuseReleasedir;
  ops.open = FuseOpen;
  ops.read = FuseRead;
  ops.release = FuseRelease;
  ops.flush = FuseFlush;
  ops.fsync = FuseFsync;
  ops.statfs = FuseStatfs;
  ops.getxattr = FuseGetxattr;
  ops.listxattr = FuseListxattr;
  ops.access = FuseAccess;
  ops.ioctl = FuseIoctl;
  ops.setattr = FuseSetattr;
  ops.mknod = FuseMknod;
  ops.mkdir = FuseMkdir;
  ops.unlink = FuseUnlink;
  ops.rmdir = FuseRmdir;
  ops.symlink = FuseSymlink;
  ops.rename = FuseRename;
  ops.link = FuseLink;
  ops.write = FuseWrite;
  ops.create = FuseCreate;
  ops.setxattr = FuseSetxattr;
  ops.removexattr = FuseRemovexattr;
  ops.fallocate = FuseFallocate;
  ops.copy_file_range = FuseCopyFileRange;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& FuseOps() {
  static const fuse_lowlevel_ops ops = MakeOps();
  return ops;
}

}  // namespace sealfs::fuse
