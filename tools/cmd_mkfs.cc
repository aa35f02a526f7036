// SPDX-License-Identifier: Apache-2.0
// Placeholder: `sealfs mkfs` is not implemented yet.
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {

int CmdMkfs(int, char**) {
  return Fail("mkfs", Status::FromErrno(ENOSYS, "not implemented yet"));
}

}  // namespace sealfs::tools
