// SPDX-License-Identifier: Apache-2.0
// CheckLocalObject: re-hash an object in place and repair its tree.
#include "fs/remote/local_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fs/core/store_io.h"
#include "fs/util/io.h"

namespace sealfs::remote {

Status CheckLocalObject(const Store& store, const Digest& digest, uint64_t size,
                        bool* tree_fixed, std::optional<Digest>* actual) {
  *tree_fixed = false;
  actual->reset();
  const std::string what = "object " + digest.ToString();
  SEALFS_ASSIGN_OR_RETURN(UniqueFd fd, store.OpenObject(digest));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(what + ": fstat");
  if (static_cast<uint64_t>(st.st_size) != size) {
    return Status::Corrupt(what + ": local copy has " +
                           std::to_string(st.st_size) +
                           " bytes, the manifest says " + std::to_string(size));
  }
  SEALFS_ASSIGN_OR_RETURN(MerkleTree tree, ComputeMerkleTree(fd.get()));
  if (tree.digest != digest || tree.data_size != size) {
    *actual = tree.digest;
    return Status::FromErrno(
        kErrDigest, what + ": local copy hashes to " + tree.digest.ToString());
  }
  if (TreeGeometry::For(size).tree_blocks == 0 || !store.writable()) return {};

  // The object is good; make sure its tree file is its tree.
  SEALFS_ASSIGN_OR_RETURN(
      UniqueFd tdir,
      OpenFanoutDir(store.dir_fd(), kTreesDir, digest, /*create=*/true));
  const std::string leaf = LeafName(digest);
  Result<UniqueFd> tfd = OpenBeneath(tdir.get(), leaf, O_RDONLY | O_NONBLOCK);
  bool good = false;
  if (tfd.ok()) {
    std::vector<uint8_t> have(tree.tree.size() + 1);
    Result<size_t> got = PreadFull(tfd->get(), have, 0);
    good = got.ok() && *got == tree.tree.size() &&
           std::equal(tree.tree.begin(), tree.tree.end(), have.begin());
    if (!good && ::unlinkat(tdir.get(), leaf.c_str(), 0) != 0) {
      return ErrnoStatus("tree " + Store::TreePath(digest) + ": unlink");
    }
  } else if (tfd.status().err() != ENOENT) {
    // A symlink or special file where the tree belongs.
    if (::unlinkat(tdir.get(), leaf.c_str(), 0) != 0) {
      return ErrnoStatus("tree " + Store::TreePath(digest) + ": unlink");
    }
  }
  if (good) return {};
  SEALFS_RETURN_IF_ERROR(WriteNewFile(tdir.get(), leaf, tree.tree));
  *tree_fixed = true;
  return {};
}

}  // namespace sealfs::remote
