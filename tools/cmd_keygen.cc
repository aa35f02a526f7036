// SPDX-License-Identifier: Apache-2.0
// `sealfs keygen KEYFILE`: creates an Ed25519 key pair for signing images
// (KEYFILE, mode 0600, and KEYFILE.pub, mode 0644) and prints its key id.
#include <getopt.h>

#include <cstdio>
#include <string>

#include "sealfs/signature.h"
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {
namespace {

constexpr char kCmd[] = "keygen";

void PrintHelp() {
  std::printf(
      "Usage: sealfs keygen [OPTIONS] KEYFILE\n"
      "\n"
      "Create a new Ed25519 key pair for signing images: the private key in\n"
      "KEYFILE (PEM PKCS#8, mode 0600) and the public key in KEYFILE.pub\n"
      "(PEM SubjectPublicKeyInfo, mode 0644). Existing files are never\n"
      "overwritten. Prints the key id (hex SHA-256 of the raw public key).\n"
      "\n"
      "Options:\n"
      "  -h, --help   show this help and exit\n"
      "\n"
      "Exit status: 0 created, 1 failure (e.g. KEYFILE exists), 2 usage "
      "error.\n");
}

// The option getopt_long just refused: a short one by its letter, a long one
// as written.
std::string BadOption(char** argv) {
  if (optopt != 0) return std::string("-") + static_cast<char>(optopt);
  return argv[optind - 1];
}

}  // namespace

int CmdKeygen(int argc, char** argv) {
  static const option kOptions[] = {
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  optind = 0;  // reset getopt state; argv[0] is the command name
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":h", kOptions, nullptr)) != -1) {
    switch (c) {
      case 'h':
        PrintHelp();
        return kExitOk;
      default:
        return UsageError(kCmd, "unknown option '" + BadOption(argv) + "'");
    }
  }
  if (argc - optind != 1) return UsageError(kCmd, "expected one KEYFILE");
  const std::string path = argv[optind];
  if (path.empty()) return UsageError(kCmd, "KEYFILE is empty");

  Status status = GenerateKeyPair(path);
  if (!status.ok()) return Fail(kCmd, status);
  // Read the public key back: it proves the pair on disk is usable, and the
  // id printed is the one `sign` and `verify` will print.
  Result<PublicKey> pub = LoadPublicKey(path + ".pub");
  if (!pub.ok()) return Fail(kCmd, pub.status());
  std::printf("created %s and %s.pub, key %s\n", path.c_str(), path.c_str(),
              pub->KeyId().c_str());
  return kExitOk;
}

}  // namespace sealfs::tools
