// SPDX-License-Identifier: Apache-2.0
// DumpImage: one composefs dump line per path of a manifest.
#include "fs/mkfs/dump_writer.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cinttypes>
#include <cstdio>
#include <string_view>
#include <unordered_map>

#include "fs/mkfs/dump_format.h"
#include "fs/mkfs/image_walk.h"

namespace sealfs::mkfs {
namespace {

void AppendNumbers(std::string* out, const Inode& in, uint64_t size,
                   bool hard_link) {
  uint64_t rdev = 0;
  if (S_ISCHR(in.mode) || S_ISBLK(in.mode)) {
    rdev = gnu_dev_makedev(in.rdev_major, in.rdev_minor);
  }
  char buf[160];
  std::snprintf(buf, sizeof(buf),
                " %" PRIu64 " %s%o %" PRIu32 " %" PRIu32 " %" PRIu32
                " %" PRIu64 " %" PRId64 ".%" PRIu32 " ",
                size, hard_link ? "@" : "", in.mode, in.nlink, in.uid, in.gid,
                rdev, in.mtime_sec, in.mtime_nsec);
  out->append(buf);
}

// " KEY=VALUE" for each xattr, then the end of the line.
Status AppendXattrs(std::string* out, const Manifest& manifest, uint64_t ino) {
  SEALFS_ASSIGN_OR_RETURN(std::vector<XattrView> xattrs,
                          manifest.ListXattrs(ino));
  for (const XattrView& x : xattrs) {
    out->push_back(' ');
    AppendDumpEscaped(out, x.key, DumpEscape::kEqual);
    out->push_back('=');
    AppendDumpEscaped(out, x.value, DumpEscape::kEqual);
  }
  out->push_back('\n');
  return Status();
}

}  // namespace

Result<std::string> DumpImage(const Manifest& manifest) {
  std::string out;
  // First path of every inode with more than one link.
  std::unordered_map<uint64_t, std::string> first_path;
  Status walked = WalkImage(manifest, [&](const std::string& path,
                                          const Inode& in) -> Status {
    AppendDumpEscaped(&out, path, DumpEscape::kStandard);
    if (!S_ISDIR(in.mode) && in.nlink > 1) {
      auto [it, first] = first_path.emplace(in.ino, path);
      if (!first) {
        // Hard link: the target's fields, PAYLOAD naming its first path.
        uint64_t size = S_ISREG(in.mode) || S_ISLNK(in.mode) ? in.size : 0;
        AppendNumbers(&out, in, size, true);
        AppendDumpEscaped(&out, it->second, DumpEscape::kLoneDash);
        out.append(" -");
        if (S_ISREG(in.mode) && !in.is_inline()) {
          SEALFS_ASSIGN_OR_RETURN(Digest d, manifest.FileDigest(in.ino));
          out.append(" ").append(d.Hex());
        } else {
          out.append(" -");
        }
        return AppendXattrs(&out, manifest, in.ino);
      }
    }
    uint64_t size = S_ISREG(in.mode) || S_ISLNK(in.mode) ? in.size : 0;
    AppendNumbers(&out, in, size, false);
    std::string payload = "-", content = "-", digest = "-";
    if (S_ISREG(in.mode)) {
      if (in.is_inline()) {
        SEALFS_ASSIGN_OR_RETURN(std::span<const uint8_t> data,
                                manifest.InlineData(in.ino));
        if (!data.empty()) {
          content.clear();
          AppendDumpEscaped(
              &content,
              std::string_view(reinterpret_cast<const char*>(data.data()),
                               data.size()),
              DumpEscape::kLoneDash);
        }
      } else {
        SEALFS_ASSIGN_OR_RETURN(Digest d, manifest.FileDigest(in.ino));
        digest = d.Hex();
        payload = digest.substr(0, 2) + "/" + digest.substr(2);
      }
    } else if (S_ISLNK(in.mode)) {
      SEALFS_ASSIGN_OR_RETURN(std::string_view target,
                              manifest.ReadLink(in.ino));
      payload.clear();
      AppendDumpEscaped(&payload, target, DumpEscape::kLoneDash);
    }
    out.append(payload).append(" ").append(content).append(" ").append(digest);
    return AppendXattrs(&out, manifest, in.ino);
  });
  if (!walked.ok()) return walked;
  return out;
}

}  // namespace sealfs::mkfs
