// SPDX-License-Identifier: Apache-2.0
// Tests of BuildImageFromLayers with layers given as functions: applied in
// order whatever order they finish in, the first failure in order reported,
// the other readers stopped, and nothing written when one fails.
#include "fs/mkfs/layer_build.h"

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "sealfs/manifest_reader.h"
#include "tests/test_util.h"

namespace sealfs::mkfs {
namespace {

using ::sealfs::testing::TempDir;

InodeSpec File(const std::string& content) {
  InodeSpec spec;
  spec.mode = S_IFREG | 0644;
  spec.size = content.size();
  spec.inline_data = content;
  return spec;
}

// A layer that waits `delay`, then records `path` with `content` (a
// whiteout when content is empty and the name says so).
LayerInput Layer(const std::string& name, const std::string& path,
                 const std::string& content,
                 std::chrono::milliseconds delay = {}) {
  LayerInput in;
  in.name = name;
  in.decode = [=](const LayerContext&, RecordedLayer* out) -> Status {
    std::this_thread::sleep_for(delay);
    return out->Apply(path, File(content));
  };
  return in;
}

LayerInput Failing(const std::string& name, Status status,
                   std::chrono::milliseconds delay = {}) {
  LayerInput in;
  in.name = name;
  in.decode = [=](const LayerContext&, RecordedLayer*) -> Status {
    std::this_thread::sleep_for(delay);
    return status;
  };
  return in;
}

class LayerBuildTest : public ::testing::Test {
 protected:
  LayerBuildTest() {
    options_.store = tmp_ / "store";
    options_.image = tmp_ / "image";
    options_.threads = 4;
  }

  // The content of `path` in the image written.
  std::string Content(const std::string& path) {
    auto m = Manifest::Open(options_.image);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    if (!m.ok()) return "";
    auto ino = (*m)->Lookup(kRootIno, path);
    if (!ino.ok()) return "<none>";
    auto data = (*m)->InlineData(*ino);
    return data.ok() ? std::string(data->begin(), data->end()) : "<stored>";
  }

  TempDir tmp_;
  MkfsOptions options_;
};

TEST_F(LayerBuildTest, AppliesInOrderWhateverOrderTheyFinishIn) {
  std::vector<LayerInput> layers;
  // The lowest layer finishes last.
  layers.push_back(Layer("l0", "a", "zero", std::chrono::milliseconds(200)));
  layers.push_back(Layer("l1", "a", "one", std::chrono::milliseconds(50)));
  layers.push_back(Layer("l2", ".wh.b", ""));
  layers.push_back(Layer("l3", "b", "three"));
  auto r = BuildImageFromLayers(std::move(layers), options_, std::nullopt,
                                std::string("{}"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Content("a"), "one");
  EXPECT_EQ(Content("b"), "three");
  auto m = Manifest::Open(options_.image);
  ASSERT_TRUE(m.ok());
  const std::span<const uint8_t> config = (*m)->oci_config();
  EXPECT_EQ(std::string(config.begin(), config.end()), "{}");
}

TEST_F(LayerBuildTest, ReportsTheFirstFailureInOrderAndWritesNothing) {
  std::vector<LayerInput> layers;
  layers.push_back(Layer("l0", "a", "zero"));
  layers.push_back(Failing("l1", Status::Corrupt("bad one"),
                           std::chrono::milliseconds(100)));
  layers.push_back(Failing("l2", Status::Corrupt("bad two")));
  auto r = BuildImageFromLayers(std::move(layers), options_, std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().err(), kErrCorrupt);
  EXPECT_EQ(r.status().context(), "layer l1: bad one");
  struct stat st;
  EXPECT_NE(lstat(options_.image.c_str(), &st), 0);
}

TEST_F(LayerBuildTest, AFailureStopsTheOtherReaders) {
  std::atomic<bool> stopped{false};
  std::vector<LayerInput> layers;
  LayerInput slow;
  slow.name = "slow";
  slow.decode = [&](const LayerContext& context, RecordedLayer*) -> Status {
    // Would read forever; the build's cancellation ends it.
    while (!context.cancelled.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    stopped = true;
    return Status::FromErrno(ECANCELED, "stopped");
  };
  layers.push_back(std::move(slow));
  layers.push_back(Failing("l1", Status::FromErrno(kErrDigest, "tampered")));
  auto r = BuildImageFromLayers(std::move(layers), options_, std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().err(), kErrDigest);
  EXPECT_EQ(r.status().context(), "layer l1: tampered");
  EXPECT_TRUE(stopped);
}

TEST_F(LayerBuildTest, ARefusedEntryNamesItsLayerAndEntry) {
  std::vector<LayerInput> layers;
  layers.push_back(Layer("l0", "f", "file"));
  layers.push_back(Layer("l1", "f/below", "x"));
  auto r = BuildImageFromLayers(std::move(layers), options_, std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().err(), ENOTDIR);
  EXPECT_EQ(r.status().context(),
            "layer l1: entry f/below: parent f is not a directory");
}

TEST_F(LayerBuildTest, OneThreadReadsLayersOneAfterAnother) {
  options_.threads = 1;
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  std::vector<LayerInput> layers;
  for (int i = 0; i < 4; ++i) {
    const std::string number = std::to_string(i);
    LayerInput in;
    in.name = number;
    in.decode = [&, number](const LayerContext&, RecordedLayer* out) -> Status {
      most = std::max(most.load(), ++running);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      --running;
      return out->Apply(number, File("x"));
    };
    layers.push_back(std::move(in));
  }
  ASSERT_TRUE(
      BuildImageFromLayers(std::move(layers), options_, std::nullopt).ok());
  EXPECT_EQ(most.load(), 1);
}

}  // namespace
}  // namespace sealfs::mkfs
