// SPDX-License-Identifier: Apache-2.0
// FetchObject: one object from a source into a StoreWriter, verified.
#include "fs/remote/fetch.h"

#include <memory>
#include <string>

namespace sealfs::remote {

Status FetchObject(ObjectSource& source, StoreWriter& writer,
                   const Digest& digest, uint64_t size) {
  const std::string what = "object " + digest.ToString();
  Result<std::unique_ptr<ObjectStream>> stream =
      source.OpenObject(digest, size);
  if (!stream.ok()) return stream.status();
  ObjectStream& in = **stream;
  Result<Digest> added = writer.AddFromStream(
      size, [&in](std::span<uint8_t> buf) { return in.Read(buf); }, &digest);
  if (added.ok()) return {};
  const Status& st = added.status();
  if (st.err() == kErrDigest) {
    // AddFromStream says "object objects/..: content hashes to sha256:..".
    const std::string& ctx = st.context();
    const size_t at = ctx.rfind("sha256:");
    const std::string got =
        at == std::string::npos ? "something else" : ctx.substr(at);
    return Status::FromErrno(kErrDigest, what + ": " + source.location() +
                                             " served wrong bytes (hashes to " +
                                             got + ")");
  }
  if (st.context().find(digest.ToString()) != std::string::npos) return st;
  return st.WithPrefix(what);
}

}  // namespace sealfs::remote
