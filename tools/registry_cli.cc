// SPDX-License-Identifier: Apache-2.0
#include "tools/registry_cli.h"

#include <cstring>

namespace sealfs::tools {

bool ApplyRegistryFlag(int id, const char* arg, remote::RegistryOptions* out,
                       std::string* error) {
  switch (id) {
    case kTlsVerify:
      if (arg == nullptr || std::strcmp(arg, "true") == 0) {
        out->tls_verify = true;
      } else if (std::strcmp(arg, "false") == 0) {
        out->tls_verify = false;
      } else {
        *error = "--tls-verify takes true or false";
        return false;
      }
      return true;
    case kCertDir:
      out->cert_dir = arg;
      return true;
    case kAuthfile:
      out->authfile = arg;
      return true;
    default:
      *error = "unknown registry flag";
      return false;
  }
}

}  // namespace sealfs::tools
