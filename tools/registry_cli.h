// SPDX-License-Identifier: Apache-2.0
// The registry flags push and pull share, with skopeo's names:
// --tls-verify[=BOOL], --cert-dir DIR, --authfile FILE.
#ifndef SEALFS_TOOLS_REGISTRY_CLI_H_
#define SEALFS_TOOLS_REGISTRY_CLI_H_

#include <getopt.h>

#include <string>

#include "fs/remote/registry_client.h"

namespace sealfs::tools {

// getopt_long ids for the flags; a command's own ids stay below 1000.
enum RegistryFlag { kTlsVerify = 1000, kCertDir, kAuthfile };

// The `option` entries for the flags, to copy into a command's table.
#define SEALFS_REGISTRY_OPTIONS                                              \
  {"tls-verify", optional_argument, nullptr, ::sealfs::tools::kTlsVerify},   \
      {"cert-dir", required_argument, nullptr, ::sealfs::tools::kCertDir}, { \
    "authfile", required_argument, nullptr, ::sealfs::tools::kAuthfile       \
  }

// Applies flag `id` with `arg` to `out`. False, with `*error` set, for a bad
// value (--tls-verify takes true or false).
bool ApplyRegistryFlag(int id, const char* arg, remote::RegistryOptions* out,
                       std::string* error);

// The lines --help prints for the flags.
inline constexpr char kRegistryFlagsHelp[] =
    "  --tls-verify[=BOOL]  require HTTPS with a certificate that verifies\n"
    "                     (default true; false also allows plain HTTP)\n"
    "  --cert-dir DIR     also trust the CA certificates DIR/*.crt\n"
    "  --authfile FILE    credentials (default: $REGISTRY_AUTH_FILE,\n"
    "                     $XDG_RUNTIME_DIR/containers/auth.json,\n"
    "                     ~/.config/containers/auth.json,\n"
    "                     ~/.docker/config.json)\n";

}  // namespace sealfs::tools

#endif  // SEALFS_TOOLS_REGISTRY_CLI_H_
