// SPDX-License-Identifier: Apache-2.0
// Sessions in systemd's file-descriptor store.
#include "fs/serve/fd_store.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <cstdlib>
#include <map>
#include <string_view>

#include "fs/serve/fd_names.h"
#include "fs/serve/notify.h"
#include "fs/util/io.h"
#include "sealfs/unique_fd.h"

namespace sealfs::serve {
namespace {

constexpr int kListenFdsStart = 3;  // SD_LISTEN_FDS_START
constexpr int kRecordSeals =
    F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

const char* Env(const char* name) {
  return std::getenv(name);  // NOLINT(concurrency-mt-unsafe): at start-up
}

bool ParseCount(const char* text, uint64_t* out) {
  if (text == nullptr || *text == '\0') return false;
  std::string_view s(text);
  auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return err == std::errc() && end == s.data() + s.size();
}

Result<UniqueFd> RecordMemfd(const SessionRecord& rec) {
  std::vector<uint8_t> bytes = EncodeMessage(EncodeSession(rec));
  UniqueFd fd(memfd_create("sealfs-session", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) return ErrnoStatus("memfd_create");
  SEALFS_RETURN_IF_ERROR(WriteFull(fd.get(), bytes));
  if (fcntl(fd.get(), F_ADD_SEALS, kRecordSeals) != 0) {
    return ErrnoStatus("sealing the session record");
  }
  return fd;
}

Result<SessionRecord> ReadRecord(int fd, uint64_t id) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status::FromErrno(EINVAL, "record: not a file");
  }
  // Sealed: nobody holding a copy can have changed it since it was made.
  const int seals = fcntl(fd, F_GET_SEALS);
  if (seals < 0 || (seals & kRecordSeals) != kRecordSeals) {
    return Status::FromErrno(EINVAL, "record: not a sealed memfd");
  }
  if (st.st_size <= 0 || static_cast<uint64_t>(st.st_size) > kMaxMessageBytes) {
    return Status::FromErrno(EINVAL, "record: bad size");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  SEALFS_ASSIGN_OR_RETURN(size_t got, PreadFull(fd, bytes, 0));
  if (got != bytes.size()) return Status::FromErrno(EIO, "record: short");
  SEALFS_ASSIGN_OR_RETURN(Message m, ParseMessage(bytes));
  SEALFS_ASSIGN_OR_RETURN(SessionRecord rec, DecodeSession(m));
  if (rec.id != id) {
    return Status::FromErrno(EINVAL, "record: of another session");
  }
  return rec;
}

bool IsFuseDevice(int fd) {
  struct stat st {};
  return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) &&
         st.st_rdev == makedev(10, 229);
}

}  // namespace

bool FdStoreWanted(bool asked) {
  const char* notify = Env("NOTIFY_SOCKET");
  if (notify == nullptr || *notify == '\0') return false;
  uint64_t max = 0;
  return asked || (ParseCount(Env("FDSTORE"), &max) && max > 0);
}

Status StoreSession(const SessionRecord& rec, std::span<const int> fds) {
  if (fds.size() != 3) return Status::FromErrno(EINVAL, "three fds");
  SEALFS_ASSIGN_OR_RETURN(UniqueFd record, RecordMemfd(rec));
  const std::array<int, kFdKinds> all = {fds[0], fds[1], fds[2], record.get()};
  for (size_t k = 0; k < kFdKinds; ++k) {
    // One message per name: systemd names every fd of a message alike and
    // does not keep their order.
    const std::string msg =
        "FDSTORE=1\nFDNAME=" + FdName(rec.id, static_cast<FdKind>(k));
    if (!NotifySystemd(msg, {&all[k], 1})) {
      return Status::FromErrno(
          EIO, "FDSTORE of " + FdName(rec.id, static_cast<FdKind>(k)));
    }
  }
  return Status();
}

void RemoveSession(uint64_t id) {
  for (size_t k = 0; k < kFdKinds; ++k) {
    (void)NotifySystemd("FDSTOREREMOVE=1\nFDNAME=" +
                        FdName(id, static_cast<FdKind>(k)));
  }
}

std::vector<HeldSession> TakeStoredSessions(
    std::vector<std::string>* problems) {
  std::vector<HeldSession> out;
  uint64_t pid = 0;
  uint64_t count = 0;
  if (!ParseCount(Env("LISTEN_PID"), &pid) ||
      pid != static_cast<uint64_t>(getpid()) ||
      !ParseCount(Env("LISTEN_FDS"), &count) || count == 0) {
    return out;
  }
  const char* names_env = Env("LISTEN_FDNAMES");
  const std::string names = names_env != nullptr ? names_env : "";
  // NOLINTBEGIN(concurrency-mt-unsafe): at start-up, one thread
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  // NOLINTEND(concurrency-mt-unsafe)
  if (count > kMaxListenFds) {
    problems->push_back("LISTEN_FDS: too many descriptors, none taken");
    return out;
  }
  Result<std::vector<NamedFd>> parsed = ParseListenFdNames(names, count);
  std::vector<UniqueFd> fds;
  for (uint64_t i = 0; i < count; ++i) {
    const int fd = kListenFdsStart + static_cast<int>(i);
    fds.emplace_back(fd);
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  if (!parsed.ok()) {
    problems->push_back(parsed.status().ToString());
    return out;  // closes them all
  }
  std::map<uint64_t, std::array<UniqueFd, kFdKinds>> sessions;
  std::map<uint64_t, bool> broken;
  for (size_t i = 0; i < fds.size(); ++i) {
    const NamedFd& n = (*parsed)[i];
    if (!n.ours) {
      problems->push_back("a stored descriptor not named by sealfs: closed");
      continue;
    }
    UniqueFd& slot = sessions[n.id][static_cast<size_t>(n.kind)];
    if (slot.valid()) broken[n.id] = true;
    slot = std::move(fds[i]);
  }
  for (auto& [id, set] : sessions) {
    const std::string what = "stored session " + std::to_string(id) + ": ";
    bool complete = !broken[id];
    for (const UniqueFd& fd : set) complete = complete && fd.valid();
    if (!complete) {
      problems->push_back(what + "a descriptor missing or given twice");
      RemoveSession(id);
      continue;
    }
    if (!IsFuseDevice(set[0].get())) {
      problems->push_back(what + "not a /dev/fuse connection");
      RemoveSession(id);
      continue;
    }
    Result<SessionRecord> rec = ReadRecord(set[3].get(), id);
    if (!rec.ok()) {
      problems->push_back(what + rec.status().ToString());
      RemoveSession(id);
      continue;
    }
    HeldSession held;
    held.record = std::move(*rec);
    for (size_t k = 0; k < 3; ++k) held.fds.push_back(std::move(set[k]));
    out.push_back(std::move(held));
  }
  return out;
}

}  // namespace sealfs::serve
