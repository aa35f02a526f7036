// SPDX-License-Identifier: Apache-2.0
// Placeholder: `sealfs digest` is not implemented yet.
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {

int CmdDigest(int, char**) {
  return Fail("digest", Status::FromErrno(ENOSYS, "not implemented yet"));
}

}  // namespace sealfs::tools
