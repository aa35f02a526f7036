// SPDX-License-Identifier: Apache-2.0
// The control protocol of `sealfs serve`: explicit, versioned, bounded
// messages over a SOCK_SEQPACKET unix socket (one message per packet, file
// descriptors beside it). Everything a peer sends is hostile until decoded
// here; every length is bounded and every refusal says which check failed.
// Reentrant. Specified for clients, byte by byte, in docs/FORMAT.md,
// "Control protocol"; this header and that section change together.
//
// A message, little-endian:
//   magic u32 = kMagic, version u16 = kVersion, type u16, body_len u32
//   body: fields, each tag u16, len u32, then len bytes
// Each type names the tags it takes (Decode*); an unknown tag, a repeated
// one (pubkeys excepted) or a missing required one is refused.
#ifndef SEALFS_FS_SERVE_PROTOCOL_H_
#define SEALFS_FS_SERVE_PROTOCOL_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sealfs/status.h"

namespace sealfs::serve {

// "SFS1" read as a little-endian u32.
inline constexpr uint32_t kMagic = 0x31534653;
// Version history: 1, the first (mount, attach, list, hand-over, keeper);
// session fields kMountNs and kMountDev added within it, optional.
inline constexpr uint16_t kVersion = 1;
inline constexpr size_t kHeaderBytes = 12;
inline constexpr size_t kFieldHeaderBytes = 6;
inline constexpr size_t kMaxBodyBytes = 64 * 1024;
inline constexpr size_t kMaxMessageBytes = kHeaderBytes + kMaxBodyBytes;
inline constexpr size_t kMaxStringBytes = 4096;  // paths, option strings
inline constexpr size_t kMaxInitBytes = 1024;    // a FUSE INIT request
inline constexpr size_t kMaxPubkeys = 64;
inline constexpr size_t kMaxFds = 3;  // per message
// A listing is text made by the service, the one field allowed up to the
// body's whole size.
inline constexpr size_t kMaxListingBytes = kMaxBodyBytes - kFieldHeaderBytes;

enum class Type : uint16_t {
  kMount = 1,     // client: prepare a mount; fds: image file (unless
                  // registry), store dir
  kAttach = 2,    // client: serve it; fd: the mounted /dev/fuse connection
  kList = 3,      // client: what is served; service to keeper: are you
                  // alive (answered with what it holds)
  kHandOver = 4,  // a new service: give me your sessions (--replace)
  kSession = 5,   // one served session; fds: /dev/fuse, image, store
  kDrop = 6,      // service to keeper: a session has ended
  kTakeBack = 7,  // service to keeper: send every session you hold
  kReply = 8,     // the answer to any of the above
};

enum class Tag : uint16_t {
  kImageLabel = 1,  // how the caller named the image (reports only)
  kStoreLabel = 2,  // how the caller named the store (reports only)
  kMountpoint = 3,  // absolute path of the mount point
  kOptions = 4,     // the -o text, as for a standalone mount
  kPubkey = 5,      // a trusted raw Ed25519 key, 32 bytes; repeats
  kInit = 6,        // the kernel's INIT request, as first read
  kUid = 7,         // u32: the caller that asked for the session
  kGid = 8,         // u32
  kSessionId = 9,   // u64
  kErrno = 10,      // u32: 0 ok, else why refused
  kText = 11,       // a one-line reason, or the listing
  kMountId = 12,    // u64: the mount's id (statx STATX_MNT_ID)
  kMountNs = 13,    // u64: inode of the caller's mount namespace (nsfs)
  kMountDev = 14,   // u64: st_dev of the mount's root
  kRegistry = 15,   // docker:// reference of an image read from a registry
  kRemotePin = 16,  // remote=docker://, pinned to its manifest digest
};

struct Field {
  Tag tag;
  std::vector<uint8_t> value;
};

struct Message {
  Type type = Type::kReply;
  std::vector<Field> fields;
};

// What a caller asks to mount. The image and the store come as file
// descriptors the caller opened itself, and the keys as the bytes it read:
// the service reads nothing by path on a caller's behalf.
struct MountSpec {
  std::string image_label;
  std::string store_label;
  std::string mountpoint;
  std::string options;
  std::vector<std::array<uint8_t, 32>> pubkeys;
  // Empty, or the docker:// reference the service reads the image from
  // (then a mount request carries only the store's fd). In a session
  // record, pinned to the manifest digest first read (…@sha256:HEX), and
  // the image fd holds the image read then.
  std::string registry;
  // In a session record of a remote=docker:// mount: that reference
  // pinned to the manifest digest first read. Empty otherwise.
  std::string remote_pin;
};

// A served session, as handed to the keeper or a new service: what is
// needed to serve it again, with fds /dev/fuse, image, store beside it.
struct SessionRecord {
  uint64_t id = 0;
  MountSpec spec;
  std::vector<uint8_t> init;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t mount_id = 0;  // 0: unknown
  // The namespace the mount is in; 0: the service's own (a record of a
  // service before these fields). Checked with mount_dev when the mount
  // is in another namespace.
  uint64_t mount_ns = 0;
  uint64_t mount_dev = 0;
};

struct Reply {
  uint32_t err = 0;
  std::string text;
};

// Serializes `m`. REQUIRES: every field within its bound (Encode* ensure it).
std::vector<uint8_t> EncodeMessage(const Message& m);
// EPROTO naming the failed check: bad magic, another version, unknown
// type, a length past the packet, trailing bytes, a field over its bound.
Result<Message> ParseMessage(std::span<const uint8_t> packet);

Message EncodeMountSpec(Type type, const MountSpec& spec);
Message EncodeSession(const SessionRecord& rec);
Message EncodeReply(const Reply& reply);
Message EncodeId(Type type, uint64_t id);

// EPROTO for a wrong type, an unknown, repeated, missing or malformed
// field; EINVAL for a mount point that is not absolute, a registry
// reference or remote pin that is not docker://, or a string with a NUL
// byte.
Result<MountSpec> DecodeMountSpec(const Message& m);
Result<SessionRecord> DecodeSession(const Message& m);
Result<Reply> DecodeReply(const Message& m);
Result<uint64_t> DecodeId(const Message& m, Type type);
// A message with no fields of `type` (kList, kHandOver, kAttach, kTakeBack).
Status ExpectEmpty(const Message& m, Type type);

}  // namespace sealfs::serve

#endif  // SEALFS_FS_SERVE_PROTOCOL_H_
