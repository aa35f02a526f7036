// SPDX-License-Identifier: Apache-2.0
#include "tools/store_cli.h"

#include <cstdio>
#include <cstdlib>

#include "tools/cli.h"

namespace sealfs::tools {

std::string DefaultStore() {
  const char* env = std::getenv("SEALFS_STORE");
  return env != nullptr && *env != '\0' ? env : kDefaultStore;
}

std::string HumanBytes(uint64_t bytes) {
  char buf[32];
  const double b = static_cast<double>(bytes);
  if (bytes < 1024) {
    std::snprintf(buf, sizeof(buf), "%llu B",
                  static_cast<unsigned long long>(bytes));
  } else if (bytes < (1ull << 20)) {
    std::snprintf(buf, sizeof(buf), "%.1f KiB", b / 1024.0);
  } else if (bytes < (1ull << 30)) {
    std::snprintf(buf, sizeof(buf), "%.1f MiB", b / 1048576.0);
  } else {
    std::snprintf(buf, sizeof(buf), "%.2f GiB", b / 1073741824.0);
  }
  return buf;
}

std::string QuarantineRecordJson(const store::QuarantineRecord& r,
                                 const char* by) {
  JsonWriter w;
  w.BeginObject();
  w.Key("original"); w.String(r.original);
  w.Key("reason"); w.String(r.reason);
  w.Key("expected"); r.expected.empty() ? w.Null() : w.String(r.expected);
  w.Key("actual"); r.actual.empty() ? w.Null() : w.String(r.actual);
  w.Key("time"); w.Int(r.time);
  w.Key("quarantined_as"); w.String(r.quarantined_as);
  w.Key("by"); w.String(by);
  w.End();
  return w.str();
}

}  // namespace sealfs::tools
