// SPDX-License-Identifier: Apache-2.0
#include "fs/fuse/init_reply.h"

#include <linux/fuse.h>

#include <cstring>
#include <vector>

#include "gtest/gtest.h"

namespace sealfs::fuse {
namespace {

constexpr uint32_t kAllowIdmapFlags2 = 1u << 8;  // FUSE_ALLOW_IDMAP >> 32

std::vector<uint8_t> InitRequest(uint32_t flags, uint32_t flags2,
                                 size_t init_size = sizeof(fuse_init_in)) {
  fuse_in_header in{};
  in.len = static_cast<uint32_t>(sizeof(in) + init_size);
  in.opcode = FUSE_INIT;
  in.unique = 2;
  fuse_init_in init{};
  init.major = 7;
  init.minor = 45;
  init.flags = flags;
  init.flags2 = flags2;
  std::vector<uint8_t> b(sizeof(in) + init_size);
  std::memcpy(b.data(), &in, sizeof(in));
  std::memcpy(b.data() + sizeof(in), &init, init_size);
  return b;
}

std::vector<uint8_t> InitReply(uint64_t unique, int32_t error, uint32_t flags) {
  fuse_out_header out{};
  out.len = sizeof(out) + sizeof(fuse_init_out);
  out.error = error;
  out.unique = unique;
  fuse_init_out init{};
  init.major = 7;
  init.minor = 38;
  init.flags = flags;
  init.flags2 = 0;
  std::vector<uint8_t> b(out.len);
  std::memcpy(b.data(), &out, sizeof(out));
  std::memcpy(b.data() + sizeof(out), &init, sizeof(init));
  return b;
}

uint32_t ReplyFlags2(const std::vector<uint8_t>& reply) {
  fuse_init_out init;
  std::memcpy(&init, reply.data() + sizeof(fuse_out_header), sizeof(init));
  return init.flags2;
}

TEST(InitReply, SeesTheKernelOfferingIdmap) {
  uint64_t unique = 0;
  EXPECT_TRUE(
      OffersIdmap(InitRequest(FUSE_INIT_EXT, kAllowIdmapFlags2), &unique));
  EXPECT_EQ(unique, 2u);
  // Not offered: no flags2 at all, flags2 without INIT_EXT, other bits.
  EXPECT_FALSE(OffersIdmap(InitRequest(FUSE_INIT_EXT, 0), &unique));
  EXPECT_FALSE(OffersIdmap(InitRequest(0, kAllowIdmapFlags2), &unique));
  EXPECT_FALSE(
      OffersIdmap(InitRequest(FUSE_INIT_EXT, ~kAllowIdmapFlags2), &unique));
  // A request before protocol 7.36 ends before flags2.
  EXPECT_FALSE(
      OffersIdmap(InitRequest(FUSE_INIT_EXT, kAllowIdmapFlags2, 16), &unique));
  std::vector<uint8_t> other = InitRequest(FUSE_INIT_EXT, kAllowIdmapFlags2);
  other[4] = FUSE_LOOKUP;  // opcode
  EXPECT_FALSE(OffersIdmap(other, &unique));
  EXPECT_FALSE(OffersIdmap({}, &unique));
}

TEST(InitReply, AddsIdmapToTheMatchingReplyOnly) {
  std::vector<uint8_t> reply = InitReply(2, 0, FUSE_INIT_EXT | FUSE_ASYNC_READ);
  std::vector<uint8_t> before = reply;
  ASSERT_TRUE(AddIdmapToReply(reply, 2));
  EXPECT_EQ(ReplyFlags2(reply), kAllowIdmapFlags2);
  // Nothing else changed.
  before[sizeof(fuse_out_header) + offsetof(fuse_init_out, flags2) + 1] |= 1;
  EXPECT_EQ(reply, before);

  for (std::vector<uint8_t> r : {InitReply(3, 0, FUSE_INIT_EXT),  // unique
                                 InitReply(2, -EPROTO, FUSE_INIT_EXT),
                                 InitReply(2, 0, FUSE_ASYNC_READ)}) {  // no EXT
    std::vector<uint8_t> copy = r;
    EXPECT_FALSE(AddIdmapToReply(r, 2));
    EXPECT_EQ(r, copy);
  }
  std::vector<uint8_t> short_reply = InitReply(2, 0, FUSE_INIT_EXT);
  short_reply.resize(short_reply.size() - 8);
  EXPECT_FALSE(AddIdmapToReply(short_reply, 2));
}

}  // namespace
}  // namespace sealfs::fuse
