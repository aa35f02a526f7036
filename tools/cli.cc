// SPDX-License-Identifier: Apache-2.0
#include "tools/cli.h"

#include <cstdio>

namespace sealfs::tools {

int Fail(std::string_view cmd, const Status& status) {
  std::fprintf(stderr, "sealfs %.*s: %s\n", static_cast<int>(cmd.size()),
               cmd.data(), status.ToString().c_str());
  return kExitFailure;
}

int UsageError(std::string_view cmd, std::string_view message) {
  std::fprintf(stderr, "sealfs %.*s: %.*s\nTry 'sealfs %.*s --help'.\n",
               static_cast<int>(cmd.size()), cmd.data(),
               static_cast<int>(message.size()), message.data(),
               static_cast<int>(cmd.size()), cmd.data());
  return kExitUsage;
}

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3
             : (c >> 3) == 0x1e ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  }
  return len;
}

}  // namespace

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = Utf8SequenceLength(s, i);
    if (len > 1) {
      out.append(s.substr(i, len));
      i += len;
      continue;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x80) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    }
    ++i;
  }
  return out + "\"";
}

void JsonWriter::Separate() {
  if (need_comma_) out_ += ',';
  need_comma_ = true;
}
void JsonWriter::BeginObject() {
  Separate();
  out_ += '{';
  closers_.push_back('}');
  need_comma_ = false;
}
void JsonWriter::BeginArray() {
  Separate();
  out_ += '[';
  closers_.push_back(']');
  need_comma_ = false;
}
void JsonWriter::End() {
  // REQUIRES: a container is open; an unbalanced End() is a caller bug.
  out_ += closers_.back();
  closers_.pop_back();
  need_comma_ = true;
}
void JsonWriter::Key(std::string_view key) {
  Separate();
  out_ += JsonString(key);
  out_ += ':';
  need_comma_ = false;
}
void JsonWriter::String(std::string_view value) {
  Separate();
  out_ += JsonString(value);
}
void JsonWriter::Int(int64_t value) {
  Separate();
  out_ += std::to_string(value);
}
void JsonWriter::Uint(uint64_t value) {
  Separate();
  out_ += std::to_string(value);
}
void JsonWriter::Bool(bool value) {
  Separate();
  out_ += value ? "true" : "false";
}
void JsonWriter::Null() {
  Separate();
  out_ += "null";
}

}  // namespace sealfs::tools
