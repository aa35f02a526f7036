// SPDX-License-Identifier: Apache-2.0
// Placeholder: `sealfs verify` is not implemented yet.
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {

int CmdVerify(int, char**) {
  return Fail("verify", Status::FromErrno(ENOSYS, "not implemented yet"));
}

}  // namespace sealfs::tools
