// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the control protocol of `sealfs serve`: any packet a
// hostile peer can send goes through ParseMessage and every decoder. None
// may crash, hang or allocate without bound; a message that decodes must
// encode back to bytes that decode to the same thing.
// Build and run: scripts/fuzz.sh serve_protocol SECONDS.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "fs/serve/protocol.h"

namespace serve = sealfs::serve;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sealfs::Result<serve::Message> m = serve::ParseMessage({data, size});
  if (!m.ok()) return 0;
  if (auto spec = serve::DecodeMountSpec(*m); spec.ok()) {
    auto again = serve::ParseMessage(serve::EncodeMessage(
        serve::EncodeMountSpec(serve::Type::kMount, *spec)));
    if (!again.ok() || !serve::DecodeMountSpec(*again).ok()) std::abort();
  }
  if (auto rec = serve::DecodeSession(*m); rec.ok()) {
    auto again =
        serve::ParseMessage(serve::EncodeMessage(serve::EncodeSession(*rec)));
    if (!again.ok()) std::abort();
    auto back = serve::DecodeSession(*again);
    if (!back.ok() || back->id != rec->id || back->init != rec->init ||
        back->mount_id != rec->mount_id || back->mount_ns != rec->mount_ns ||
        back->mount_dev != rec->mount_dev ||
        back->spec.registry != rec->spec.registry ||
        back->spec.remote_pin != rec->spec.remote_pin) {
      std::abort();
    }
  }
  (void)serve::DecodeReply(*m);
  (void)serve::DecodeId(*m, serve::Type::kDrop);
  (void)serve::ExpectEmpty(*m, serve::Type::kList);
  return 0;
}
