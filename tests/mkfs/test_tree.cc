// SPDX-License-Identifier: Apache-2.0
// Generator of the every-file-kind test tree.
#include "tests/mkfs/test_tree.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <stdexcept>

#include "tests/test_util.h"

namespace sealfs::testing {
namespace {

void Check(bool ok, const std::string& what) {
  if (!ok) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
  }
}

void SetXattr(const std::string& path, const std::string& key,
              const std::string& value) {
  Check(lsetxattr(path.c_str(), key.c_str(), value.data(), value.size(), 0) ==
            0,
        "setxattr " + key + " " + path);
}

void MakeSocket(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  Check(fd >= 0, "socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    close(fd);
    throw std::runtime_error("socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  close(fd);
  errno = err;
  Check(rc == 0, "bind " + path);
}

}  // namespace

void MakeFullTree(const std::string& root, bool reverse) {
  const std::string r = root + "/";
  std::vector<std::function<void()>> steps;
  steps.push_back([&] {
    WriteFile(r + "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    WriteFile(r + "etc/hostname", "sealfs\n");
    Check(chmod((r + "etc").c_str(), 0755) == 0, "chmod etc");
  });
  steps.push_back([&] {
    // Sizes around the inline limit, block boundaries and a two-level tree.
    WriteFile(r + "data/64", RandomBytes(64, 1));
    WriteFile(r + "data/65", RandomBytes(65, 2));
    WriteFile(r + "data/4096", RandomBytes(4096, 3));
    WriteFile(r + "data/4097", RandomBytes(4097, 4));
    WriteFile(r + "data/big", RandomBytes(5 << 20, 5));  // over in-memory max
    WriteFile(r + "data/dup-a", RandomBytes(10000, 6));  // same content twice
    WriteFile(r + "data/dup-b", RandomBytes(10000, 6));
    WriteFile(r + "data/empty", "");
  });
  steps.push_back([&] {
    int fd = open((r + "sparse").c_str(), O_CREAT | O_WRONLY | O_EXCL, 0640);
    Check(fd >= 0, "create sparse");
    Check(ftruncate(fd, 3 << 20) == 0, "ftruncate");
    Check(pwrite(fd, "x", 1, 1 << 20) == 1, "pwrite sparse");
    close(fd);
  });
  steps.push_back([&] {
    WriteFile(r + "bin/ping", RandomBytes(300, 7));
    Check(chmod((r + "bin/ping").c_str(), 04755) == 0, "chmod setuid");
    SetXattr(r + "bin/ping", "security.capability",
             std::string("\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00"
                         "\x00\x00\x00\x00\x00\x00\x00\x00",
                         20));
    SetXattr(r + "bin/ping", "user.comment", "hello");
    SetXattr(r + "bin/ping", "trusted.overlay", std::string("\0\x01", 2));
    WriteFile(r + "bin/sgid", "x");
    Check(chmod((r + "bin/sgid").c_str(), 02711) == 0, "chmod setgid");
    Check(chown((r + "bin/sgid").c_str(), 1234, 5678) == 0, "chown");
  });
  steps.push_back([&] {
    Check(mkdir((r + "tmp").c_str(), 01777) == 0, "mkdir tmp");
    Check(chmod((r + "tmp").c_str(), 01777) == 0, "chmod tmp");
    SetXattr(r + "tmp", "user.dir", "on a directory");
  });
  steps.push_back([&] {
    Check(mkdir((r + "dev").c_str(), 0755) == 0, "mkdir dev");
    Check(mknod((r + "dev/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0,
          "mknod null");
    Check(mknod((r + "dev/sda").c_str(), S_IFBLK | 0660, makedev(8, 0)) == 0,
          "mknod sda");
    Check(mknod((r + "dev/big").c_str(), S_IFCHR | 0600,
                makedev(300, 70000)) == 0,
          "mknod big");
    Check(mkfifo((r + "dev/fifo").c_str(), 0644) == 0, "mkfifo");
    MakeSocket(r + "dev/sock");
  });
  steps.push_back([&] {
    Check(mkdir((r + "links").c_str(), 0755) == 0, "mkdir links");
    Check(symlink("../etc/passwd", (r + "links/rel").c_str()) == 0, "symlink");
    Check(symlink("/etc/shadow", (r + "links/abs").c_str()) == 0, "symlink");
    Check(symlink("dangling/nowhere", (r + "links/dangling").c_str()) == 0,
          "symlink");
    Check(symlink(std::string(4000, 'a').c_str(), (r + "links/long").c_str()) ==
              0,
          "symlink long");
    WriteFile(r + "links/hard1", RandomBytes(9000, 8));
    Check(link((r + "links/hard1").c_str(), (r + "links/hard2").c_str()) == 0,
          "link");
    std::filesystem::create_directories(r + "etc");
    Check(link((r + "links/hard1").c_str(), (r + "etc/hard3").c_str()) == 0,
          "link");
    WriteFile(r + "links/small1", "tiny");
    Check(link((r + "links/small1").c_str(), (r + "links/small2").c_str()) == 0,
          "link small");
    Check(mkfifo((r + "links/fifo1").c_str(), 0600) == 0, "mkfifo");
    Check(link((r + "links/fifo1").c_str(), (r + "links/fifo2").c_str()) == 0,
          "link fifo");
  });
  steps.push_back([&] {
    WriteFile(r + kNonUtf8Name, "latin-1 name");
    WriteFile(r + std::string(255, 'n'), "longest name");
    WriteFile(r + "with\nnewline", "x");
  });
  steps.push_back([&] {
    std::string p = r + "deep";
    for (int i = 0; i < kDeepLevels; ++i) p += "/d" + std::to_string(i);
    std::filesystem::create_directories(p);
    WriteFile(p + "/leaf", RandomBytes(5000, 9));
  });
  if (reverse) {
    for (auto it = steps.rbegin(); it != steps.rend(); ++it) (*it)();
  } else {
    for (auto& step : steps) step();
  }
  // Explicit nanosecond mtimes on a few entries (directories last, since
  // creating entries changes their mtime).
  timespec ts[2] = {{0, UTIME_OMIT}, {1700000000, 123456789}};
  Check(utimensat(AT_FDCWD, (r + "data/65").c_str(), ts, 0) == 0, "utimensat");
  ts[1] = {1700000001, 987654321};
  Check(utimensat(AT_FDCWD, (r + "links/rel").c_str(), ts,
                  AT_SYMLINK_NOFOLLOW) == 0,
        "utimensat symlink");
}

void SetAllMtimes(const std::string& root, int64_t sec, long nsec) {
  timespec ts[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(sec), nsec}};
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    Check(utimensat(AT_FDCWD, it->path().c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0,
          "utimensat " + it->path().string());
  }
  Check(utimensat(AT_FDCWD, root.c_str(), ts, 0) == 0, "utimensat root");
}

}  // namespace sealfs::testing
