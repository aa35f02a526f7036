// SPDX-License-Identifier: Apache-2.0
// Placeholder: `sealfs inspect` is not implemented yet.
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {

int CmdInspect(int, char**) {
  return Fail("inspect", Status::FromErrno(ENOSYS, "not implemented yet"));
}

}  // namespace sealfs::tools
