// SPDX-License-Identifier: Apache-2.0
// Encoding and bounded decoding of control messages.
#include "fs/serve/protocol.h"

#include <cstring>
#include <set>

#include "fs/remote/registry_ref.h"

namespace sealfs::serve {
namespace {

void Put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v));
  out.push_back(static_cast<uint8_t>(v >> 8));
}
void Put32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint64_t GetLe(std::span<const uint8_t> in, size_t off, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{in[off + i]} << (8 * i);
  return v;
}

Status Proto(const std::string& why) {
  return Status::FromErrno(EPROTO, "control message: " + why);
}

// The most bytes a field of `tag` may hold.
size_t MaxFieldBytes(Tag tag) {
  switch (tag) {
    case Tag::kImageLabel:
    case Tag::kStoreLabel:
    case Tag::kMountpoint:
    case Tag::kOptions:
    case Tag::kRegistry:
    case Tag::kRemotePin:
      return kMaxStringBytes;
    case Tag::kPubkey:
      return 32;
    case Tag::kInit:
      return kMaxInitBytes;
    case Tag::kUid:
    case Tag::kGid:
    case Tag::kErrno:
      return 4;
    case Tag::kSessionId:
    case Tag::kMountId:
    case Tag::kMountNs:
    case Tag::kMountDev:
      return 8;
    case Tag::kText:
      return kMaxListingBytes;
  }
  return 0;  // unknown
}

bool KnownType(uint16_t t) {
  return t >= static_cast<uint16_t>(Type::kMount) &&
         t <= static_cast<uint16_t>(Type::kReply);
}

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }
std::vector<uint8_t> Le(uint64_t v, size_t n) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(v >> (8 * i));
  return out;
}

// Reads the fields of `m` that `allowed` lists, each at most once (kPubkey
// up to kMaxPubkeys times), refusing any other.
class FieldReader {
 public:
  FieldReader(const Message& m, std::set<Tag> allowed)
      : m_(m), allowed_(std::move(allowed)) {}

  Status Check() {
    size_t pubkeys = 0;
    for (const Field& f : m_.fields) {
      if (allowed_.count(f.tag) == 0) {
        return Proto("field " + std::to_string(static_cast<int>(f.tag)) +
                     " not allowed here");
      }
      if (f.tag == Tag::kPubkey) {
        if (++pubkeys > kMaxPubkeys) return Proto("too many keys");
        continue;
      }
      if (!seen_.insert(f.tag).second) {
        return Proto("field " + std::to_string(static_cast<int>(f.tag)) +
                     " repeated");
      }
    }
    return Status();
  }
  const Field* Find(Tag tag) const {
    for (const Field& f : m_.fields) {
      if (f.tag == tag) return &f;
    }
    return nullptr;
  }
  // A string without NUL bytes; `required` refuses its absence.
  Status String(Tag tag, bool required, std::string* out) const {
    const Field* f = Find(tag);
    if (f == nullptr) {
      return required ? Proto("missing field " +
                              std::to_string(static_cast<int>(tag)))
                      : Status();
    }
    // An empty field has no data() to give memchr (null: undefined).
    if (!f->value.empty() &&
        std::memchr(f->value.data(), 0, f->value.size()) != nullptr) {
      return Status::FromErrno(EINVAL, "control message: NUL in a string");
    }
    out->assign(f->value.begin(), f->value.end());
    return Status();
  }
  Status Int(Tag tag, size_t bytes, bool required, uint64_t* out) const {
    const Field* f = Find(tag);
    if (f == nullptr) {
      return required ? Proto("missing field " +
                              std::to_string(static_cast<int>(tag)))
                      : Status();
    }
    if (f->value.size() != bytes) return Proto("integer of the wrong size");
    *out = GetLe(f->value, 0, bytes);
    return Status();
  }

 private:
  const Message& m_;
  std::set<Tag> allowed_;
  std::set<Tag> seen_;
};

const std::set<Tag> kSpecTags = {Tag::kImageLabel, Tag::kStoreLabel,
                                 Tag::kMountpoint, Tag::kOptions, Tag::kPubkey,
                                 Tag::kRegistry, Tag::kRemotePin};

void AddSpec(Message& m, const MountSpec& spec) {
  m.fields.push_back({Tag::kImageLabel, Bytes(spec.image_label)});
  m.fields.push_back({Tag::kStoreLabel, Bytes(spec.store_label)});
  m.fields.push_back({Tag::kMountpoint, Bytes(spec.mountpoint)});
  m.fields.push_back({Tag::kOptions, Bytes(spec.options)});
  for (const auto& key : spec.pubkeys) {
    m.fields.push_back({Tag::kPubkey, {key.begin(), key.end()}});
  }
  if (!spec.registry.empty()) {
    m.fields.push_back({Tag::kRegistry, Bytes(spec.registry)});
  }
  if (!spec.remote_pin.empty()) {
    m.fields.push_back({Tag::kRemotePin, Bytes(spec.remote_pin)});
  }
}

