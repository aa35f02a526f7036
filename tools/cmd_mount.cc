// SPDX-License-Identifier: Apache-2.0
// Placeholder: `sealfs mount` is not implemented yet.
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {

int CmdMount(int, char**) {
  return Fail("mount", Status::FromErrno(ENOSYS, "not implemented yet"));
}
int CmdMountHelper(int, char**) {
  return Fail("mount", Status::FromErrno(ENOSYS, "not implemented yet"));
}

}  // namespace sealfs::tools
