// SPDX-License-Identifier: Apache-2.0
// Tests of the composefs dump parser: every malformed line refused with its
// line number, errno and reason; escapes; hard links; no crash on garbage.
#include "fs/mkfs/dump_parser.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fs/mkfs/dump_format.h"
#include "sealfs/digest.h"
#include "sealfs/format.h"
#include "sealfs/unique_fd.h"
#include "tests/test_util.h"

namespace sealfs::mkfs {
namespace {

using ::sealfs::testing::TempDir;
using ::sealfs::testing::WriteFile;

constexpr char kRoot[] = "/ 0 40755 2 0 0 0 0.0 - - -\n";

std::string Digest64(char c) { return std::string(64, c); }

std::string Payload(const std::string& hex) {
  return hex.substr(0, 2) + "/" + hex.substr(2);
}

// Parses kRoot followed by `rest`, expects a refusal on line `line` with
// errno `err` and `reason` in the message.
void ExpectRefused(const std::string& rest, int line, int err,
                   const std::string& reason) {
  Result<ParsedDump> r = ParseDump(std::string(kRoot).append(rest));
  ASSERT_FALSE(r.ok()) << rest;
  EXPECT_EQ(r.status().err(), err) << r.status().ToString();
  const std::string& msg = r.status().context();
  EXPECT_EQ(msg.rfind("line " + std::to_string(line) + ": ", 0), 0u) << msg;
  EXPECT_NE(msg.find(reason), std::string::npos) << msg;
}

TEST(DumpParser, ParsesEveryFileType) {
  std::string hex = Digest64('a');
  std::string text = std::string(kRoot) +
                     "/d 0 40700 2 1 2 0 5.6 - - - user.x=1\n"
                     "/d/inline 3 100644 1 10 20 0 7.8 - ab\\n -\n"
                     "/d/stored 5000 100600 1 0 0 0 9.0 " +
                     Payload(hex) + " - " + hex +
                     "\n"
                     "/d/nopayload 6000 100600 1 0 0 0 9.0 - - " +
                     Digest64('b') +
                     "\n"
                     "/empty 0 100644 1 0 0 0 0.0 - - -\n"
                     "/lnk 6 120777 1 0 0 0 0.0 ../etc - -\n"
                     "/null 0 20666 1 0 0 " +
                     std::to_string(makedev(1, 3)) +
                     " 0.0 - - -\n"
                     "/sda 0 60660 1 0 0 " +
                     std::to_string(makedev(300, 70000)) +
                     " 0.0 - - -\n"
                     "/fifo 0 10644 1 0 0 0 0.0 - - -\n"
                     "/sock 0 140755 1 0 0 0 -3.5 - - -\n";
  Result<ParsedDump> r = ParseDump(text);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ImageTree& t = r->tree;
  EXPECT_EQ(r->lines, 11u);
  Result<NodeId> d = t.Lookup(ImageTree::kRoot, "d");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(t.inode(*d).mode, S_IFDIR | 0700u);
  EXPECT_EQ(t.inode(*d).uid, 1u);
  EXPECT_EQ(t.inode(*d).gid, 2u);
  EXPECT_EQ(t.inode(*d).mtime_sec, 5);
  EXPECT_EQ(t.inode(*d).mtime_nsec, 6u);
  ASSERT_EQ(t.inode(*d).xattrs.size(), 1u);
  EXPECT_EQ(t.inode(*d).xattrs[0].key, "user.x");
  NodeId inl = *t.Lookup(*d, "inline");
  EXPECT_EQ(t.inode(inl).inline_data, std::optional<std::string>("ab\n"));
  EXPECT_EQ(t.inode(inl).size, 3u);
  NodeId st = *t.Lookup(*d, "stored");
  ASSERT_TRUE(t.inode(st).digest.has_value());
  EXPECT_EQ(t.inode(st).digest->Hex(), hex);
  EXPECT_EQ(t.inode(st).size, 5000u);
  ASSERT_EQ(r->stored.size(), 2u);
  EXPECT_EQ(r->stored[0].path, "/d/stored");
  EXPECT_EQ(r->stored[0].size, 5000u);
  EXPECT_EQ(r->stored[1].path, "/d/nopayload");
  NodeId empty = *t.Lookup(ImageTree::kRoot, "empty");
  EXPECT_FALSE(t.inode(empty).digest.has_value());
  EXPECT_FALSE(t.inode(empty).inline_data.has_value());
  EXPECT_EQ(t.inode(*t.Lookup(ImageTree::kRoot, "lnk")).symlink_target,
            "../etc");
  NodeId sda = *t.Lookup(ImageTree::kRoot, "sda");
  EXPECT_EQ(t.inode(sda).mode, S_IFBLK | 0660u);
  EXPECT_EQ(t.inode(sda).rdev_major, 300u);
  EXPECT_EQ(t.inode(sda).rdev_minor, 70000u);
  EXPECT_EQ(t.inode(*t.Lookup(ImageTree::kRoot, "null")).rdev_minor, 3u);
  NodeId sock = *t.Lookup(ImageTree::kRoot, "sock");
  EXPECT_EQ(t.inode(sock).mtime_sec, -3);
  EXPECT_EQ(t.inode(sock).mtime_nsec, 5u);
}

TEST(DumpParser, HardLinkSharesTheInode) {
  std::string hex = Digest64('c');
  Result<ParsedDump> r =
      ParseDump(std::string(kRoot) + "/a 5000 100644 2 0 0 0 0.0 " +
                Payload(hex) + " - " + hex +
                "\n"
                "/dir 0 40755 2 0 0 0 0.0 - - -\n"
                // Only PAYLOAD counts on a hard-link line; the rest is ignored.
                "/dir/b 1 @100600 9 9 9 0 1.1 /a - - user.ignored=1\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  NodeId a = *r->tree.Lookup(ImageTree::kRoot, "a");
  NodeId dir = *r->tree.Lookup(ImageTree::kRoot, "dir");
  EXPECT_EQ(*r->tree.Lookup(dir, "b"), a);
  EXPECT_EQ(r->tree.inode(a).mode, S_IFREG | 0644u);
  EXPECT_TRUE(r->tree.inode(a).xattrs.empty());
  EXPECT_EQ(r->stored.size(), 1u);
}

TEST(DumpParser, HardLinkToSymlinkAndDevice) {
  Result<ParsedDump> r = ParseDump(std::string(kRoot) +
                                   "/l 1 120777 2 0 0 0 0.0 x - -\n"
                                   "/l2 1 @120777 2 0 0 0 0.0 /l - -\n"
                                   "/f 0 10644 2 0 0 0 0.0 - - -\n"
                                   "/f2 0 @10644 2 0 0 0 0.0 /f - -\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r->tree.Lookup(ImageTree::kRoot, "l2"),
            *r->tree.Lookup(ImageTree::kRoot, "l"));
}

TEST(DumpParser, EscapesRoundTripEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  for (DumpEscape mode :
       {DumpEscape::kStandard, DumpEscape::kLoneDash, DumpEscape::kEqual}) {
    std::string escaped;
    AppendDumpEscaped(&escaped, all, mode);
    EXPECT_EQ(escaped.find_first_of(" \n\t\r"), std::string::npos);
    if (mode == DumpEscape::kEqual) {
      EXPECT_EQ(escaped.find('='), std::string::npos);
    }
    Result<std::string> back = DumpUnescape(escaped);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, all);
  }
}

TEST(DumpParser, EscapesMatchComposefs) {
  auto esc = [](std::string_view s, DumpEscape m) {
    std::string out;
    AppendDumpEscaped(&out, s, m);
    return out;
  };
  EXPECT_EQ(esc("a b", DumpEscape::kStandard), "a\\x20b");
  EXPECT_EQ(esc("\\\n\r\t", DumpEscape::kStandard), "\\\\\\n\\r\\t");
  EXPECT_EQ(esc("=", DumpEscape::kStandard), "=");
  EXPECT_EQ(esc("k=v", DumpEscape::kEqual), "k\\x3dv");
  EXPECT_EQ(esc("-", DumpEscape::kLoneDash), "\\x2d");
  EXPECT_EQ(esc("-", DumpEscape::kStandard), "-");
  EXPECT_EQ(esc("--", DumpEscape::kLoneDash), "--");
  EXPECT_EQ(esc("\xc5\x91", DumpEscape::kStandard), "\\xc5\\x91");
  EXPECT_EQ(*DumpUnescape("\\x4A\\x4a"), "JJ");
}

TEST(DumpParser, EscapedFieldsDecode) {
  Result<ParsedDump> r = ParseDump(
      std::string(kRoot) +
      "/a\\x20b 2 100644 1 0 0 0 0.0 - \\x2d\\n - user.k\\x3d1=v\\x3d\\x00 "
      "user.empty=\n"
      "/dash 1 120777 1 0 0 0 0.0 \\x2d - -\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  NodeId a = *r->tree.Lookup(ImageTree::kRoot, "a b");
  EXPECT_EQ(*r->tree.inode(a).inline_data, "-\n");
  ASSERT_EQ(r->tree.inode(a).xattrs.size(), 2u);
  EXPECT_EQ(r->tree.inode(a).xattrs[0].key, "user.k=1");
  EXPECT_EQ(r->tree.inode(a).xattrs[0].value, std::string("v=\0", 3));
  EXPECT_EQ(r->tree.inode(a).xattrs[1].value, "");
  EXPECT_EQ(
      r->tree.inode(*r->tree.Lookup(ImageTree::kRoot, "dash")).symlink_target,
      "-");
}

TEST(DumpParser, ContentWithMatchingDigestIsInline) {
  std::string hex =
      ComputeMerkleTree(
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("hi"), 2))
          .digest.Hex();
  Result<ParsedDump> r =
      ParseDump(std::string(kRoot) + "/f 2 100644 1 0 0 0 0.0 " + Payload(hex) +
                " hi " + hex + "\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->stored.empty());
  EXPECT_EQ(*r->tree.inode(*r->tree.Lookup(ImageTree::kRoot, "f")).inline_data,
            "hi");
}

TEST(DumpParser, AcceptsLastLineWithoutNewline) {
  Result<ParsedDump> r = ParseDump("/ 0 40755 2 0 0 0 0.0 - - -");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->lines, 1u);
}

// --- Paths ------------------------------------------------------------------

TEST(DumpParser, RefusesEmptyPathField) {
  ExpectRefused(" 0 100644 1 0 0 0 0.0 - - -\n", 2, EINVAL, "empty PATH");
}

TEST(DumpParser, RefusesEmptyName) {
  ExpectRefused("/a//b 0 100644 1 0 0 0 0.0 - - -\n", 2, EINVAL,
                "empty component");
  ExpectRefused("/a/ 0 40755 1 0 0 0 0.0 - - -\n", 2, EINVAL,
                "empty component");
}

TEST(DumpParser, RefusesDotComponent) {
  ExpectRefused("/. 0 40755 1 0 0 0 0.0 - - -\n", 2, EINVAL, "'.' component");
  ExpectRefused(
      "/x 0 40755 1 0 0 0 0.0 - - -\n/x/./y 0 40755 1 0 0 0 0.0 - "
      "- -\n",
      3, EINVAL, "'.' component");
}

TEST(DumpParser, RefusesDotDotComponent) {
  ExpectRefused("/.. 0 40755 1 0 0 0 0.0 - - -\n", 2, EINVAL, "'..' component");
}

TEST(DumpParser, RefusesRelativePath) {
  ExpectRefused("etc 0 40755 1 0 0 0 0.0 - - -\n", 2, EINVAL, "not absolute");
}

TEST(DumpParser, RefusesNameLongerThan255) {
  std::string line = "/";
  line.append(256, 'n').append(" 0 40755 1 0 0 0 0.0 - - -\n");
  ExpectRefused(line, 2, ENAMETOOLONG, "longer than 255");
}

TEST(DumpParser, RefusesNulInPath) {
  ExpectRefused("/a\\x00b 0 40755 1 0 0 0 0.0 - - -\n", 2, EINVAL, "NUL");
}

TEST(DumpParser, RefusesMissingParent) {
  ExpectRefused("/no/file 0 100644 1 0 0 0 0.0 - - -\n", 2, ENOENT,
                "parent directory of /no/file is not defined");
}

TEST(DumpParser, RefusesParentNotDirectory) {
  ExpectRefused(
      "/f 0 100644 1 0 0 0 0.0 - - -\n/f/x 0 100644 1 0 0 0 0.0 - - -\n", 3,
      ENOTDIR, "not a directory");
  ExpectRefused(
      "/l 1 120777 1 0 0 0 0.0 d - -\n/l/x 0 100644 1 0 0 0 0.0 - - -\n", 3,
      ENOTDIR, "not a directory");
}

TEST(DumpParser, RefusesDuplicatePath) {
  ExpectRefused("/f 0 100644 1 0 0 0 0.0 - - -\n/f 0 40755 1 0 0 0 0.0 - - -\n",
                3, EEXIST, "duplicate path /f");
  ExpectRefused("/ 0 40755 1 0 0 0 0.0 - - -\n", 2, EEXIST, "duplicate path /");
}

TEST(DumpParser, RefusesRootNotFirstOrNotDirectory) {
  Result<ParsedDump> r = ParseDump("/a 0 100644 1 0 0 0 0.0 - - -\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().err(), EINVAL);
  EXPECT_NE(
      r.status().context().find("line 1: the first line must be the root"),
      std::string::npos);
  r = ParseDump("/ 0 100644 1 0 0 0 0.0 - - -\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().context().find("line 1: the root must be a directory"),
            std::string::npos);
}

// --- Hard links
// ---------------------------------------------------------------

TEST(DumpParser, RefusesHardLinkToDirectory) {
  ExpectRefused(
      "/d 0 40755 2 0 0 0 0.0 - - -\n/h 0 @100644 1 0 0 0 0.0 /d - -\n", 3,
      EPERM, "hard link to a directory");
  ExpectRefused(
      "/d 0 40755 2 0 0 0 0.0 - - -\n/h 0 @40755 1 0 0 0 0.0 /d - -\n", 3,
      EPERM, "hard link to a directory");
}

TEST(DumpParser, RefusesHardLinkToItself) {
  ExpectRefused("/h 0 @100644 1 0 0 0 0.0 /h - -\n", 2, EINVAL,
                "hard link to itself");
}

TEST(DumpParser, RefusesHardLinkToLaterPath) {
  ExpectRefused(
      "/h 0 @100644 2 0 0 0 0.0 /f - -\n/f 0 100644 2 0 0 0 0.0 - - -\n", 2,
      ENOENT, "hard link target /f is not defined on an earlier line");
}

TEST(DumpParser, RefusesHardLinkWithoutTarget) {
  ExpectRefused("/h 0 @100644 2 0 0 0 0.0 - - -\n", 2, EINVAL,
                "without a target");
  ExpectRefused("/h 0 @100644 2 0 0 0 0.0 rel - -\n", 2, EINVAL,
                "hard link target is not absolute");
}

// --- Symlinks
// -----------------------------------------------------------------

TEST(DumpParser, RefusesEmptySymlinkTarget) {
  ExpectRefused("/l 0 120777 1 0 0 0 0.0 - - -\n", 2, EINVAL,
                "symlink target (PAYLOAD) is empty");
}

TEST(DumpParser, RefusesSymlinkTargetOverPathMax) {
  ExpectRefused("/l 0 120777 1 0 0 0 0.0 " + std::string(4096, 't') + " - -\n",
                2, ENAMETOOLONG, "symlink target longer than 4095");
  ExpectRefused(
      "/l 0 120777 1 0 0 0 0.0 " + std::string(100000, 't') + " - -\n", 2,
      ENAMETOOLONG, "symlink target longer than 4095");
}

TEST(DumpParser, AcceptsSymlinkTargetOfMaxLen) {
  Result<ParsedDump> r =
      ParseDump(std::string(kRoot) + "/l 0 120777 1 0 0 0 0.0 " +
                std::string(kMaxSymlinkLen, 't') + " - -\n");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

TEST(DumpParser, RefusesSymlinkTargetWithNul) {
  ExpectRefused("/l 0 120777 1 0 0 0 0.0 a\\x00b - -\n", 2, EINVAL, "NUL");
}

// --- Xattrs
// -------------------------------------------------------------------

TEST(DumpParser, RefusesEmptyXattrKey) {
  ExpectRefused("/f 0 100644 1 0 0 0 0.0 - - - =v\n", 2, EINVAL,
                "xattr key is empty");
}

TEST(DumpParser, RefusesXattrKeyOver255) {
  ExpectRefused(
      "/f 0 100644 1 0 0 0 0.0 - - - user." + std::string(252, 'k') + "=v\n", 2,
      EINVAL, "xattr key longer than 255");
  Result<ParsedDump> r =
      ParseDump(std::string(kRoot) + "/f 0 100644 1 0 0 0 0.0 - - - user." +
                std::string(250, 'k') + "=v\n");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

TEST(DumpParser, RefusesXattrValueOver64KiB) {
  ExpectRefused("/f 0 100644 1 0 0 0 0.0 - - - user.v=" +
                    std::string(kMaxXattrValueLen + 1, 'v') + "\n",
                2, EINVAL, "value longer than 65536");
  Result<ParsedDump> r =
      ParseDump(std::string(kRoot) + "/f 0 100644 1 0 0 0 0.0 - - - user.v=" +
                std::string(kMaxXattrValueLen, 'v') + "\n");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

TEST(DumpParser, RefusesDuplicateXattr) {
  ExpectRefused("/f 0 100644 1 0 0 0 0.0 - - - user.a=1 user.a=2\n", 2, EEXIST,
                "given twice");
}

TEST(DumpParser, RefusesXattrWithoutEquals) {
  ExpectRefused("/f 0 100644 1 0 0 0 0.0 - - - user.a\n", 2, EINVAL,
                "without '='");
}

TEST(DumpParser, RefusesXattrKeyWithNul) {
  ExpectRefused("/f 0 100644 1 0 0 0 0.0 - - - user.\\x00=1\n", 2, EINVAL,
                "xattr key contains NUL");
}

// --- Types and modes
// ------------------------------------------------------------

TEST(DumpParser, RefusesMissingFileType) {
  ExpectRefused("/f 0 644 1 0 0 0 0.0 - - -\n", 2, EINVAL,
                "MODE: missing file type");
}

TEST(DumpParser, RefusesUnknownFileType) {
  ExpectRefused("/f 0 30644 1 0 0 0 0.0 - - -\n", 2, EINVAL,
                "MODE: unknown file type");
}

TEST(DumpParser, RefusesModeBitsOutsideTypeAndPermissions) {
  ExpectRefused("/f 0 1100644 1 0 0 0 0.0 - - -\n", 2, EINVAL,
                "MODE: bits outside");
  ExpectRefused("/f 0 10000000000000100644 1 0 0 0 0.0 - - -\n", 2, ERANGE,
                "MODE: number larger");
}

TEST(DumpParser, RefusesNonOctalMode) {
  ExpectRefused("/f 0 100648 1 0 0 0 0.0 - - -\n", 2, EINVAL,
                "MODE: not an octal number");
}

TEST(DumpParser, RefusesFieldsOnTypesThatCannotHaveThem) {
  ExpectRefused("/d 0 40755 1 0 0 0 0.0 x - -\n", 2, EINVAL,
                "PAYLOAD on a directory");
  ExpectRefused("/d 1 10644 1 0 0 0 0.0 - x -\n", 2, EINVAL,
                "CONTENT on a fifo");
  ExpectRefused("/l 1 120777 1 0 0 0 0.0 x - " + Digest64('a') + "\n", 2,
                EINVAL, "DIGEST on a symlink");
}

// --- Regular file content
// -------------------------------------------------------

// Issue 21: the dump carries the bytes, so they become an object.
TEST(DumpParser, ContentOverTheInlineLimitIsStored) {
  std::string big(kMaxInlineSize + 1, 'c');
  const Digest d =
      ComputeMerkleTree(
          {reinterpret_cast<const uint8_t*>(big.data()), big.size()})
          .digest;
  Result<ParsedDump> r =
      ParseDump(std::string(kRoot) + "/f " + std::to_string(big.size()) +
                " 100644 1 0 0 0 0.0 - " + big + " " + d.Hex() + "\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->stored.size(), 1u);
  EXPECT_EQ(r->stored[0].digest, d);
  EXPECT_EQ(r->stored[0].content, big);
  EXPECT_EQ(r->tree.inode(r->stored[0].node).digest, d);
  EXPECT_FALSE(r->tree.inode(r->stored[0].node).inline_data.has_value());
  // Without DIGEST too; with a wrong one it stays refused.
  EXPECT_TRUE(ParseDump(std::string(kRoot) + "/f " +
                        std::to_string(big.size()) + " 100644 1 0 0 0 0.0 - " +
                        big + " -\n")
                  .ok());
  ExpectRefused("/f " + std::to_string(big.size()) + " 100644 1 0 0 0 0.0 - " +
                    big + " " + Digest64('a') + "\n",
                2, kErrDigest, "CONTENT does not match DIGEST");
  // composefs's should-fail-big-inline.dump: 5004 bytes stays refused.
  const std::string too_big(5004, 'x');
  ExpectRefused("/inlinebig 5004 100777 1 0 0 0 0.0 - " + too_big, 2, EINVAL,
                "CONTENT longer than composefs's limit of 5000 bytes");
  EXPECT_TRUE(ParseDump(std::string(kRoot) + "/f 5000 100644 1 0 0 0 0.0 - " +
                        std::string(5000, 'x'))
                  .ok());
}

// Issue 21: as composefs reads them, missing PAYLOAD, CONTENT and DIGEST
// are "-"; fewer fields than that stay refused.
TEST(DumpParser, MissingTrailingFieldsReadAsDash) {
  Result<ParsedDump> r = ParseDump(std::string(kRoot) +
                                   "/d 0 40700 2 1 2 0 5.6\n"
                                   "/e 0 100644 1 0 0 0 0.0 -\n"
                                   "/l 1 120777 1 0 0 0 0.0 target\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->lines, 4u);
  ExpectRefused("/f 10 100644 1 0 0 0 0.0\n", 2, EINVAL,
                "neither CONTENT nor DIGEST");
  ExpectRefused("/d 0 40700 2 1 2 0\n", 2, EINVAL,
                "expected at least 11 fields, got 7");
}

TEST(DumpParser, RefusesContentNotMatchingSize) {
  ExpectRefused("/f 4 100644 1 0 0 0 0.0 - abc -\n", 2, EINVAL,
                "CONTENT has 3 bytes but SIZE is 4");
  // SIZE is checked against the decoded bytes, not the escaped text.
  ExpectRefused("/f 4 100644 1 0 0 0 0.0 - \\x41 -\n", 2, EINVAL,
                "CONTENT has 1 bytes but SIZE is 4");
}

TEST(DumpParser, RefusesRegularFileWithoutContentOrDigest) {
  ExpectRefused("/f 10 100644 1 0 0 0 0.0 - - -\n", 2, EINVAL,
                "neither CONTENT nor DIGEST");
}

TEST(DumpParser, RefusesPayloadWithoutDigest) {
  ExpectRefused("/f 10 100644 1 0 0 0 0.0 usr/bin/f - -\n", 2, EINVAL,
                "PAYLOAD without DIGEST");
}

TEST(DumpParser, PayloadWithoutDigestIsLeftToTheBuilderWhenAllowed) {
  DumpParseOptions options;
  options.payload_without_digest = true;
  Result<ParsedDump> r =
      ParseDump(std::string(kRoot) +
                    "/f 10 100644 1 0 0 0 0.0 usr/bin/f - -\n"
                    "/e 0 100644 1 0 0 0 0.0 usr/bin/e - -\n",
                options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->stored.size(), 1u);  // the empty file needs nothing
  EXPECT_EQ(r->stored[0].payload, "usr/bin/f");
  EXPECT_EQ(r->stored[0].size, 10u);
}

TEST(DumpParser, RefusesPayloadNotMatchingDigest) {
  std::string hex = Digest64('a');
  ExpectRefused(
      "/f 10 100644 1 0 0 0 0.0 " + Payload(Digest64('b')) + " - " + hex + "\n",
      2, EINVAL, "PAYLOAD does not name the object of DIGEST");
  ExpectRefused("/f 10 100644 1 0 0 0 0.0 ../../etc/shadow - " + hex + "\n", 2,
                EINVAL, "PAYLOAD does not name the object of DIGEST");
}

TEST(DumpParser, RefusesContentNotMatchingDigest) {
  ExpectRefused("/f 2 100644 1 0 0 0 0.0 - hi " + Digest64('a') + "\n", 2,
                kErrDigest, "CONTENT does not match DIGEST");
}

TEST(DumpParser, RefusesBadDigest) {
  ExpectRefused("/f 10 100644 1 0 0 0 0.0 - - " + std::string(63, 'a') + "\n",
                2, EINVAL, "DIGEST: expected 64 hex digits");
  ExpectRefused("/f 10 100644 1 0 0 0 0.0 - - " + std::string(63, 'a') + "g\n",
                2, EINVAL, "DIGEST: expected 64 hex digits");
  ExpectRefused("/f 10 100644 1 0 0 0 0.0 - - sha256:" + Digest64('a') + "\n",
                2, EINVAL, "DIGEST: expected 64 hex digits");
}

// --- Numbers
// --------------------------------------------------------------------

TEST(DumpParser, RefusesSizeOverflow) {
  ExpectRefused(
      "/f 18446744073709551616 100644 1 0 0 0 0.0 - - " + Digest64('a') + "\n",
      2, ERANGE, "SIZE: number larger");
  ExpectRefused("/f 99999999999999999999999999 100644 1 0 0 0 0.0 - - " +
                    Digest64('a') + "\n",
                2, ERANGE, "SIZE: number larger");
}

TEST(DumpParser, RefusesFieldOverflow) {
  ExpectRefused("/f 0 100644 1 4294967296 0 0 0.0 - - -\n", 2, ERANGE,
                "UID: number larger");
  ExpectRefused("/f 0 100644 1 0 4294967296 0 0.0 - - -\n", 2, ERANGE,
                "GID: number larger");
  ExpectRefused("/f 0 100644 4294967296 0 0 0 0.0 - - -\n", 2, ERANGE,
                "NLINK: number larger");
  ExpectRefused("/f 0 100644 1 0 0 18446744073709551616 0.0 - - -\n", 2, ERANGE,
                "RDEV: number larger");
  ExpectRefused("/f 0 100644 1 0 0 0 9223372036854775808.0 - - -\n", 2, ERANGE,
                "MTIME: number larger");
  ExpectRefused("/f 0 100644 1 0 0 0 1.1000000000 - - -\n", 2, ERANGE,
                "MTIME: number larger");
}

TEST(DumpParser, RefusesNonNumericFields) {
  ExpectRefused("/f 1x 100644 1 0 0 0 0.0 - - -\n", 2, EINVAL,
                "SIZE: not a decimal number");
  ExpectRefused("/f +1 100644 1 0 0 0 0.0 - - -\n", 2, EINVAL,
                "SIZE: not a decimal number");
  ExpectRefused("/f -1 100644 1 0 0 0 0.0 - - -\n", 2, EINVAL,
                "SIZE: not a decimal number");
  ExpectRefused("/f 0 100644 1 - 0 0 0.0 - - -\n", 2, EINVAL,
                "UID: not a decimal number");
  ExpectRefused("/f 0 100644 1 0 0 0 12 - - -\n", 2, EINVAL,
                "MTIME: expected SECONDS.NANOSECONDS");
  ExpectRefused("/f 0 100644 1 0 0 0 1.-2 - - -\n", 2, EINVAL,
                "MTIME: not a decimal number");
  ExpectRefused("/f 0 100644 1 0 0 0 . - - -\n", 2, EINVAL, "MTIME: empty");
}

// --- Escapes and fields
// -----------------------------------------------------------

TEST(DumpParser, RefusesBadEscapes) {
  ExpectRefused("/a\\q 0 100644 1 0 0 0 0.0 - - -\n", 2, EINVAL,
                "PATH: bad escape: \\q");
  ExpectRefused("/a\\x4 0 100644 1 0 0 0 0.0 - - -\n", 2, EINVAL,
                "PATH: bad escape: \\x needs two hex digits");
  ExpectRefused("/a\\xzz 0 100644 1 0 0 0 0.0 - - -\n", 2, EINVAL,
                "PATH: bad escape: \\x needs two hex digits");
  ExpectRefused("/a\\ 0 100644 1 0 0 0 0.0 - - -\n", 2, EINVAL,
                "PATH: bad escape: '\\' at end");
  ExpectRefused("/f 1 100644 1 0 0 0 0.0 - \\y -\n", 2, EINVAL,
                "CONTENT: bad escape");
  ExpectRefused("/f 0 100644 1 0 0 0 0.0 - - - user.a=\\x0\n", 2, EINVAL,
                "xattr user.a: bad escape");
}

TEST(DumpParser, RefusesWrongFieldCount) {
  ExpectRefused("/f 0 100644 1 0 0 0\n", 2, EINVAL,
                "expected at least 11 fields, got 7");
  ExpectRefused("/f\n", 2, EINVAL, "expected at least 11 fields, got 1");
}

TEST(DumpParser, RefusesEmptyFields) {
  ExpectRefused("/f 0 100644 1 0 0  0.0 - - -\n", 2, EINVAL,
                "empty RDEV field");
  ExpectRefused("/f 0 100644 1 0 0 0 0.0 - - - \n", 2, EINVAL,
                "empty XATTR field");
}

TEST(DumpParser, RefusesEmptyLine) {
  ExpectRefused("\n/f 0 100644 1 0 0 0 0.0 - - -\n", 2, EINVAL, "empty line");
}

TEST(DumpParser, RefusesEmptyInput) {
  Result<ParsedDump> r = ParseDump("");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().err(), EINVAL);
  EXPECT_NE(r.status().context().find("no root line"), std::string::npos);
}

TEST(DumpParser, ReportsTheLineNumberOfALaterLine) {
  ExpectRefused(
      "/a 0 40755 2 0 0 0 0.0 - - -\n"
      "/a/b 0 100644 1 0 0 0 0.0 - - -\n"
      "/a/c 0 100644 1 0 0 0 0.0 - - - bad\n",
      4, EINVAL, "without '='");
}

// --- Reading from a file descriptor
// ---------------------------------------------

Result<ParsedDump> ParseFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_TRUE(fd.valid());
  return ParseDumpFd(fd.get(), path);
}

TEST(DumpParser, FdReaderMatchesInMemoryParserAcrossChunks) {
  // Lines longer than the 64 KiB read chunk, split at every position.
  std::string text = kRoot;
  for (int i = 0; i < 6; ++i) {
    text += "/f" + std::to_string(i) + " 0 100644 1 0 0 0 0.0 - - - user.v=" +
            std::string(30000 + i * 7000, 'v') + "\n";
  }
  TempDir dir;
  WriteFile(dir / "dump", text);
  Result<ParsedDump> a = ParseFile(dir / "dump");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  Result<ParsedDump> b = ParseDump(text);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->lines, 7u);
  ASSERT_EQ(a->tree.node_count(), b->tree.node_count());
  for (NodeId i = 0; i < a->tree.node_count(); ++i) {
    EXPECT_EQ(a->tree.inode(i).xattrs, b->tree.inode(i).xattrs);
  }
  // The error of a later line keeps its number through the chunking.
  WriteFile(dir / "bad", text + "/x 0 644 1 0 0 0 0.0 - - -\n");
  Result<ParsedDump> c = ParseFile(dir / "bad");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().context().rfind("line 8: MODE: missing file type", 0),
            0u)
      << c.status().context();
}

TEST(DumpParser, FdReaderRefusesOverlongLine) {
  TempDir dir;
  std::string text = std::string(kRoot).append(kMaxDumpLineLen + 1, 'x');
  WriteFile(dir / "dump", text);
  Result<ParsedDump> r = ParseFile(dir / "dump");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().err(), EINVAL);
  EXPECT_NE(r.status().context().find("line 2: longer than"), std::string::npos)
      << r.status().context();
}

// --- Hostile input never crashes
// ---------------------------------------------------

TEST(DumpParser, MutatedInputNeverCrashes) {
  std::string hex = Digest64('d');
  const std::string good =
      std::string(kRoot) + "/d 0 40755 2 0 0 0 1.2 - - - user.a\\x3d=b\n" +
      "/d/f 5000 100644 2 0 0 0 0.0 " + Payload(hex) + " - " + hex + "\n" +
      "/d/h 5000 @100644 2 0 0 0 0.0 /d/f - " + hex + "\n" +
      "/l 3 120777 1 0 0 0 0.0 a\\x20b - -\n" +
      "/i 3 100644 1 0 0 0 0.0 - a\\tb -\n";
  ASSERT_TRUE(ParseDump(good).ok());
  const char kSubs[] = {' ', '\n', '\\', '@', '/',  '-',   '.',
                        '=', 'x',  '0',  '9', '\0', '\xff'};
  size_t refused = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    for (char c : kSubs) {
      std::string bad = good;
      bad[i] = c;
      Result<ParsedDump> r = ParseDump(bad);
      if (!r.ok()) {
        ++refused;
        EXPECT_EQ(r.status().context().rfind("line ", 0), 0u)
            << r.status().context();
      }
    }
    Result<ParsedDump> t = ParseDump(good.substr(0, i));
    if (!t.ok() && i > 0) {
      EXPECT_EQ(t.status().context().rfind("line ", 0), 0u);
    }
  }
  EXPECT_GT(refused, good.size());
}

}  // namespace
}  // namespace sealfs::mkfs
