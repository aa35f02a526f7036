// SPDX-License-Identifier: Apache-2.0
// Where the driver's messages go: stderr in the foreground, syslog once the
// daemon is detached. The destination is process-wide, like openlog(3).
// Thread-safety: Log() may be called from any thread.
#ifndef SEALFS_FS_FUSE_LOG_H_
#define SEALFS_FS_FUSE_LOG_H_

#include <syslog.h>

#include <string>

namespace sealfs::fuse {

// Sends further messages to syslog (facility daemon, tag "sealfs") instead of
// stderr. Also routes libfuse's own messages through Log().
void LogToSyslog();
// Routes libfuse's messages through Log() (stderr until LogToSyslog()).
void InstallFuseLogger();

// One line; `priority` is a syslog level (LOG_ERR, LOG_WARNING, LOG_INFO).
void Log(int priority, const std::string& line);

}  // namespace sealfs::fuse

#endif  // SEALFS_FS_FUSE_LOG_H_
