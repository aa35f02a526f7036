// SPDX-License-Identifier: Apache-2.0
// Placeholder: `sealfs sign` is not implemented yet.
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {

int CmdSign(int, char**) {
  return Fail("sign", Status::FromErrno(ENOSYS, "not implemented yet"));
}

}  // namespace sealfs::tools
