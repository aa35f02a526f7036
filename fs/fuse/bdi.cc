// SPDX-License-Identifier: Apache-2.0
// SetMountReadahead: the mount's device number from /proc/self/mountinfo,
// then one write to its bdi's read_ahead_kb.
#include "fs/fuse/bdi.h"

#include <fcntl.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string_view>

#include "fs/fuse/mountinfo.h"
#include "fs/util/io.h"
#include "sealfs/unique_fd.h"

namespace sealfs::fuse {

Status SetMountReadahead(const std::string& path, unsigned kb) {
  // A stream, not ReadFileBytes: proc files report size 0.
  std::ifstream lines("/proc/self/mountinfo");
  if (!lines) return ErrnoStatus("/proc/self/mountinfo");
  std::string line, dev;
  // The last matching line is the topmost mount there: ours.
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string id, parent, majmin, root, point;
    if (!(fields >> id >> parent >> majmin >> root >> point)) continue;
    if (UnescapeMountinfo(point) != path) continue;
    size_t dash = line.find(" - ");
    if (dash == std::string::npos ||
        line.compare(dash + 3, 4, "fuse") != 0) {
      continue;
    }
    dev = majmin;
  }
  if (dev.empty()) {
    return Status::FromErrno(ENOENT, path + ": no FUSE mount in mountinfo");
  }
  for (char c : dev) {
    if ((c < '0' || c > '9') && c != ':') {
      return Status::Corrupt("mountinfo: bad device " + dev);
    }
  }
  const std::string sys = "/sys/class/bdi/" + dev + "/read_ahead_kb";
  UniqueFd fd(::open(sys.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(sys);
  const std::string value = std::to_string(kb) + "\n";
  return WriteFull(fd.get(),
                   {reinterpret_cast<const uint8_t*>(value.data()),
                    value.size()});
}

}  // namespace sealfs::fuse
