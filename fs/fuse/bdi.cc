// SPDX-License-Identifier: Apache-2.0
// Reading and writing a bdi's read_ahead_kb.
#include "fs/fuse/bdi.h"

#include <sys/sysmacros.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "fs/util/io.h"

namespace sealfs::fuse {

Status SetMountReadahead(const std::string& device, unsigned kb) {
  return WriteExistingFile("/sys/class/bdi/" + device + "/read_ahead_kb",
                           std::to_string(kb) + "\n");
}

unsigned DeviceReadaheadKb(dev_t dev) {
  const std::string id =
      std::to_string(major(dev)) + ":" + std::to_string(minor(dev));
  // A disk has a bdi of its own; a partition's is its disk's queue.
  for (const std::string& sys :
       {"/sys/class/bdi/" + id + "/read_ahead_kb",
        "/sys/dev/block/" + id + "/../queue/read_ahead_kb"}) {
    Result<std::vector<uint8_t>> text = ReadFileBytes(sys);
    if (!text.ok()) continue;
    std::string value(text->begin(), text->end());
    return static_cast<unsigned>(std::strtoul(value.c_str(), nullptr, 10));
  }
  return 0;
}

}  // namespace sealfs::fuse
