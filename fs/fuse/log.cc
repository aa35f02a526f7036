// SPDX-License-Identifier: Apache-2.0
// Log sink: stderr or syslog.
#include "fs/fuse/log.h"

#include <syslog.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>

#include <fuse_log.h>

namespace sealfs::fuse {
namespace {

std::atomic<bool> use_syslog{false};

void FuseLogFunc(enum fuse_log_level level, const char* fmt, va_list ap) {
  char line[1024];
  std::vsnprintf(line, sizeof(line), fmt, ap);
  std::string text = line;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  int priority = static_cast<int>(level);  // fuse_log_level mirrors syslog
  Log(priority, "libfuse: " + text);
}

}  // namespace

void LogToSyslog() {
  openlog("sealfs", LOG_PID | LOG_NDELAY, LOG_DAEMON);
  use_syslog.store(true);
  InstallFuseLogger();
}

void InstallFuseLogger() { fuse_set_log_func(FuseLogFunc); }

void Log(int priority, const std::string& line) {
  if (use_syslog.load()) {
    syslog(priority, "%s", line.c_str());
  } else {
    std::fprintf(stderr, "sealfs: %s\n", line.c_str());
  }
}

}  // namespace sealfs::fuse
