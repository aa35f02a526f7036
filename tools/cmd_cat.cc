// SPDX-License-Identifier: Apache-2.0
// Placeholder: `sealfs cat` is not implemented yet.
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {

int CmdCat(int, char**) {
  return Fail("cat", Status::FromErrno(ENOSYS, "not implemented yet"));
}

}  // namespace sealfs::tools
