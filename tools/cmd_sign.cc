// SPDX-License-Identifier: Apache-2.0
// `sealfs sign --key KEYFILE IMAGE`: adds (or renews) the signature of one
// key to an image file; the manifest bytes and so the identity are unchanged.
#include <getopt.h>

#include <cstdio>
#include <string>

#include "sealfs/signature.h"
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {
namespace {

constexpr char kCmd[] = "sign";

void PrintHelp() {
  std::printf(
      "Usage: sealfs sign --key KEYFILE IMAGE\n"
      "\n"
      "Sign IMAGE with the Ed25519 private key in KEYFILE (made by 'sealfs\n"
      "keygen'). The signature covers the image identity (the fs-verity\n"
      "digest of the manifest) and is added to the signature block after the\n"
      "manifest; a signature by the same key is replaced, others are kept.\n"
      "The file is rewritten atomically and keeps its mode. The key file must\n"
      "not be accessible by group or others (chmod 600).\n"
      "\n"
      "Options:\n"
      "  -k, --key KEYFILE   private key to sign with (required)\n"
      "  -h, --help          show this help and exit\n"
      "\n"
      "Exit status: 0 signed, 1 failure, 2 usage error.\n");
}

// The option getopt_long just refused: a short one by its letter, a long one
// as written.
std::string BadOption(char** argv) {
  if (optopt != 0) return std::string("-") + static_cast<char>(optopt);
  return argv[optind - 1];
}

}  // namespace

int CmdSign(int argc, char** argv) {
  static const option kOptions[] = {
      {"key", required_argument, nullptr, 'k'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  optind = 0;
  opterr = 0;
  std::string key_path;
  int c;
  while ((c = getopt_long(argc, argv, ":k:h", kOptions, nullptr)) != -1) {
    switch (c) {
      case 'k':
        key_path = optarg;
        break;
      case 'h':
        PrintHelp();
        return kExitOk;
      case ':':
        return UsageError(kCmd,
                          "option '" + BadOption(argv) + "' needs an argument");
      default:
        return UsageError(kCmd, "unknown option '" + BadOption(argv) + "'");
    }
  }
  if (key_path.empty()) return UsageError(kCmd, "--key KEYFILE is required");
  if (argc - optind != 1) return UsageError(kCmd, "expected one IMAGE");
  const std::string image = argv[optind];

  Result<SigningKey> key = SigningKey::Load(key_path);
  if (!key.ok()) return Fail(kCmd, key.status());
  Status status = SignImageFile(image, *key);
  if (!status.ok()) return Fail(kCmd, status);
  std::printf("signed %s with key %s\n", image.c_str(),
              key->public_key().KeyId().c_str());
  return kExitOk;
}

}  // namespace sealfs::tools
