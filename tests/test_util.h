// SPDX-License-Identifier: Apache-2.0
// Helpers shared by all tests: temporary directories, file creation, random
// bytes, and running commands (the sealfs binary, fsverity, diff, ...).
#ifndef SEALFS_TESTS_TEST_UTIL_H_
#define SEALFS_TESTS_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

namespace sealfs::testing {

// A fresh directory under $TMPDIR (default /tmp), removed recursively with
// everything in it when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const {
    return path_ + "/" + name;
  }

 private:
  std::string path_;
};

// Deterministic pseudo-random bytes (the same seed gives the same bytes).
std::vector<uint8_t> RandomBytes(size_t size, uint64_t seed);

// Creates or replaces `path` with `data`, creating parent directories.
void WriteFile(const std::string& path, const std::vector<uint8_t>& data);
void WriteFile(const std::string& path, const std::string& data);
std::vector<uint8_t> ReadFile(const std::string& path);

struct CommandResult {
  int exit_code = -1;  // -1 if killed by a signal
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs `argv` (argv[0] looked up in PATH) with stdin from /dev/null, and
// waits for it. `stdin_data`, if given, is fed on stdin instead.
CommandResult Run(const std::vector<std::string>& argv);
CommandResult RunWithInput(const std::vector<std::string>& argv,
                           const std::string& stdin_data);
// Runs `sh -c script`.
CommandResult Shell(const std::string& script);

// Path of the sealfs binary under test.
inline std::string SealfsBin() { return SEALFS_BIN; }

// True if `prog` is found in PATH.
bool HaveProgram(const std::string& prog);

}  // namespace sealfs::testing

#endif  // SEALFS_TESTS_TEST_UTIL_H_
