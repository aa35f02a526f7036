// SPDX-License-Identifier: Apache-2.0
// Placeholder: `sealfs stats` is not implemented yet.
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {

int CmdStats(int, char**) {
  return Fail("stats", Status::FromErrno(ENOSYS, "not implemented yet"));
}

}  // namespace sealfs::tools
