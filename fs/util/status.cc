// SPDX-License-Identifier: Apache-2.0
#include "sealfs/status.h"

#include <cstring>

namespace sealfs {

std::string Status::ToString() const {
  if (ok()) return "OK";
  if (err_ == kErrCorrupt || err_ == kErrDigest) {
    const char* what = err_ == kErrCorrupt ? "corrupt" : "digest mismatch";
    return context_.empty() ? what : context_;
  }
  const char* desc = strerrordesc_np(err_);  // thread-safe, unlike strerror
  std::string text = desc != nullptr ? desc : "error " + std::to_string(err_);
  return context_.empty() ? text : context_ + ": " + text;
}

}  // namespace sealfs
