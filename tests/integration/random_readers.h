// SPDX-License-Identifier: Apache-2.0
// Many threads reading random ranges of random files under a mount for a
// while, every byte compared with what the file should hold.
#ifndef SEALFS_TESTS_INTEGRATION_RANDOM_READERS_H_
#define SEALFS_TESTS_INTEGRATION_RANDOM_READERS_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace sealfs::testing {

struct ReaderFile {
  std::string path;              // under the mount
  std::vector<uint8_t> content;  // what it must read as
};

struct ReaderStats {
  uint64_t reads = 0;
  uint64_t mismatches = 0;  // wrong length or wrong bytes
  uint64_t errors = 0;      // failed open or pread
};

// Runs `threads` readers until `duration` has passed. Each opens a random
// file, preads 8 random ranges (up to 1 MiB, also past the end), and now and
// then drops the file's page cache so that reads reach the daemon.
ReaderStats ReadRandomly(const std::vector<ReaderFile>& files, int threads,
                         std::chrono::seconds duration);

}  // namespace sealfs::testing

#endif  // SEALFS_TESTS_INTEGRATION_RANDOM_READERS_H_
