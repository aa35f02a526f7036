// SPDX-License-Identifier: Apache-2.0
// SetMountReadahead: one write to the mount's bdi's read_ahead_kb.
#include "fs/fuse/bdi.h"

#include <fcntl.h>

#include <cstdint>

#include "fs/util/io.h"
#include "sealfs/unique_fd.h"

namespace sealfs::fuse {

Status SetMountReadahead(const std::string& device, unsigned kb) {
  const std::string sys = "/sys/class/bdi/" + device + "/read_ahead_kb";
  UniqueFd fd(::open(sys.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(sys);
  const std::string value = std::to_string(kb) + "\n";
  return WriteFull(fd.get(),
                   {reinterpret_cast<const uint8_t*>(value.data()),
                    value.size()});
}

}  // namespace sealfs::fuse
