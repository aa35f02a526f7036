// SPDX-License-Identifier: Apache-2.0
// `sealfs verify (--pubkey PUB ... | --keyring DIR) IMAGE [--json]`: exits 0
// only if IMAGE carries a valid signature by a trusted key, and prints the
// image identity and the key that verified it.
#include <getopt.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "sealfs/manifest_reader.h"
#include "sealfs/signature.h"
#include "tools/cli.h"
#include "tools/command.h"

namespace sealfs::tools {
namespace {

constexpr char kCmd[] = "verify";

void PrintHelp() {
  std::printf(
      "Usage: sealfs verify (--pubkey PUBFILE ... | --keyring DIR) IMAGE "
      "[--json]\n"
      "\n"
      "Check that IMAGE is a well-formed sealfs image carrying a valid\n"
      "Ed25519 signature by a trusted key. On success print the image\n"
      "identity (sha256:<hex>, the fs-verity digest of the manifest) and the\n"
      "id of the key that verified it. Otherwise print one line saying why\n"
      "(not signed, signed by an untrusted key, invalid signature, malformed\n"
      "image) and exit 1.\n"
      "\n"
      "Options:\n"
      "  -p, --pubkey PUBFILE   trust this PEM public key; may be repeated\n"
      "  -K, --keyring DIR      trust every DIR/*.pub; may be repeated\n"
      "      --json             print the result as one JSON object\n"
      "  -h, --help             show this help and exit\n"
      "\n"
      "Exit status: 0 valid and trusted, 1 not verified, 2 usage error.\n");
}

std::string BadOption(char** argv) {
  if (optopt != 0) return std::string("-") + static_cast<char>(optopt);
  return argv[optind - 1];
}

// --json output for both outcomes, so a script can parse either.
void PrintJson(const std::string& image, const Status& status,
               const Digest* identity, const PublicKey* key) {
  JsonWriter w;
  w.BeginObject();
  w.Key("image");
  w.String(image);
  w.Key("verified");
  w.Bool(status.ok());
  w.Key("identity");
  if (identity != nullptr) {
    w.String(identity->ToString());
  } else {
    w.Null();
  }
  w.Key("key_id");
  if (key != nullptr) {
    w.String(key->KeyId());
  } else {
    w.Null();
  }
  if (!status.ok()) {
    w.Key("error");
    w.String(status.ToString());
  }
  w.End();
  std::printf("%s\n", w.str().c_str());
}

}  // namespace

int CmdVerify(int argc, char** argv) {
  enum { kOptJson = 256 };
  static const option kOptions[] = {
      {"pubkey", required_argument, nullptr, 'p'},
      {"keyring", required_argument, nullptr, 'K'},
      {"json", no_argument, nullptr, kOptJson},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  optind = 0;
  opterr = 0;
  std::vector<std::string> pubkeys;
  std::vector<std::string> keyrings;
  bool json = false;
  int c;
  while ((c = getopt_long(argc, argv, ":p:K:h", kOptions, nullptr)) != -1) {
    switch (c) {
      case 'p':
        pubkeys.emplace_back(optarg);
        break;
      case 'K':
        keyrings.emplace_back(optarg);
        break;
      case kOptJson:
        json = true;
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
  if (pubkeys.empty() && keyrings.empty()) {
    return UsageError(kCmd, "no trusted keys: give --pubkey or --keyring");
  }
  if (argc - optind != 1) return UsageError(kCmd, "expected one IMAGE");
  const std::string image_path = argv[optind];

  // The trusted keys are the caller's configuration: a bad one is a failure
  // to run, reported as such, not a verdict on the image.
  std::vector<PublicKey> trusted;
  for (const std::string& path : pubkeys) {
    Result<PublicKey> key = LoadPublicKey(path);
    if (!key.ok()) return Fail(kCmd, key.status());
    trusted.push_back(*key);
  }
  for (const std::string& dir : keyrings) {
    Result<std::vector<PublicKey>> keys = LoadKeyring(dir);
    if (!keys.ok()) return Fail(kCmd, keys.status());
    trusted.insert(trusted.end(), keys->begin(), keys->end());
  }

  Result<std::shared_ptr<const Manifest>> image = Manifest::Open(image_path);
  if (!image.ok()) {
    // Manifest::Open names the file itself.
    if (json) PrintJson(image_path, image.status(), nullptr, nullptr);
    return Fail(kCmd, image.status());
  }
  const Digest& identity = (*image)->identity();
  Result<PublicKey> key = VerifyImage(**image, trusted);
  if (!key.ok()) {
    Status status = key.status().WithPrefix(image_path);
    if (json) PrintJson(image_path, status, &identity, nullptr);
    return Fail(kCmd, status);
  }
  if (json) {
    PrintJson(image_path, Status(), &identity, &*key);
  } else {
    std::printf("%s: verified\nidentity %s\nkey %s\n", image_path.c_str(),
                identity.ToString().c_str(), key->KeyId().c_str());
  }
  return kExitOk;
}

}  // namespace sealfs::tools
