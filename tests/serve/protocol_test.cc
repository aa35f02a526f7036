// SPDX-License-Identifier: Apache-2.0
// The control protocol: round trips, and refusals of hostile packets.
#include "fs/serve/protocol.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace sealfs::serve {
namespace {

MountSpec SampleSpec() {
  MountSpec spec;
  spec.image_label = "/var/img";
  spec.store_label = "/var/store";
  spec.mountpoint = "/mnt/x";
  spec.options = "digest=sha256:00,uidmap=0:100000:65536";
  spec.pubkeys.push_back({});
  spec.pubkeys[0][0] = 7;
  return spec;
}

TEST(Protocol, MountSpecRoundTrips) {
  std::vector<uint8_t> bytes =
      EncodeMessage(EncodeMountSpec(Type::kMount, SampleSpec()));
  Result<Message> m = ParseMessage(bytes);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  Result<MountSpec> spec = DecodeMountSpec(*m);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->mountpoint, "/mnt/x");
  EXPECT_EQ(spec->options, SampleSpec().options);
  ASSERT_EQ(spec->pubkeys.size(), 1u);
  EXPECT_EQ(spec->pubkeys[0][0], 7);
}

TEST(Protocol, SessionRoundTrips) {
  SessionRecord rec;
  rec.id = 42;
  rec.spec = SampleSpec();
  rec.init = {1, 2, 3};
  rec.uid = 1000;
  rec.gid = 100;
  rec.mount_id = 77;
  rec.mount_ns = 4026531841;
  rec.mount_dev = 57;
  Result<Message> m = ParseMessage(EncodeMessage(EncodeSession(rec)));
  ASSERT_TRUE(m.ok());
  Result<SessionRecord> back = DecodeSession(*m);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->id, 42u);
  EXPECT_EQ(back->init, rec.init);
  EXPECT_EQ(back->uid, 1000u);
  EXPECT_EQ(back->mount_id, 77u);
  EXPECT_EQ(back->mount_ns, 4026531841u);
  EXPECT_EQ(back->mount_dev, 57u);
}

// The session `edit` makes of a small record (mount id 9), encoded,
// parsed and decoded.
Result<SessionRecord> EditedSession(
    const std::function<void(std::vector<Field>&)>& edit) {
  SessionRecord rec;
  rec.id = 1;
  rec.spec = SampleSpec();
  rec.init = {1};
  rec.mount_id = 9;
  Message m = EncodeSession(rec);
  edit(m.fields);
  Result<Message> parsed = ParseMessage(EncodeMessage(m));
  if (!parsed.ok()) return parsed.status();
  return DecodeSession(*parsed);
}

TEST(Protocol, SessionOfAnEarlierServiceHasNoNamespace) {
  Result<SessionRecord> back = EditedSession([](std::vector<Field>& fields) {
    std::erase_if(fields, [](const Field& f) {
      return f.tag == Tag::kMountNs || f.tag == Tag::kMountDev;
    });
  });
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->mount_id, 9u);
  EXPECT_EQ(back->mount_ns, 0u);  // the service's own namespace
  EXPECT_EQ(back->mount_dev, 0u);
}

TEST(Protocol, RefusesAMisSizedNamespaceField) {
  Result<SessionRecord> back = EditedSession([](std::vector<Field>& fields) {
    for (Field& f : fields) {
      if (f.tag == Tag::kMountNs) f.value.resize(4);
    }
  });
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().err(), EPROTO);
}

// An empty string is a field of no bytes (its check must not read through
// the null data of an empty value: the sanitizer build aborts on that).
TEST(Protocol, EmptyStringFieldsDecode) {
  MountSpec spec = SampleSpec();
  spec.options.clear();
  Result<Message> m =
      ParseMessage(EncodeMessage(EncodeMountSpec(Type::kMount, spec)));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  Result<MountSpec> back = DecodeMountSpec(*m);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->options, "");
  EXPECT_EQ(back->mountpoint, spec.mountpoint);
}

