// SPDX-License-Identifier: Apache-2.0
// Placeholder: `sealfs ls` is not implemented yet.
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {

int CmdLs(int, char**) {
  return Fail("ls", Status::FromErrno(ENOSYS, "not implemented yet"));
}

}  // namespace sealfs::tools