// An optional docker:// reference.
Status ReadReference(const FieldReader& r, Tag tag, std::string* out) {
  SEALFS_RETURN_IF_ERROR(r.String(tag, false, out));
  if (r.Find(tag) != nullptr && !out->starts_with(remote::kDockerTransport)) {
    return Status::FromErrno(
        EINVAL, "control message: registry reference is not docker://");
  }
  return Status();
}

Status ReadSpec(const FieldReader& r, const Message& m, MountSpec* spec) {
  SEALFS_RETURN_IF_ERROR(r.String(Tag::kImageLabel, true, &spec->image_label));
  SEALFS_RETURN_IF_ERROR(r.String(Tag::kStoreLabel, true, &spec->store_label));
  SEALFS_RETURN_IF_ERROR(r.String(Tag::kMountpoint, true, &spec->mountpoint));
  SEALFS_RETURN_IF_ERROR(r.String(Tag::kOptions, true, &spec->options));
  if (spec->mountpoint.empty() || spec->mountpoint[0] != '/') {
    return Status::FromErrno(EINVAL,
                             "control message: mount point not absolute");
  }
  SEALFS_RETURN_IF_ERROR(ReadReference(r, Tag::kRegistry, &spec->registry));
  SEALFS_RETURN_IF_ERROR(
      ReadReference(r, Tag::kRemotePin, &spec->remote_pin));
  for (const Field& f : m.fields) {
    if (f.tag != Tag::kPubkey) continue;
    if (f.value.size() != 32) return Proto("key of the wrong size");
    std::array<uint8_t, 32> key{};
    std::memcpy(key.data(), f.value.data(), key.size());
    spec->pubkeys.push_back(key);
  }
  return Status();
}

}  // namespace

std::vector<uint8_t> EncodeMessage(const Message& m) {
  std::vector<uint8_t> out;
  size_t body = 0;
  for (const Field& f : m.fields) body += kFieldHeaderBytes + f.value.size();
  out.reserve(kHeaderBytes + body);
  Put32(out, kMagic);
  Put16(out, kVersion);
  Put16(out, static_cast<uint16_t>(m.type));
  Put32(out, static_cast<uint32_t>(body));
  for (const Field& f : m.fields) {
    Put16(out, static_cast<uint16_t>(f.tag));
    Put32(out, static_cast<uint32_t>(f.value.size()));
    out.insert(out.end(), f.value.begin(), f.value.end());
  }
  return out;
}

Result<Message> ParseMessage(std::span<const uint8_t> packet) {
  if (packet.size() < kHeaderBytes) return Proto("shorter than its header");
  if (packet.size() > kMaxMessageBytes) return Proto("too long");
  if (GetLe(packet, 0, 4) != kMagic) return Proto("bad magic");
  if (GetLe(packet, 4, 2) != kVersion) {
    return Proto("version " + std::to_string(GetLe(packet, 4, 2)) +
                 " not supported (this is version 1)");
  }
  const auto type = static_cast<uint16_t>(GetLe(packet, 6, 2));
  if (!KnownType(type)) return Proto("unknown type " + std::to_string(type));
  const uint64_t body = GetLe(packet, 8, 4);
  if (body != packet.size() - kHeaderBytes) {
    return Proto("body length does not match the packet");
  }
  Message m;
  m.type = static_cast<Type>(type);
  size_t off = kHeaderBytes;
  while (off < packet.size()) {
    if (packet.size() - off < kFieldHeaderBytes) {
      return Proto("truncated field header");
    }
    const auto tag = static_cast<Tag>(GetLe(packet, off, 2));
    const uint64_t len = GetLe(packet, off + 2, 4);
    off += kFieldHeaderBytes;
    const size_t max = MaxFieldBytes(tag);
    if (max == 0) {
      return Proto("unknown field " + std::to_string(static_cast<int>(tag)));
    }
    if (len > max) return Proto("field over its bound");
    if (len > packet.size() - off) return Proto("field past the end");
    m.fields.push_back(
        {tag,
         std::vector<uint8_t>(packet.begin() + static_cast<long>(off),
                              packet.begin() + static_cast<long>(off + len))});
    off += len;
  }
  return m;
}

Message EncodeMountSpec(Type type, const MountSpec& spec) {
  Message m;
  m.type = type;
  AddSpec(m, spec);
  return m;
}