TEST(Protocol, RefusesEveryTruncation) {
  std::vector<uint8_t> bytes =
      EncodeMessage(EncodeMountSpec(Type::kMount, SampleSpec()));
  for (size_t n = 0; n < bytes.size(); ++n) {
    Result<Message> m = ParseMessage({bytes.data(), n});
    ASSERT_FALSE(m.ok()) << n;
    EXPECT_EQ(m.status().err(), EPROTO);
  }
}

TEST(Protocol, FlippedBytesNeverCrash) {
  std::vector<uint8_t> bytes =
      EncodeMessage(EncodeMountSpec(Type::kMount, SampleSpec()));
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t bit = 1; bit != 0; bit = static_cast<uint8_t>(bit << 1)) {
      std::vector<uint8_t> copy = bytes;
      copy[i] ^= bit;
      Result<Message> m = ParseMessage(copy);
      if (m.ok()) (void)DecodeMountSpec(*m);
    }
  }
}

TEST(Protocol, RefusesOtherVersion) {
  std::vector<uint8_t> bytes = EncodeMessage(EncodeReply({0, "x"}));
  bytes[4] = 2;
  Result<Message> m = ParseMessage(bytes);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().context().find("version 2"), std::string::npos);
}

TEST(Protocol, RefusesOversizedField) {
  MountSpec spec = SampleSpec();
  spec.options.assign(kMaxStringBytes + 1, 'a');
  Result<Message> m =
      ParseMessage(EncodeMessage(EncodeMountSpec(Type::kMount, spec)));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().err(), EPROTO);
}

TEST(Protocol, RefusesRepeatedAndForeignFields) {
  Message m = EncodeMountSpec(Type::kMount, SampleSpec());
  m.fields.push_back({Tag::kOptions, {'x'}});
  EXPECT_EQ(DecodeMountSpec(m).status().err(), EPROTO);
  Message n = EncodeMountSpec(Type::kMount, SampleSpec());
  n.fields.push_back({Tag::kInit, {1}});
  EXPECT_EQ(DecodeMountSpec(n).status().err(), EPROTO);
}

TEST(Protocol, RefusesRelativeMountpointAndNul) {
  MountSpec spec = SampleSpec();
  spec.mountpoint = "mnt";
  EXPECT_EQ(DecodeMountSpec(EncodeMountSpec(Type::kMount, spec)).status().err(),
            EINVAL);
  spec = SampleSpec();
  spec.options = std::string("a\0b", 3);
  EXPECT_EQ(DecodeMountSpec(EncodeMountSpec(Type::kMount, spec)).status().err(),
            EINVAL);
}

TEST(Protocol, RegistryReferenceRoundTripsAndIsOptional) {
  SessionRecord rec;
  rec.id = 1;
  rec.spec = SampleSpec();
  rec.spec.registry = "docker://127.0.0.1:5000/team/app@sha256:" +
                      std::string(64, 'a');
  rec.spec.remote_pin = "docker://h/base@sha256:" + std::string(64, 'b');
  rec.init = {1};
  Result<SessionRecord> back = DecodeSession(EncodeSession(rec));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->spec.registry, rec.spec.registry);
  EXPECT_EQ(back->spec.remote_pin, rec.spec.remote_pin);
  // Absent for an image file: the message is what it was before the field.
  Message plain = EncodeMountSpec(Type::kMount, SampleSpec());
  for (const Field& f : plain.fields) {
    EXPECT_NE(f.tag, Tag::kRegistry);
    EXPECT_NE(f.tag, Tag::kRemotePin);
  }
  Result<MountSpec> spec = DecodeMountSpec(plain);
  ASSERT_TRUE(spec.ok());
  EXPECT_TRUE(spec->registry.empty());
  EXPECT_TRUE(spec->remote_pin.empty());
}

TEST(Protocol, RefusesARegistryReferenceThatIsNotDocker) {
  for (const char* bad : {"", "https://h/x", "/var/img", "docker:/h/r:t"}) {
    MountSpec spec = SampleSpec();
    for (Tag tag : {Tag::kRegistry, Tag::kRemotePin}) {
      Message m = EncodeMountSpec(Type::kMount, spec);
      m.fields.push_back({tag, {bad, bad + std::strlen(bad)}});
      EXPECT_EQ(DecodeMountSpec(m).status().err(), EINVAL) << bad;
    }
  }
}

}  // namespace
}  // namespace sealfs::serve
