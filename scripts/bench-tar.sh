#!/usr/bin/env bash
# Tar import benchmark: `sealfs mkfs --from-tar - < layer.tar.zst` against
# unpacking the same layer with GNU tar and running `sealfs mkfs` on the
# tree, each into a fresh store, in the same run. Prints wall and CPU
# seconds (median of REPS, order alternating, writeback settled before each)
# and the ratio, and checks both give one identity.
#
#   BENCH_DIR=/var/tmp/sealfs-bench-tar REPS=3 FILES=20000 BIG_FILES=11 \
#     BIG_MIB=24 scripts/bench-tar.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-/var/tmp/sealfs-bench-tar}
REPS=${REPS:-3}
FILES=${FILES:-20000}
BIG_FILES=${BIG_FILES:-11}
BIG_MIB=${BIG_MIB:-24}
sealfs=$PWD/${BUILD_DIR:-build}/tools/sealfs
bench=bench-tar
. scripts/bench-lib.sh
[ -x "$sealfs" ] || { echo "bench-tar: build sealfs first ($sealfs)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench-tar: run as root (tar --same-owner)" >&2; exit 2; }

tree=$BENCH_DIR/tree
layer=$BENCH_DIR/layer.tar.zst
work=$BENCH_DIR/work
mkdir -p "$BENCH_DIR"

if [ ! -f "$layer" ]; then
  echo "bench-tar: generating $FILES files + $BIG_FILES x $BIG_MIB MiB" >&2
  # Generated aside and renamed, so a half-made tree is never used.
  rm -rf "$tree" "$tree.tmp.$$"
  python3 scripts/gen-corpus.py "$tree.tmp.$$" --files "$FILES" --big-mib 0
  mkdir -p "$tree.tmp.$$/opt/big"
  for i in $(seq 1 "$BIG_FILES"); do
    head -c "$((BIG_MIB << 20))" /dev/urandom > "$tree.tmp.$$/opt/big/blob$i.bin"
  done
  mv -T "$tree.tmp.$$" "$tree"
  tar --format=pax --xattrs --xattrs-include='*' -C "$tree" -c . |
    zstd -q -T0 -3 > "$layer.tmp"
  mv "$layer.tmp" "$layer"
fi

import_cmd="'$sealfs' mkfs --store '$work/store-a' --from-tar - '$work/a.img' < '$layer'"
untar_cmd="mkdir '$work/tree' && zstd -dc '$layer' | tar --xattrs --xattrs-include='*' --same-owner -xpf - -C '$work/tree'"
mkfs_cmd="'$sealfs' mkfs --store '$work/store-b' '$work/tree' '$work/b.img'"
run_import() {
  quiet
  r=$(timed "$import_cmd"); add import.wall "${r% *}"; add import.cpu "${r#* }"
}
run_untar_mkfs() {
  quiet
  r=$(timed "$untar_cmd"); add untar.wall "${r% *}"; add untar.cpu "${r#* }"
  r=$(timed "$mkfs_cmd"); add mkfs.wall "${r% *}"; add mkfs.cpu "${r#* }"
}
for rep in $(seq 1 "$REPS"); do
  rm -rf "$work"; mkdir -p "$work"
  # Alternate which goes first, so neither always runs on a warmer cache.
  if ((rep % 2)); then run_import; run_untar_mkfs; else run_untar_mkfs; run_import; fi
  a=$("$sealfs" inspect "$work/a.img" 2>/dev/null | awk '/identity/ { print $2; exit }' || true)
  b=$("$sealfs" inspect "$work/b.img" 2>/dev/null | awk '/identity/ { print $2; exit }' || true)
  if [ -z "$a" ] || [ "$a" != "$b" ]; then
    echo "bench-tar: identities differ: $a vs $b" >&2; exit 1
  fi
done

iw=$(m import.wall); ic=$(m import.cpu)
uw=$(m untar.wall); uc=$(m untar.cpu); mw=$(m mkfs.wall); mc=$(m mkfs.cpu)
tw=$(awk -v a="$uw" -v b="$mw" 'BEGIN { printf "%.3f", a + b }')
tc=$(awk -v a="$uc" -v b="$mc" 'BEGIN { printf "%.3f", a + b }')
lmib=$(du -m "$layer" | cut -f1)
tmib=$(du -sm "$work/tree" | cut -f1)
echo
echo "layer: $lmib MiB zstd, $tmib MiB unpacked, $(nproc) CPUs, median of $REPS, fresh stores"
echo
echo "| method | wall s | CPU s |"
echo "|---|---:|---:|"
echo "| \`sealfs mkfs --from-tar - < layer.tar.zst\` | $iw | $ic |"
echo "| \`zstd -dc | tar -x\` | $uw | $uc |"
echo "| \`sealfs mkfs TREE\` | $mw | $mc |"
echo "| tar -x + mkfs | $tw | $tc |"
echo
awk -v a="$iw" -v b="$tw" 'BEGIN { printf "from-tar / (tar -x + mkfs), wall: %.2f\n", a / b }'
