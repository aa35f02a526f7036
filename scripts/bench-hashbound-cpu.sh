#!/usr/bin/env bash
# Where the CPU goes in a hash-bound read (issue #22): a file of SIZE_MIB
# random bytes, its store object and tree in the page cache, read with dd
# through a fresh mount, so every block is hashed again. Prints per run the
# throughput, the wall time, and the CPU seconds (user, sys) of the daemon
# and of the reader; the cores they kept busy, and the cores idle and
# stolen by the host (all CPUs, from /proc/stat); and the ceiling those
# imply on this machine's CPUs: bytes / (CPU seconds per byte / CPUs).
# Needs root (mount).
#
# OPTS adds mount options (OPTS=threads=2). Before each read, as much memory
# as the read will cache is written and freed (scripts/fault-in-memory.py:
# on a VM that reports free pages to its host, 2 to 3 reads of 10 would
# otherwise pay a host fault per page); FAULT_IN=0 skips it.
#
#   SEALFS=build/tools/sealfs SIZE_MIB=1024 RUNS=3 scripts/bench-hashbound-cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
sealfs=${SEALFS:-$PWD/build/tools/sealfs}
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-3}
work=$(mktemp -d /var/tmp/sealfs-hashbound-XXXXXX)
cleanup() {
  mountpoint -q "$work/mnt" && fusermount3 -u "$work/mnt"
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/src" "$work/mnt"
head -c "$((SIZE_MIB << 20))" /dev/urandom >"$work/src/big.bin"
"$sealfs" mkfs --store "$work/store" --force "$work/src" "$work/img" >/dev/null 2>&1
rm "$work/src/big.bin"  # only the object and its tree stay cached
# Writeback of the new object would take CPU from the first reads.
sync
tick=$(getconf CLK_TCK)
cpus=$(nproc)
cpu_of() { awk '{ print $14, $15 }' "/proc/$1/stat"; }  # utime stime (ticks)
# All CPUs' idle (with iowait) and steal ticks: time no task here ran, and
# time the host ran something else on this VM's CPUs.
idle_steal() { awk '$1 == "cpu" { print $5 + $6, $9 }' /proc/stat; }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((i = 0; i < RUNS; i++)); do
  find "$work/store/objects" "$work/store/trees" -type f -exec cat {} + >/dev/null
  [ "${FAULT_IN:-1}" = 0 ] || python3 scripts/fault-in-memory.py $((SIZE_MIB + 64))
  "$sealfs" mount -o "store=$work/store,insecure${OPTS:+,$OPTS}" "$work/img" "$work/mnt" 2>/dev/null
  pid=$(pgrep -n -f -- "$work/img $work/mnt")
  read -r du0 ds0 < <(cpu_of "$pid")
  read -r idle0 steal0 < <(idle_steal)
  t0=$EPOCHREALTIME
  # The reader's own times: bash's `times` would add this script's.
  /usr/bin/time -o "$work/reader" -f '%U %S' dd if="$work/mnt/big.bin" of=/dev/null bs=1M 2>/dev/null
  reader=$(cat "$work/reader")
  t1=$EPOCHREALTIME
  read -r idle1 steal1 < <(idle_steal)
  read -r du1 ds1 < <(cpu_of "$pid")
  fusermount3 -u "$work/mnt"
  awk -v a="$t0" -v b="$t1" -v mib="$SIZE_MIB" -v tk="$tick" -v cpus="$cpus" \
    -v du=$((du1 - du0)) -v ds=$((ds1 - ds0)) -v r="$reader" \
    -v idle=$((idle1 - idle0)) -v steal=$((steal1 - steal0)) 'BEGIN {
      split(r, rs, " "); wall = b - a; bytes = mib * 1048576
      cpu = du / tk + ds / tk + rs[1] + rs[2]
      printf "%.0f MB/s  wall %.3f s  daemon user %.2f sys %.2f  reader user %.2f sys %.2f  cores busy %.2f  idle %.2f  stolen %.2f  ceiling %.0f MB/s\n",
        bytes / wall / 1e6, wall, du / tk, ds / tk, rs[1], rs[2], cpu / wall,
        idle / tk / wall, steal / tk / wall, bytes / (cpu / cpus) / 1e6 }'
done
echo "openssl speed -multi $cpus -evp sha256 -bytes 16384: $(openssl speed -multi "$cpus" -evp sha256 -bytes 16384 2>/dev/null |
  awk '$1 == "sha256" && $2 ~ /k$/ { sub(/k$/, "", $2); printf "%.0f MB/s", $2 / 1000 }')"
