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

now_ns() { date +%s%N; }
# Seconds a command takes (float); its output is discarded.
timed() {
  local t0 t1
  t0=$(now_ns)
  "$@" >/dev/null 2>&1 || { echo "bench-mkfs: failed: $*" >&2; exit 1; }
  t1=$(now_ns)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 }
  END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

files=$(find "$tree" -type f | wc -l)
bytes=$(find "$tree" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
mib=$(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 }')
echo "bench-mkfs: $files files, $mib MiB, $(nproc) CPUs, $REPS reps, warm cache" >&2
cat "$tree/big.bin" >/dev/null  # warm the page cache once

declare -A s
for rep in $(seq "$REPS"); do
  echo "bench-mkfs: rep $rep/$REPS" >&2
  rm -rf "$work/store" "$work/image" "$work/sqfs" "$work/bigstore"
  s[first]+="$(timed "$sealfs" mkfs --store "$work/store" "$tree" "$work/image") "
  s[rebuild]+="$(timed "$sealfs" mkfs --store "$work/store" --force "$tree" "$work/image") "
  s[squashfs]+="$(timed mksquashfs "$tree" "$work/sqfs" -noI -noD -noF -noX -quiet -no-progress) "
  s[fsverity]+="$(timed sh -c "find '$tree' -type f -exec fsverity digest {} + >/dev/null") "
  # One file on one core: populate, then rebuild (hash only, object exists).
  "$sealfs" mkfs --store "$work/bigstore" "$bigtree" "$work/bigimage" --force >/dev/null 2>&1
  s[bighash]+="$(timed "$sealfs" mkfs --store "$work/bigstore" --force "$bigtree" "$work/bigimage") "
  s[fsvbig]+="$(timed fsverity digest "$tree/big.bin") "
done
# openssl: 1000s of bytes per second for 8192-byte blocks, one core.
ossl_kbs=$(openssl speed -evp sha256 -bytes 8192 -seconds 3 2>/dev/null |
  awk '/^sha256/ { v = $NF } END { sub(/k$/, "", v); print v }')
ossl_mibs=$(awk -v k="$ossl_kbs" 'BEGIN { printf "%.0f", k * 1000 / 1048576 }')
rm -rf "$bigtree" "$work/bigstore" "$work/bigimage"

m() { echo "${s[$1]}" | median; }
first=$(m first); rebuild=$(m rebuild); squash=$(m squashfs); fsv=$(m fsverity)
bighash=$(m bighash); fsvbig=$(m fsvbig)
rate() { awk -v mb="$1" -v t="$2" 'BEGIN { printf "%.0f MiB/s", mb / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
big_rate=$(awk -v mb="$BIG_MIB" -v t="$bighash" 'BEGIN { printf "%.0f", mb / t }')

echo
echo "| step ($files files, $mib MiB, $(nproc) CPUs, median of $REPS) | seconds | throughput | ratio |"
echo "|---|---:|---:|---|"
echo "| sealfs mkfs, empty store | $first | $(rate "$mib" "$first") | 1.00x (baseline) |"
echo "| sealfs mkfs, populated store | $rebuild | $(rate "$mib" "$rebuild") | $(ratio "$rebuild" "$first") of first build |"
echo "| mksquashfs -noI -noD -noF -noX | $squash | $(rate "$mib" "$squash") | $(ratio "$squash" "$first") of first build |"
echo "| fsverity digest (all files, 1 process) | $fsv | $(rate "$mib" "$fsv") | $(ratio "$fsv" "$first") of first build |"
echo "| sealfs mkfs hashing the ${BIG_MIB} MiB file (1 core) | $bighash | ${big_rate} MiB/s | $(ratio "$big_rate" "$ossl_mibs") of openssl |"
echo "| fsverity digest of the ${BIG_MIB} MiB file | $fsvbig | $(rate "$BIG_MIB" "$fsvbig") | |"
echo "| openssl speed -evp sha256 -bytes 8192 (1 core) | | ${ossl_mibs} MiB/s | 1.00x |"
