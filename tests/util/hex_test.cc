// SPDX-License-Identifier: Apache-2.0
// Tests for fs/util/hex.cc: lowercase encoding and strict decoding.
#include "fs/util/hex.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace sealfs {
namespace {

TEST(Hex, EncodesLowercaseTwoDigitsPerByte) {
  EXPECT_EQ(HexEncode({}), "");
  const std::vector<uint8_t> bytes = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
  EXPECT_EQ(HexEncode(bytes), "00017f80abff");
}

TEST(Hex, RoundTripsEveryByteValue) {
  std::vector<uint8_t> all(256);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint8_t>(i);
  std::string hex = HexEncode(all);
  ASSERT_EQ(hex.size(), 512u);
  std::optional<std::vector<uint8_t>> back = HexDecode(hex);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, all);
}

TEST(Hex, DecodesEitherCase) {
  std::optional<std::vector<uint8_t>> lower = HexDecode("deadbeef");
  std::optional<std::vector<uint8_t>> upper = HexDecode("DEADBEEF");
  std::optional<std::vector<uint8_t>> mixed = HexDecode("DeAdBeEf");
  ASSERT_TRUE(lower && upper && mixed);
  const std::vector<uint8_t> want = {0xde, 0xad, 0xbe, 0xef};
  EXPECT_EQ(*lower, want);
  EXPECT_EQ(*upper, want);
  EXPECT_EQ(*mixed, want);
  std::optional<std::vector<uint8_t>> empty = HexDecode("");
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
}

TEST(Hex, RejectsOddLengthAndNonHexDigits) {
  for (const char* bad : {"0", "abc", "0g", "g0", "zz", " 0", "0 ", "0x00",
                          "-1", "+1", "0/", "0:", "0@", "0G", "0`"}) {
    EXPECT_FALSE(HexDecode(bad).has_value()) << bad;
  }
  EXPECT_FALSE(HexDecode(std::string("0\0", 2)).has_value());
  EXPECT_FALSE(HexDecode(std::string("\xff\xff", 2)).has_value());
}

TEST(Hex, RejectsEveryNonHexCharacter) {
  for (int c = 0; c < 256; ++c) {
    const bool is_hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                        (c >= 'A' && c <= 'F');
    std::string text = "0";
    text.push_back(static_cast<char>(c));
    EXPECT_EQ(HexDecode(text).has_value(), is_hex) << c;
  }
}

}  // namespace
}  // namespace sealfs
