#!/usr/bin/env bash
# OCI import benchmark (issue 21): `sealfs mkfs --from-oci oci:DIR` of a
# two-layer image of a debootstrap rootfs against `umoci raw unpack` of the
# same image, in the same run. umoci only writes files and computes no
# digests; sealfs checks every blob and diff_id, hashes every file and
# writes the store and the image. Prints wall and CPU seconds (median of
# REPS, order alternating, writeback settled before each) and the ratio.
#
#   ROOTFS=/var/tmp/sealfs-rootfs/rootfs BENCH_DIR=/var/tmp/sealfs-bench-oci \
#     REPS=3 scripts/bench-oci.sh
#
# REPS=0 only writes the image (to do that beforehand, not on a quiet box).
# The image (layer 1: the rootfs without usr/share; layer 2: usr/share) is
# written once with umoci and kept in BENCH_DIR. Every output lands on a new
# ext4 filesystem on a loop device, made for the run and removed after it:
# on this machine's root filesystem (ext4 without a journal) allocating
# inodes soon after deleting thousands costs seconds, which would measure
# the previous repetition's rm -rf rather than the import.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-/var/tmp/sealfs-bench-oci}
REPS=${REPS:-3}
ROOTFS=${ROOTFS:-/var/tmp/sealfs-rootfs/rootfs}
sealfs=$PWD/${BUILD_DIR:-build}/tools/sealfs
bench=bench-oci
. scripts/bench-lib.sh
[ -x "$sealfs" ] || { echo "bench-oci: build sealfs first ($sealfs)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench-oci: run as root (owners, devices, mounts)" >&2; exit 2; }
[ -d "$ROOTFS/usr/share" ] || { echo "bench-oci: ROOTFS=$ROOTFS is not a rootfs" >&2; exit 2; }
command -v umoci >/dev/null || { echo "bench-oci: needs umoci (scripts/install.sh)" >&2; exit 2; }

layout=$BENCH_DIR/layout
runs=$BENCH_DIR/runs
fs_image=$BENCH_DIR/runs.ext4
mkdir -p "$BENCH_DIR" "$runs"

cleanup() { loop_ext4_remove "$fs_image" "$runs"; }
trap cleanup EXIT
cleanup  # leftovers of an interrupted run

if [ ! -f "$layout/.complete" ]; then
  echo "bench-oci: writing a two-layer image of $ROOTFS with umoci" >&2
  rm -rf "$layout" "$BENCH_DIR/bundle"
  umoci init --layout "$layout"
  umoci new --image "$layout:rootfs"
  umoci unpack --image "$layout:rootfs" "$BENCH_DIR/bundle" >/dev/null
  tar -C "$ROOTFS" --exclude=./usr/share -cf - . |
    tar -C "$BENCH_DIR/bundle/rootfs" --xattrs --same-owner -xpf -
  umoci repack --refresh-bundle --image "$layout:rootfs" "$BENCH_DIR/bundle" >/dev/null
  tar -C "$ROOTFS" -cf - ./usr/share |
    tar -C "$BENCH_DIR/bundle/rootfs" --xattrs --same-owner -xpf -
  umoci repack --image "$layout:rootfs" "$BENCH_DIR/bundle" >/dev/null
  rm -rf "$BENCH_DIR/bundle"
  umoci gc --layout "$layout"
  touch "$layout/.complete"
fi

[ "$REPS" -gt 0 ] || exit 0  # REPS=0: only write the image

unpacked_mib=$(du -sm "$ROOTFS" | cut -f1)
loop_ext4_mount "$fs_image" "$runs" $(((unpacked_mib * 3 + 200) * (REPS + 1)))

run_sealfs() {
  quiet
  r=$(timed "'$sealfs' mkfs --store '$runs/store-$1' --from-oci 'oci:$layout:rootfs' '$runs/$1.img'")
  add sealfs.wall "${r% *}"; add sealfs.cpu "${r#* }"
}
run_umoci() {
  quiet
  r=$(timed "umoci raw unpack --image '$layout:rootfs' '$runs/unpack-$1'")
  add umoci.wall "${r% *}"; add umoci.cpu "${r#* }"
}
for rep in $(seq 1 "$REPS"); do
  # Alternate which goes first, so neither always runs on a warmer cache.
  if ((rep % 2)); then run_sealfs "$rep"; run_umoci "$rep"; else run_umoci "$rep"; run_sealfs "$rep"; fi
done

sw=$(m sealfs.wall); sc=$(m sealfs.cpu); uw=$(m umoci.wall); uc=$(m umoci.cpu)
blobs_mib=$(du -sm "$layout/blobs" | cut -f1)
echo
echo "image: 2 gzip layers, $blobs_mib MiB of blobs, $unpacked_mib MiB unpacked; $(nproc) CPUs;" \
  "median of $REPS; outputs on a fresh loop-mounted ext4; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| method | wall s | CPU s |"
echo "|---|---:|---:|"
echo "| \`sealfs mkfs --from-oci oci:DIR:rootfs\` | $sw | $sc |"
echo "| \`umoci raw unpack --image DIR:rootfs\` | $uw | $uc |"
echo
awk -v a="$sw" -v b="$uw" 'BEGIN { printf "from-oci / umoci raw unpack, wall: %.2f (target <= 1.0)\n", a / b }'
