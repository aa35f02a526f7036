// SPDX-License-Identifier: Apache-2.0
// Placeholder: `sealfs keygen` is not implemented yet.
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {

int CmdKeygen(int, char**) {
  return Fail("keygen", Status::FromErrno(ENOSYS, "not implemented yet"));
}

}  // namespace sealfs::tools
