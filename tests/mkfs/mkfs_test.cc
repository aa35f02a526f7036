// SPDX-License-Identifier: Apache-2.0
// Tests of BuildImage (walk, hash, store, manifest): the image read back
// matches lstat of the source, builds are reproducible, objects verify.
#include "fs/mkfs/mkfs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "fs/mkfs/image_file.h"
#include "sealfs/digest.h"
#include "sealfs/manifest_reader.h"
#include "sealfs/signature.h"
#include "sealfs/store.h"
#include "tests/mkfs/test_tree.h"
#include "tests/test_util.h"

namespace sealfs::mkfs {
namespace {

using ::sealfs::testing::MakeFullTree;
using ::sealfs::testing::ReadFile;
using ::sealfs::testing::TempDir;

std::map<std::string, std::string> SourceXattrs(const std::string& path) {
  std::map<std::string, std::string> out;
  char names[4096];
  ssize_t n = llistxattr(path.c_str(), names, sizeof(names));
  for (ssize_t pos = 0; n > 0 && pos < n;) {
    std::string key(names + pos);
    pos += static_cast<ssize_t>(key.size()) + 1;
    char value[4096];
    ssize_t len = lgetxattr(path.c_str(), key.c_str(), value, sizeof(value));
    if (len >= 0) out[key] = std::string(value, static_cast<size_t>(len));
  }
  return out;
}

class MkfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = work_ / "src";
    ASSERT_EQ(mkdir(src_.c_str(), 0755), 0);
    MakeFullTree(src_);
  }

  MkfsOptions Options(const std::string& image) const {
    MkfsOptions o;
    o.source = src_;
    o.image = image;
    o.store = work_ / "store";
    o.threads = 2;
    return o;
  }

  std::shared_ptr<const Manifest> Build(const MkfsOptions& o) {
    Result<MkfsReport> r = BuildImage(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return nullptr;
    Result<std::shared_ptr<const Manifest>> m = Manifest::Open(o.image);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    if (!m.ok()) return nullptr;
    EXPECT_EQ((*m)->identity(), r->identity);
    return *m;
  }

  TempDir work_;
  std::string src_;
};

TEST_F(MkfsTest, EveryInodeMatchesTheSource) {
  std::shared_ptr<const Manifest> m = Build(Options(work_ / "image"));
  ASSERT_NE(m, nullptr);
  Result<std::shared_ptr<Store>> store =
      Store::Open(work_ / "store", Store::Mode::kReadOnly);
  ASSERT_TRUE(store.ok()) << store.status().ToString();

  std::map<std::pair<dev_t, ino_t>, uint64_t> inos;
  size_t checked = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(src_);
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    const std::string path = it->path().string();
    const std::string rel = path.substr(src_.size());
    SCOPED_TRACE(rel);
    struct stat st;
    ASSERT_EQ(lstat(path.c_str(), &st), 0);
    Result<uint64_t> ino = ResolvePath(*m, rel);
    ASSERT_TRUE(ino.ok()) << ino.status().ToString();
    Result<Inode> inode = m->GetInode(*ino);
    ASSERT_TRUE(inode.ok());
    ++checked;
    EXPECT_EQ(inode->mode, st.st_mode);
    EXPECT_EQ(inode->uid, st.st_uid);
    EXPECT_EQ(inode->gid, st.st_gid);
    EXPECT_EQ(inode->nlink, st.st_nlink);
    EXPECT_EQ(inode->mtime_sec, st.st_mtim.tv_sec);
    EXPECT_EQ(inode->mtime_nsec, static_cast<uint32_t>(st.st_mtim.tv_nsec));
    auto [pos, inserted] = inos.emplace(std::make_pair(st.st_dev, st.st_ino), *ino);
    EXPECT_EQ(pos->second, *ino) << "hard links must share one inode";

    Result<std::vector<XattrView>> xattrs = m->ListXattrs(*ino);
    ASSERT_TRUE(xattrs.ok());
    std::map<std::string, std::string> got;
    for (const XattrView& x : *xattrs) got[std::string(x.key)] = std::string(x.value);
    EXPECT_EQ(got, SourceXattrs(path));

    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      EXPECT_EQ(inode->rdev_major, major(st.st_rdev));
      EXPECT_EQ(inode->rdev_minor, minor(st.st_rdev));
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(8192, '\0');
      target.resize(static_cast<size_t>(
          readlink(path.c_str(), target.data(), target.size())));
      Result<std::string_view> link = m->ReadLink(*ino);
      ASSERT_TRUE(link.ok());
      EXPECT_EQ(*link, target);
    } else if (S_ISREG(st.st_mode)) {
      EXPECT_EQ(inode->size, static_cast<uint64_t>(st.st_size));
      std::vector<uint8_t> content = ReadFile(path);
      if (inode->is_inline()) {
        EXPECT_LE(content.size(), 64u);
        Result<std::span<const uint8_t>> data = m->InlineData(*ino);
        ASSERT_TRUE(data.ok());
        EXPECT_TRUE(std::equal(data->begin(), data->end(), content.begin(),
                               content.end()));
      } else {
        EXPECT_GT(content.size(), 64u);
        Result<Digest> digest = m->FileDigest(*ino);
        ASSERT_TRUE(digest.ok());
        EXPECT_EQ(*digest, ComputeMerkleTree(content).digest);
        EXPECT_EQ(ReadFile(store->get()->path() + "/" +
                           Store::ObjectPath(*digest)),
                  content);
      }
    }
  }
  EXPECT_EQ(inos.size() + 1, m->inode_count());
  EXPECT_GT(checked, 60u);
}

