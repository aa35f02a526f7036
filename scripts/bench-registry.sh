#!/usr/bin/env bash
# Registry benchmark (issue 18): the debootstrap rootfs through Debian's
# docker-registry on loopback, sealfs beside skopeo, in one run:
#   - push: `sealfs push` of the image beside `skopeo copy` of an OCI image
#     of the same tree (made with umoci: one gzip layer) to the registry;
#   - pull: `sealfs pull` into an empty store beside `skopeo copy` from the
#     registry into an empty OCI layout directory, and `cp -a` of the
#     objects (what one file per object costs this disk, the floor);
#   - the lazy-mount workload of bench-remote.sh (apt-get --version,
#     dpkg -l, ls /usr/bin in a chroot) with the registry as the remote and
#     a store that starts empty, beside a full local store with dropped
#     caches, and the time until every object is local.
# Prints a Markdown table of medians (min-max) and ratios. Needs root.
#
#   BENCH_DIR=/var/tmp/sealfs-bench REPS=5 scripts/bench-registry.sh
#
# ROOTFS=DIR uses an existing tree instead of debootstrapping one. What is
# fetched lands on a fresh ext4 on a loop device (see loop_ext4_mount in
# bench-lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-/var/tmp/sealfs-bench}
REPS=${REPS:-5}
ROOTFS=${ROOTFS:-$BENCH_DIR/rootfs}
sealfs=$PWD/${BUILD_DIR:-build}/tools/sealfs
bench=bench-registry
. scripts/bench-lib.sh
[ -x "$sealfs" ] || bash scripts/install.sh >/dev/null
bench_need docker-registry skopeo umoci debootstrap

work=$BENCH_DIR/registry
src=$work/source-store
image=$work/rootfs.sealfs
oci=$work/oci
runs=$work/runs
mnt=$work/mnt
fs_image=$work/dest.ext4
mkdir -p "$work" "$mnt" "$runs"

reg_pid=
cleanup() {
  mountpoint -q "$mnt" && { fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"; }
  [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null
  loop_ext4_remove "$fs_image" "$runs"
}
trap cleanup EXIT
cleanup
loop_ext4_mount "$fs_image" "$runs" $((2 * 1024 * (REPS + 1)))
bench_rootfs "$ROOTFS"
bench_image "$ROOTFS" "$src" "$image"
identity=$("$sealfs" inspect --json "$image" | python3 -c 'import json,sys; print(json.load(sys.stdin)["identity"])')
if [ ! -f "$oci/.complete" ]; then
  echo "bench-registry: OCI image of the same tree with umoci" >&2
  rm -rf "$oci" "$work/bundle"
  umoci init --layout "$oci" >/dev/null
  umoci new --image "$oci:rootfs" >/dev/null
  umoci unpack --rootless --image "$oci:rootfs" "$work/bundle" >/dev/null 2>&1 ||
    umoci unpack --image "$oci:rootfs" "$work/bundle" >/dev/null
  cp -a "$ROOTFS/." "$work/bundle/rootfs/"
  umoci repack --image "$oci:rootfs" "$work/bundle" >/dev/null
  rm -rf "$work/bundle"
  touch "$oci/.complete"
fi

rm -rf "$work/registry-data" "$work/registry.log"
registry_config "$work"
registry_start "$work"
reg=127.0.0.1:$reg_port

warm_registry() { find "$work/registry-data" -type f -exec cat {} + >/dev/null; }

# skopeo remembers where it has seen a blob (its blob-info cache) and
# mounts it from there instead of uploading: from the second round on it
# would move no bytes. Each run gets an empty cache of its own, in a
# private mount namespace.
mkdir -p /var/lib/containers/cache
skopeo_fresh() {
  unshare -m sh -c 'mount -t tmpfs tmpfs /var/lib/containers/cache && exec skopeo "$@"' \
    skopeo "$@"
}

for rep in $(seq "$REPS"); do
  r=$runs/$rep
  mkdir -p "$r"
  echo "bench-registry: round $rep of $REPS" >&2
  # Each round pushes to repositories of its own: nothing is there yet.
  s=$(now); "$sealfs" push --store "$src" --to "docker://$reg/sealfs$rep/rootfs:v1" \
    --tls-verify=false "$image" 2>/dev/null; add push "$(since "$s")"
  s=$(now); skopeo_fresh copy -q --dest-tls-verify=false "oci:$oci:rootfs" \
    "docker://$reg/skopeo$rep/rootfs:v1" >/dev/null; add skopeo_push "$(since "$s")"
  warm_registry
  s=$(now); "$sealfs" pull --from "docker://$reg/sealfs$rep/rootfs" --tls-verify=false \
    --store "$r/pull" v1 2>/dev/null; add pull "$(since "$s")"
  s=$(now); skopeo_fresh copy -q --src-tls-verify=false "docker://$reg/skopeo$rep/rootfs:v1" \
    "oci:$r/skopeo-oci:rootfs" >/dev/null && sync; add skopeo_pull "$(since "$s")"
  # What writing one file per object costs on this disk, with no network
  # and no hashing: the floor under any pull into a store.
  s=$(now); cp -a "$src/objects" "$r/cp-objects" && sync; add cp_objects "$(since "$s")"

  "$sealfs" mount -o "store=$src,digest=$identity" "$image" "$mnt"
  drop_caches
  s=$(now); workload "$mnt"; add local_cold "$(since "$s")"
  fusermount3 -u "$mnt"

  drop_caches; warm_registry
  s=$(now)
  "$sealfs" mount -o "store=$r/lazy,digest=$identity,tls_verify=false" \
    "docker://$reg/sealfs$rep/rootfs:v1" "$mnt"
  w=$(now); workload "$mnt"; add lazy "$(since "$w")"
  wait_local "$mnt"; add lazy_whole "$(since "$s")"
  fusermount3 -u "$mnt"
done

oci_bytes=$(du -sb "$oci/blobs" | cut -f1)
sealfs_bytes=$(du -sb "$work/registry-data/docker/registry/v2/blobs" | cut -f1)
echo "Image: $(find "$src/objects" -type f | wc -l) objects; OCI layout $((oci_bytes / 1048576)) MiB (gzip); registry holds $((sealfs_bytes / 1048576)) MiB after all rounds; $(nproc) CPUs; $REPS rounds; docker-registry on loopback"
echo
echo "| what | seconds (median) | min-max |"
echo "|---|---|---|"
row push "sealfs push (packs, hashed and verified)"
row skopeo_push "skopeo copy oci: -> docker:// (one gzip layer)"
row pull "sealfs pull into an empty store (verified, durable)"
row skopeo_pull "skopeo copy docker:// -> oci: (+ sync)"
row cp_objects "cp -a of the store's objects + sync (no network, no hashing)"
row local_cold "workload, full local store, caches dropped"
row lazy "workload, lazy mount from the registry, empty store"
row lazy_whole "lazy mount until every object is local (workload running)"
echo
echo "| target | ratio | goal |"
echo "|---|---|---|"
echo "| sealfs push / skopeo push | $(ratio push skopeo_push) | <= 1.0x |"
echo "| sealfs pull / skopeo pull | $(ratio pull skopeo_pull) | <= 1.0x |"
echo "| cp -a of the objects / skopeo pull | $(ratio cp_objects skopeo_pull) | (floor) |"
echo "| sealfs pull / cp -a of the objects | $(ratio pull cp_objects) | - |"
echo "| lazy workload / local cold | $(ratio lazy local_cold) | - |"
echo "| mount until local / sealfs pull | $(ratio lazy_whole pull) | - |"
