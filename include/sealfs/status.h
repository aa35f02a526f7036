// SPDX-License-Identifier: Apache-2.0
// Status (an errno plus context) and Result<T> (a value or a non-OK Status).
// Project code never throws; every failure travels as one of these.
// Thread-safety: const methods may be called concurrently.
#ifndef SEALFS_INCLUDE_SEALFS_STATUS_H_
#define SEALFS_INCLUDE_SEALFS_STATUS_H_

#include <cerrno>
#include <optional>
#include <string>
#include <utility>

namespace sealfs {

// Library-internal error codes; the FUSE layer reports both as EIO.
inline constexpr int kErrCorrupt = EUCLEAN;  // fails a structural check
inline constexpr int kErrDigest = EBADMSG;   // bytes do not match their digest

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  // REQUIRES: err > 0.
  static Status FromErrno(int err, std::string context) {
    return Status(err, std::move(context));
  }
  static Status Corrupt(std::string context) {
    return Status(kErrCorrupt, std::move(context));
  }

  bool ok() const { return err_ == 0; }
  int err() const { return err_; }  // 0 iff ok()
  const std::string& context() const { return context_; }

  // "context: description", the one line a user sees. For kErrCorrupt and
  // kErrDigest the context alone names the failed check.
  std::string ToString() const;

  // Returns a copy whose context is "prefix: context".
  Status WithPrefix(const std::string& prefix) const {
    return Status(err_, context_.empty() ? prefix : prefix + ": " + context_);
  }

 private:
  Status(int err, std::string context)
      : err_(err), context_(std::move(context)) {}

  int err_ = 0;
  std::string context_;
};

// Shorthand for Status::FromErrno(errno, context); call it on the line after
// the failing system call, before anything else can change errno.
inline Status ErrnoStatus(std::string context) {
  return Status::FromErrno(errno != 0 ? errno : EIO, std::move(context));
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit
    if (status_.ok()) status_ = Status::FromErrno(EINVAL, "Result from OK");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T&& operator*() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

namespace status_internal {
inline Status GetStatus(const Status& s) { return s; }
template <typename T>
inline Status GetStatus(const Result<T>& r) {
  return r.status();
}
}  // namespace status_internal

}  // namespace sealfs

#define SEALFS_STATUS_CONCAT_INNER_(a, b) a##b
#define SEALFS_STATUS_CONCAT_(a, b) SEALFS_STATUS_CONCAT_INNER_(a, b)

// Returns the Status of `expr` from the enclosing function if it is not OK.
#define SEALFS_RETURN_IF_ERROR(expr)                                   \
  do {                                                                 \
    ::sealfs::Status sealfs_status_ =                                  \
        ::sealfs::status_internal::GetStatus(expr);                    \
    if (!sealfs_status_.ok()) return sealfs_status_;                   \
  } while (0)

// `lhs` is a declaration or an lvalue; `rexpr` yields a Result<T>.
#define SEALFS_ASSIGN_OR_RETURN(lhs, rexpr)                            \
  SEALFS_ASSIGN_OR_RETURN_IMPL_(                                       \
      SEALFS_STATUS_CONCAT_(sealfs_result_, __LINE__), lhs, rexpr)
#define SEALFS_ASSIGN_OR_RETURN_IMPL_(result, lhs, rexpr)              \
  auto result = (rexpr);                                               \
  if (!result.ok()) return result.status();                            \
  lhs = std::move(*result)

#endif  // SEALFS_INCLUDE_SEALFS_STATUS_H_
