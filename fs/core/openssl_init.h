// SPDX-License-Identifier: Apache-2.0
// OpenSSL's one-time set-up, without the system openssl.cnf: sealfs uses
// only the default provider's SHA-256 and Ed25519, nothing a configuration
// file could supply, and reading and applying it costs every mount about
// 1 ms. Called before the first OpenSSL use on each path (whichever call
// comes first decides, for the whole process).
#ifndef SEALFS_FS_CORE_OPENSSL_INIT_H_
#define SEALFS_FS_CORE_OPENSSL_INIT_H_

#include <openssl/crypto.h>

namespace sealfs {

inline void InitOpenSsl() {
  static const bool initialised =
      OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr) == 1;
  (void)initialised;  // on failure, the first real call reports it
}

// InitOpenSsl for a process that needs OpenSSL's reasons in no message (the
// mount daemon, whose refusals name the file and the check): OpenSSL's
// error strings, which it loads when a thread first uses its error queue
// (0.35-0.4 ms of each mount's first Ed25519 use, measured), are never
// loaded, and OpenSslError() leaves the missing reason out. Effective only
// before any other OpenSSL call in the process.
inline void InitOpenSslWithoutErrorStrings() {
  (void)OPENSSL_init_crypto(
      OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS,
      nullptr);
  InitOpenSsl();
}

}  // namespace sealfs

#endif  // SEALFS_FS_CORE_OPENSSL_INIT_H_
