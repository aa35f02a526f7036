#!/usr/bin/env bash
# Cold walks in alternating rounds (issue #22): a `tar` of bench.sh's corpus's
# small files (big.bin left out) through a fresh mount of each sealfs binary
# given, and of the source tree on ext4, the page cache dropped before
# each. One line per round: seconds, and for each mount the daemon's CPU
# seconds and the READs that reached it (`sealfs stats`). Alternating puts
# every column in the same minutes of a noisy machine; bench.sh runs its
# columns a minute apart. Run bench.sh once first (it makes the corpus).
# Needs root (drop_caches, mounts).
#
#   ROUNDS=8 scripts/bench-cold-tar.sh before=/tmp/sealfs-old after=build/tools/sealfs
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/var/tmp/sealfs-bench}
ROUNDS=${ROUNDS:-6}
[ $# -gt 0 ] || set -- "sealfs=$PWD/build/tools/sealfs"
[ -f "$BENCH_DIR/tree.sealfs" ] || { echo "bench-cold-tar: run scripts/bench.sh first" >&2; exit 1; }
mnt=$BENCH_DIR/mnt-sealfs
mkdir -p "$mnt"
trap 'mountpoint -q "$mnt" && fusermount3 -u "$mnt"' EXIT
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
walk() {  # dir: prints seconds
  local t0=$EPOCHREALTIME
  # Through cat: GNU tar reads nothing when its archive is /dev/null.
  tar cf - -C "$1" --exclude=./big.bin . | cat >/dev/null
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'
}
for ((r = 1; r <= ROUNDS; r++)); do
  drop_caches
  line="ext4 $(walk "$BENCH_DIR/tree")"
  for spec in "$@"; do
    name=${spec%%=*} bin=${spec#*=}
    "$bin" mount -o "store=$BENCH_DIR/store,insecure" "$BENCH_DIR/tree.sealfs" "$mnt" 2>/dev/null
    stat "$mnt/etc/hostname" >/dev/null
    pid=$(pgrep -n -f -- "tree.sealfs $mnt")
    drop_caches
    secs=$(walk "$mnt")
    cpu=$(awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$pid/stat")
    reads=$("$bin" stats "$mnt" | grep -o '"reads":[0-9]*' | cut -d: -f2)
    fusermount3 -u "$mnt"
    line+="  $name $secs (cpu $cpu, reads $reads)"
  done
  echo "$line"
done