TEST_F(MkfsTest, EveryObjectInTheStoreVerifies) {
  std::shared_ptr<const Manifest> m = Build(Options(work_ / "image"));
  ASSERT_NE(m, nullptr);
  ASSERT_GT(m->digest_count(), 5u);
  for (uint64_t i = 0; i < m->digest_count(); ++i) {
    Result<Digest> d = m->DigestAt(i);
    ASSERT_TRUE(d.ok());
    std::vector<uint8_t> object =
        ReadFile(work_ / "store" + "/" + Store::ObjectPath(*d));
    EXPECT_EQ(ComputeMerkleTree(object).digest, *d);
  }
}

TEST_F(MkfsTest, SameTreeGivesSameBytes) {
  MkfsOptions a = Options(work_ / "a");
  MkfsOptions b = Options(work_ / "b");
  b.store = work_ / "other-store";
  b.threads = 1;
  ASSERT_NE(Build(a), nullptr);
  ASSERT_NE(Build(b), nullptr);
  EXPECT_EQ(ReadFile(a.image), ReadFile(b.image));
}

TEST_F(MkfsTest, CopyOfTheTreeGivesSameBytes) {
  ::sealfs::testing::CommandResult cp =
      ::sealfs::testing::Run({"cp", "-a", src_, work_ / "copy"});
  ASSERT_EQ(cp.exit_code, 0) << cp.err;
  MkfsOptions a = Options(work_ / "a");
  MkfsOptions b = Options(work_ / "b");
  b.source = work_ / "copy";
  ASSERT_NE(Build(a), nullptr);
  ASSERT_NE(Build(b), nullptr);
  EXPECT_EQ(ReadFile(a.image), ReadFile(b.image));
}

TEST_F(MkfsTest, EntriesCreatedInAnotherOrderGiveSameBytes) {
  const std::string other = work_ / "reversed";
  ASSERT_EQ(mkdir(other.c_str(), 0755), 0);
  MakeFullTree(other, /*reverse=*/true);
  ::sealfs::testing::SetAllMtimes(src_, 1600000000, 5);
  ::sealfs::testing::SetAllMtimes(other, 1600000000, 5);
  MkfsOptions a = Options(work_ / "a");
  MkfsOptions b = Options(work_ / "b");
  b.source = other + "/";  // a trailing slash changes nothing either
  ASSERT_NE(Build(a), nullptr);
  ASSERT_NE(Build(b), nullptr);
  EXPECT_EQ(ReadFile(a.image), ReadFile(b.image));
}

TEST_F(MkfsTest, EpochClampsLaterMtimesOnly) {
  timespec old_time[2] = {{0, UTIME_OMIT}, {500, 42}};
  ASSERT_EQ(utimensat(AT_FDCWD, (src_ + "/etc/passwd").c_str(), old_time,
                      AT_SYMLINK_NOFOLLOW),
            0);
  MkfsOptions o = Options(work_ / "image");
  o.epoch = 1000;
  std::shared_ptr<const Manifest> m = Build(o);
  ASSERT_NE(m, nullptr);
  for (uint64_t ino = 1; ino <= m->inode_count(); ++ino) {
    Result<Inode> inode = m->GetInode(ino);
    ASSERT_TRUE(inode.ok());
    EXPECT_TRUE(inode->mtime_sec < 1000 ||
                (inode->mtime_sec == 1000 && inode->mtime_nsec == 0))
        << ino;
  }
  Result<uint64_t> passwd = ResolvePath(*m, "/etc/passwd");
  ASSERT_TRUE(passwd.ok());
  EXPECT_EQ(m->GetInode(*passwd)->mtime_sec, 500);
  EXPECT_EQ(m->GetInode(*passwd)->mtime_nsec, 42u);
  Result<uint64_t> hostname = ResolvePath(*m, "/etc/hostname");
  ASSERT_TRUE(hostname.ok());
  EXPECT_EQ(m->GetInode(*hostname)->mtime_sec, 1000);
}

TEST_F(MkfsTest, RefusesExistingImageBeforeAnyWork) {
  ::sealfs::testing::WriteFile(work_ / "image", "keep me");
  MkfsOptions o = Options(work_ / "image");
  Result<MkfsReport> r = BuildImage(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().err(), EEXIST);
  EXPECT_NE(r.status().context().find(o.image), std::string::npos);
  const std::string kept = "keep me";
  EXPECT_EQ(ReadFile(o.image), std::vector<uint8_t>(kept.begin(), kept.end()));
  struct stat st;
  EXPECT_NE(lstat((work_ / "store").c_str(), &st), 0) << "store was touched";
  o.force = true;
  EXPECT_NE(Build(o), nullptr);
}

