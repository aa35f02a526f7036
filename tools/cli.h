// SPDX-License-Identifier: Apache-2.0
// What every subcommand shares: exit codes, the one-line error format, and a
// minimal JSON writer for --json output.
#ifndef SEALFS_TOOLS_CLI_H_
#define SEALFS_TOOLS_CLI_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "sealfs/status.h"

namespace sealfs::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the operation failed or found problems
inline constexpr int kExitUsage = 2;    // bad arguments; could not run

// Prints "sealfs CMD: <status>" on stderr and returns kExitFailure.
int Fail(std::string_view cmd, const Status& status);
// Prints "sealfs CMD: MESSAGE" and "Try 'sealfs CMD --help'." on stderr and
// returns kExitUsage.
int UsageError(std::string_view cmd, std::string_view message);

// Escapes `s` as a JSON string literal, quotes included. Bytes that are not
// valid UTF-8 are written as \u00XX of each byte, so output is always valid.
std::string JsonString(std::string_view s);

// Builds one JSON object or array incrementally, comma-separated.
// Example: JsonWriter w; w.BeginObject(); w.Key("n"); w.Int(1); w.End();
class JsonWriter {
 public:
  void BeginObject();
  void BeginArray();
  void End();
  void Key(std::string_view key);
  void String(std::string_view value);
  void Int(int64_t value);
  void Uint(uint64_t value);
  void Bool(bool value);
  void Null();
  const std::string& str() const { return out_; }

 private:
  void Separate();
  std::string out_;
  std::string closers_;  // one char per open container
  bool need_comma_ = false;
};

}  // namespace sealfs::tools

#endif  // SEALFS_TOOLS_CLI_H_
