// SPDX-License-Identifier: Apache-2.0
// Store file helpers for integration tests (see store_files.h).
#include "tests/integration/store_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "gtest/gtest.h"

#include "tests/test_util.h"

namespace sealfs::testing {
namespace {

std::string StorePathFor(const std::string& store, const char* top,
                         const std::string& path) {
  CommandResult r = Run({"fsverity", "digest", path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string hex = r.out.substr(r.out.find(':') + 1, 64);
  return store + "/" + top + "/" + hex.substr(0, 2) + "/" + hex.substr(2);
}

}  // namespace

std::string ObjectPathFor(const std::string& store, const std::string& path) {
  return StorePathFor(store, "objects", path);
}

std::string TreePathFor(const std::string& store, const std::string& path) {
  return StorePathFor(store, "trees", path);
}

void FlipByte(const std::string& path, off_t offset) {
  int fd = open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << path;
  unsigned char c = 0;
  ASSERT_EQ(pread(fd, &c, 1, offset), 1);
  c ^= 0x01;
  ASSERT_EQ(pwrite(fd, &c, 1, offset), 1);
  close(fd);
}

int ReadBlock(const std::string& path, size_t index,
              std::vector<uint8_t>* out) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECT);
  if (fd < 0) return errno;
  void* buf = nullptr;
  if (posix_memalign(&buf, kTestBlock, kTestBlock) != 0) abort();
  ssize_t n =
      pread(fd, buf, kTestBlock, static_cast<off_t>(index * kTestBlock));
  int err = n < 0 ? errno : 0;
  out->clear();
  if (n > 0) {
    auto* p = static_cast<uint8_t*>(buf);
    out->assign(p, p + n);
  }
  free(buf);
  close(fd);
  return err;
}

int ReadAll(const std::string& path, std::vector<uint8_t>* out) {
  out->clear();
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return errno;
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      int err = errno;
      close(fd);
      return err;
    }
    if (n == 0) break;
    out->insert(out->end(), buf, buf + n);
  }
  close(fd);
  return 0;
}

}  // namespace sealfs::testing