TEST_F(MkfsTest, SecondBuildWritesNoNewObjects) {
  MkfsOptions o = Options(work_ / "a");
  Result<MkfsReport> first = BuildImage(o);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_GT(first->objects_written, 0u);
  // dup-a and dup-b have one object between them.
  EXPECT_EQ(first->objects_written + 1, first->files);
  o.image = work_ / "b";
  Result<MkfsReport> second = BuildImage(o);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->objects_written, 0u);
  EXPECT_EQ(second->bytes_written, 0u);
  EXPECT_EQ(second->identity, first->identity);
}

TEST_F(MkfsTest, CreatesMissingStoreWithParents) {
  MkfsOptions o = Options(work_ / "image");
  o.store = work_ / "var/lib/sealfs/store";
  ASSERT_NE(Build(o), nullptr);
  struct stat st;
  EXPECT_EQ(stat((o.store + "/objects").c_str(), &st), 0);
}

TEST_F(MkfsTest, RefusesBadOptions) {
  MkfsOptions o = Options(work_ / "image");
  o.inline_max = kMaxInlineSize + 1;
  EXPECT_EQ(BuildImage(o).status().err(), EINVAL);
  o = Options(work_ / "image");
  o.threads = 0;
  EXPECT_EQ(BuildImage(o).status().err(), EINVAL);
}

TEST_F(MkfsTest, MissingSourceNamesIt) {
  MkfsOptions o = Options(work_ / "image");
  o.source = work_ / "nope";
  Result<MkfsReport> r = BuildImage(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().err(), ENOENT);
  EXPECT_NE(r.status().ToString().find(o.source), std::string::npos);
  struct stat st;
  EXPECT_NE(lstat(o.image.c_str(), &st), 0);
}

// A file whose path is longer than PATH_MAX is walked through directory fds
// and hashed through OpenBeneath's per-component fallback.
TEST(Mkfs, PathLongerThanPathMax) {
  TempDir work;
  const std::string src = work / "src";
  ASSERT_EQ(mkdir(src.c_str(), 0755), 0);
  const std::string name(200, 'q');
  UniqueFd at(open(src.c_str(), O_RDONLY | O_DIRECTORY));
  std::string rel;
  for (int i = 0; i < 25; ++i) {
    ASSERT_EQ(mkdirat(at.get(), name.c_str(), 0755), 0);
    at.reset(openat(at.get(), name.c_str(), O_RDONLY | O_DIRECTORY));
    ASSERT_TRUE(at.valid());
    rel += "/" + name;
  }
  const std::vector<uint8_t> content = ::sealfs::testing::RandomBytes(9000, 3);
  UniqueFd file(openat(at.get(), "f", O_CREAT | O_WRONLY, 0644));
  ASSERT_EQ(write(file.get(), content.data(), content.size()),
            static_cast<ssize_t>(content.size()));
  file.reset();
  rel += "/f";
  ASSERT_GT(rel.size(), static_cast<size_t>(PATH_MAX));
  MkfsOptions o;
  o.source = src;
  o.image = work / "image";
  o.store = work / "store";
  Result<MkfsReport> r = BuildImage(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files, 1u);
  Result<std::shared_ptr<const Manifest>> m = Manifest::Open(o.image);
  ASSERT_TRUE(m.ok());
  Result<uint64_t> ino = ResolvePath(**m, rel);
  ASSERT_TRUE(ino.ok()) << ino.status().ToString();
  EXPECT_EQ(*(*m)->FileDigest(*ino), ComputeMerkleTree(content).digest);
  // TempDir's remove_all works on whole paths; rm(1) copes with this depth.
  ::sealfs::testing::Run({"rm", "-rf", src});
}

TEST_F(MkfsTest, SignedImageVerifiesAndKeepsIdentity) {
  ASSERT_TRUE(GenerateKeyPair(work_ / "key").ok());
  MkfsOptions o = Options(work_ / "signed");
  o.key_path = work_ / "key";
  std::shared_ptr<const Manifest> signed_image = Build(o);
  ASSERT_NE(signed_image, nullptr);
  std::shared_ptr<const Manifest> plain = Build(Options(work_ / "plain"));
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(signed_image->identity(), plain->identity());
  EXPECT_FALSE(signed_image->trailer_bytes().empty());
  Result<PublicKey> pub = LoadPublicKey(work_ / "key.pub");
  ASSERT_TRUE(pub.ok());
  Result<PublicKey> by = VerifyImage(*signed_image, {&*pub, 1});
  ASSERT_TRUE(by.ok()) << by.status().ToString();
  EXPECT_EQ(*by, *pub);
}

}  // namespace
}  // namespace sealfs::mkfs