Message EncodeSession(const SessionRecord& rec) {
  Message m;
  m.type = Type::kSession;
  AddSpec(m, rec.spec);
  m.fields.push_back({Tag::kSessionId, Le(rec.id, 8)});
  m.fields.push_back({Tag::kInit, rec.init});
  m.fields.push_back({Tag::kUid, Le(rec.uid, 4)});
  m.fields.push_back({Tag::kGid, Le(rec.gid, 4)});
  m.fields.push_back({Tag::kMountId, Le(rec.mount_id, 8)});
  m.fields.push_back({Tag::kMountNs, Le(rec.mount_ns, 8)});
  m.fields.push_back({Tag::kMountDev, Le(rec.mount_dev, 8)});
  return m;
}

Message EncodeReply(const Reply& reply) {
  Message m;
  m.type = Type::kReply;
  m.fields.push_back({Tag::kErrno, Le(reply.err, 4)});
  std::string text = reply.text.substr(0, kMaxListingBytes);
  m.fields.push_back({Tag::kText, Bytes(text)});
  return m;
}

Message EncodeId(Type type, uint64_t id) {
  Message m;
  m.type = type;
  m.fields.push_back({Tag::kSessionId, Le(id, 8)});
  return m;
}

Result<MountSpec> DecodeMountSpec(const Message& m) {
  if (m.type != Type::kMount) return Proto("not a mount request");
  FieldReader r(m, kSpecTags);
  SEALFS_RETURN_IF_ERROR(r.Check());
  MountSpec spec;
  SEALFS_RETURN_IF_ERROR(ReadSpec(r, m, &spec));
  return spec;
}

Result<SessionRecord> DecodeSession(const Message& m) {
  if (m.type != Type::kSession) return Proto("not a session");
  std::set<Tag> tags = kSpecTags;
  tags.insert({Tag::kSessionId, Tag::kInit, Tag::kUid, Tag::kGid, Tag::kMountId,
               Tag::kMountNs, Tag::kMountDev});
  FieldReader r(m, tags);
  SEALFS_RETURN_IF_ERROR(r.Check());
  SessionRecord rec;
  SEALFS_RETURN_IF_ERROR(ReadSpec(r, m, &rec.spec));
  uint64_t uid = 0;
  uint64_t gid = 0;
  SEALFS_RETURN_IF_ERROR(r.Int(Tag::kSessionId, 8, true, &rec.id));
  SEALFS_RETURN_IF_ERROR(r.Int(Tag::kUid, 4, true, &uid));
  SEALFS_RETURN_IF_ERROR(r.Int(Tag::kGid, 4, true, &gid));
  SEALFS_RETURN_IF_ERROR(r.Int(Tag::kMountId, 8, false, &rec.mount_id));
  SEALFS_RETURN_IF_ERROR(r.Int(Tag::kMountNs, 8, false, &rec.mount_ns));
  SEALFS_RETURN_IF_ERROR(r.Int(Tag::kMountDev, 8, false, &rec.mount_dev));
  rec.uid = static_cast<uint32_t>(uid);
  rec.gid = static_cast<uint32_t>(gid);
  const Field* init = r.Find(Tag::kInit);
  if (init == nullptr || init->value.empty()) return Proto("missing INIT");
  rec.init = init->value;
  return rec;
}

Result<Reply> DecodeReply(const Message& m) {
  if (m.type != Type::kReply) return Proto("not a reply");
  FieldReader r(m, {Tag::kErrno, Tag::kText});
  SEALFS_RETURN_IF_ERROR(r.Check());
  Reply reply;
  uint64_t err = 0;
  SEALFS_RETURN_IF_ERROR(r.Int(Tag::kErrno, 4, true, &err));
  reply.err = static_cast<uint32_t>(err);
  const Field* text = r.Find(Tag::kText);
  if (text != nullptr)
    reply.text.assign(text->value.begin(), text->value.end());
  return reply;
}

Result<uint64_t> DecodeId(const Message& m, Type type) {
  if (m.type != type) return Proto("unexpected message type");
  FieldReader r(m, {Tag::kSessionId});
  SEALFS_RETURN_IF_ERROR(r.Check());
  uint64_t id = 0;
  SEALFS_RETURN_IF_ERROR(r.Int(Tag::kSessionId, 8, true, &id));
  return id;
}

Status ExpectEmpty(const Message& m, Type type) {
  if (m.type != type) return Proto("unexpected message type");
  if (!m.fields.empty()) return Proto("unexpected fields");
  return Status();
}

}  // namespace sealfs::serve
