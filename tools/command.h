// SPDX-License-Identifier: Apache-2.0
// The subcommands of `sealfs`. Each one lives in tools/cmd_<name>.cc, takes
// argv with argv[0] = its own name, and returns the process exit code.
#ifndef SEALFS_TOOLS_COMMAND_H_
#define SEALFS_TOOLS_COMMAND_H_

namespace sealfs::tools {

int CmdDigest(int argc, char** argv);
int CmdMkfs(int argc, char** argv);
int CmdKeygen(int argc, char** argv);
int CmdSign(int argc, char** argv);
int CmdVerify(int argc, char** argv);
int CmdInspect(int argc, char** argv);
int CmdLs(int argc, char** argv);
int CmdCat(int argc, char** argv);
int CmdMount(int argc, char** argv);
int CmdStats(int argc, char** argv);
int CmdServe(int argc, char** argv);
int CmdMounts(int argc, char** argv);
int CmdDump(int argc, char** argv);
int CmdDiff(int argc, char** argv);
int CmdTag(int argc, char** argv);
int CmdImages(int argc, char** argv);
int CmdFsck(int argc, char** argv);
int CmdGc(int argc, char** argv);
int CmdPull(int argc, char** argv);
int CmdPush(int argc, char** argv);
// `mount.fuse.sealfs SOURCE DIR [-sfnv] [-o OPTIONS]`, as mount(8) calls it.
int CmdMountHelper(int argc, char** argv);

}  // namespace sealfs::tools

#endif  // SEALFS_TOOLS_COMMAND_H_
