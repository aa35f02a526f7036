#!/usr/bin/env bash
# mkfs benchmark: `sealfs mkfs` into an empty and into a populated store,
# against mksquashfs (uncompressed) and `fsverity digest` over the same files,
# with `openssl speed` as the per-core SHA-256 limit. Prints a Markdown table
# of medians (warm page cache) and ratios.
#
#   BENCH_DIR=/var/tmp/sealfs-bench REPS=3 FILES=20000 BIG_MIB=1024 scripts/bench-mkfs.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-/var/tmp/sealfs-bench}
REPS=${REPS:-3}
FILES=${FILES:-20000}
BIG_MIB=${BIG_MIB:-1024}
sealfs=$PWD/${BUILD_DIR:-build}/tools/sealfs
[ -x "$sealfs" ] || { echo "bench-mkfs: build sealfs first ($sealfs)" >&2; exit 2; }

tree=$BENCH_DIR/tree          # shared with scripts/bench.sh
bigtree=$BENCH_DIR/mkfs-bigtree
work=$BENCH_DIR/mkfs-work
mkdir -p "$BENCH_DIR" "$work"

if [ ! -f "$tree/.complete" ]; then
  echo "bench-mkfs: generating corpus ($FILES files + ${BIG_MIB} MiB) in $tree" >&2
  # Generated aside and renamed, so a concurrent bench never sees half a tree.
  rm -rf "$tree.tmp.$$"
  python3 scripts/gen-corpus.py "$tree.tmp.$$" --files "$FILES" --big-mib "$BIG_MIB"
  touch "$tree.tmp.$$/.complete"
  rm -rf "$tree"
  mv -T "$tree.tmp.$$" "$tree"
fi
# The big file alone, as a hard link (no copy), to time hashing one file.
rm -rf "$bigtree"
mkdir -p "$bigtree"
ln "$tree/big.bin" "$bigtree/big.bin"

# Runs a command with its output discarded; prints "WALL CPU" in seconds,
# CPU being user + system of it and its children. CPU time is what a busy
# shared machine distorts least.
timed() {
  local out
  out=$( { TIMEFORMAT='%R %U %S'; time "$@" >/dev/null 2>&1 || echo FAIL; } 2>&1 )
  case $out in *FAIL*) echo "bench-mkfs: failed: $*" >&2; exit 1 ;; esac
  echo "$out" | awk '{ printf "%.3f %.3f", $1, $2 + $3 }'
}
# record NAME CMD...: appends one sample of wall and CPU seconds.
declare -A s
record() {
  local name=$1 r
  shift
  r=$(timed "$@")
  s[$name.wall]+="${r% *} "
  s[$name.cpu]+="${r#* } "
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 }
  END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

files=$(find "$tree" -type f | wc -l)
bytes=$(find "$tree" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
mib=$(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 }')
echo "bench-mkfs: $files files, $mib MiB, $(nproc) CPUs, $REPS reps, warm cache" >&2
cat "$tree/big.bin" >/dev/null  # warm the page cache once

load0=$(cut -d' ' -f1 /proc/loadavg)
for rep in $(seq "$REPS"); do
  echo "bench-mkfs: rep $rep/$REPS" >&2
  rm -rf "$work/store" "$work/image" "$work/sqfs" "$work/bigstore"
  record first "$sealfs" mkfs --store "$work/store" "$tree" "$work/image"
  record rebuild "$sealfs" mkfs --store "$work/store" --force "$tree" "$work/image"
  record squashfs mksquashfs "$tree" "$work/sqfs" -noI -noD -noF -noX -quiet -no-progress
  record fsverity sh -c "find '$tree' -type f -exec fsverity digest {} + >/dev/null"
  # One file on one core: populate, then rebuild (hash only, object exists).
  "$sealfs" mkfs --store "$work/bigstore" --force "$bigtree" "$work/bigimage" >/dev/null 2>&1
  record bighash "$sealfs" mkfs --store "$work/bigstore" --force "$bigtree" "$work/bigimage"
  record fsvbig fsverity digest "$tree/big.bin"
done
load1=$(cut -d' ' -f1 /proc/loadavg)
# openssl: 1000s of bytes per second for 8192-byte blocks, one core.
ossl_kbs=$(openssl speed -evp sha256 -bytes 8192 -seconds 3 2>/dev/null |
  awk '/^sha256/ { v = $NF } END { sub(/k$/, "", v); print v }')
ossl_mibs=$(awk -v k="$ossl_kbs" 'BEGIN { printf "%.0f", k * 1000 / 1048576 }')
rm -rf "$bigtree" "$work/bigstore" "$work/bigimage"

m() { echo "${s[$1]}" | median; }
rate() { awk -v mb="$1" -v t="$2" 'BEGIN { printf "%.0f MiB/s", mb / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
row() {  # label name MiB ratio-text
  echo "| $1 | $(m "$2.wall") | $(m "$2.cpu") | $(rate "$3" "$(m "$2.wall")") | $(rate "$3" "$(m "$2.cpu")") | $4 |"
}
fw=$(m first.wall); fc=$(m first.cpu)
big_cpu_rate=$(awk -v mb="$BIG_MIB" -v t="$(m bighash.cpu)" 'BEGIN { printf "%.0f", mb / t }')

echo
echo "$files files, $mib MiB, $(nproc) CPUs, warm page cache, median of $REPS;"
echo "load average $load0 before, $load1 after (the machine is shared)."
echo
echo "| step | wall s | CPU s | MiB/s (wall) | MiB/s (CPU) | ratio |"
echo "|---|---:|---:|---:|---:|---|"
row "sealfs mkfs, empty store" first "$mib" "baseline"
row "sealfs mkfs, populated store" rebuild "$mib" \
  "wall $(ratio "$(m rebuild.wall)" "$fw"), CPU $(ratio "$(m rebuild.cpu)" "$fc") of first build"
row "mksquashfs -noI -noD -noF -noX" squashfs "$mib" \
  "wall $(ratio "$(m squashfs.wall)" "$fw"), CPU $(ratio "$(m squashfs.cpu)" "$fc") of first build"
row "fsverity digest, all files (1 process)" fsverity "$mib" \
  "wall $(ratio "$(m fsverity.wall)" "$fw"), CPU $(ratio "$(m fsverity.cpu)" "$fc") of first build"
row "sealfs mkfs, only the ${BIG_MIB} MiB file (hash, 1 core)" bighash "$BIG_MIB" \
  "CPU rate $(ratio "$big_cpu_rate" "$ossl_mibs") of openssl"
row "fsverity digest, the ${BIG_MIB} MiB file" fsvbig "$BIG_MIB" ""
echo "| openssl speed -evp sha256 -bytes 8192 (1 core) | | | | ${ossl_mibs} MiB/s | 1.00x |"
