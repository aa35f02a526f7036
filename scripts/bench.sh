#!/usr/bin/env bash
# Mount benchmark (issue #3): the same rootfs-like corpus served three ways in
# one run: the plain directory on the host filesystem, squashfuse_ll over an
# uncompressed squashfs (which verifies nothing), and sealfs with per-block
# verification. Prints a Markdown table of medians, min-max and ratios to
# squashfuse_ll. Needs root (drop_caches, mounts).
#
# Beside them (issue #22), what the kernel pays for the same bytes without
# verifying them ("direct"): a cold tar of the store objects of the image's
# small files and a cold dd of the big file's object, read straight from the
# host filesystem (kernel composefs comes within a few percent of that); and
# the hash-bound case: the big object already cached, a fresh mount (every
# block verified again), against `openssl speed -multi 2 -evp sha256 -bytes
# 16384` run in the same repetition. The last column divides sealfs by the
# row's reference: the source tree for tar_cold_s, the object for
# big_cold_MBps, openssl for big_hashbound_MBps.
#
#   BENCH_DIR=/var/tmp/sealfs-bench REPS=5 FILES=20000 BIG_MIB=1024 \
#     LARGE_FILES=250000 scripts/bench.sh
#
# big_capped_MBps is big_cold_MBps on a disk slower than two cores hash:
# the readers (dd, or the sealfs daemon) run in a blkio cgroup that caps
# reads from the store's disk at CAP_MBPS (default 1000) MB/s, so the row
# shows what verification costs when the disk is the limit, whatever this
# host's disk does (a VM's may serve from the host's cache faster than
# SHA-256 runs). CAP_MBPS=0 leaves the row out.
#
# FAULT_IN=0 reads the hash-bound file without writing memory first (see
# hashbound_mbps).
#
# LARGE_FILES (0: none) makes a second corpus of that many small files, for
# one more row: mount time with a large manifest. ROWS=mount measures only
# the mount rows (minutes instead of most of an hour); SEALFS=PATH takes
# another sealfs binary (to compare two builds on the same images).
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-/var/tmp/sealfs-bench}
REPS=${REPS:-5}
FILES=${FILES:-20000}
BIG_MIB=${BIG_MIB:-1024}
LARGE_FILES=${LARGE_FILES:-250000}
ROWS=${ROWS:-all}
CAP_MBPS=${CAP_MBPS:-1000}
FAULT_IN=${FAULT_IN:-1}
case $ROWS in all | mount) ;; *) echo "bench: ROWS is all or mount" >&2; exit 2 ;; esac
sealfs=${SEALFS:-$PWD/${BUILD_DIR:-build}/tools/sealfs}
[ -x "$sealfs" ] || bash scripts/install.sh >/dev/null

tree=$BENCH_DIR/tree
sq_img=$BENCH_DIR/tree.sqfs
store=$BENCH_DIR/store
image=$BENCH_DIR/tree.sealfs
large_tree=$BENCH_DIR/large-tree
large_sq=$BENCH_DIR/large.sqfs
large_image=$BENCH_DIR/large.sealfs
mnt_sq=$BENCH_DIR/mnt-squashfuse
mnt_se=$BENCH_DIR/mnt-sealfs
mkdir -p "$BENCH_DIR" "$mnt_sq" "$mnt_se"

unmount_all() {
  for m in "$mnt_sq" "$mnt_se"; do
    if mountpoint -q "$m"; then fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; fi
  done
}
# The capped disk: a cgroup (v1 blkio, or v2 io) whose reads from the
# store's disk are throttled. Empty when the kernel offers neither.
cap_cgroup=
make_cap_cgroup() {
  local dev
  dev=$(stat -c '%Hd:%Ld' "$store/objects")
  # Throttling applies to whole disks: a partition's is its parent's.
  if [ -e "/sys/dev/block/$dev/partition" ]; then dev=$(cat "/sys/dev/block/$dev/../dev"); fi
  local limit=$((CAP_MBPS * 1000000))
  if [ -w /sys/fs/cgroup/blkio ]; then
    cap_cgroup=/sys/fs/cgroup/blkio/sealfs-bench-$$
    mkdir "$cap_cgroup" && echo "$dev $limit" >"$cap_cgroup/blkio.throttle.read_bps_device"
  elif grep -qw io /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    cap_cgroup=/sys/fs/cgroup/sealfs-bench-$$
    mkdir "$cap_cgroup" && echo "$dev rbps=$limit" >"$cap_cgroup/io.max"
  fi
}
capped() {  # COMMAND...: run in the capped cgroup, and so its children
  (echo "$BASHPID" >"$cap_cgroup/cgroup.procs" && "$@")
}
cleanup() {
  unmount_all
  if [ -n "$cap_cgroup" ]; then rmdir "$cap_cgroup" 2>/dev/null || true; fi
}
trap cleanup EXIT
unmount_all  # leftovers of an interrupted run would be stacked under ours

if [ ! -f "$tree/.complete" ]; then
  echo "bench: generating corpus ($FILES files + ${BIG_MIB} MiB) in $tree" >&2
  rm -rf "$tree"
  python3 scripts/gen-corpus.py "$tree" --files "$FILES" --big-mib "$BIG_MIB"
  touch "$tree/.complete"
fi
if ((LARGE_FILES > 0)) && [ ! -f "$large_tree/.complete" ]; then
  echo "bench: generating a second corpus ($LARGE_FILES files) in $large_tree" >&2
  rm -rf "$large_tree"
  python3 scripts/gen-corpus.py "$large_tree" --files "$LARGE_FILES" --big-mib 0
  touch "$large_tree/.complete"
fi
rm -rf "$store" "$image" "$sq_img" "$large_image" "$large_sq"
mksquashfs "$tree" "$sq_img" -noI -noD -noF -noX -quiet -no-progress >/dev/null
"$sealfs" mkfs --store "$store" --force "$tree" "$image" >/dev/null 2>&1
if ((LARGE_FILES > 0)); then
  mksquashfs "$large_tree" "$large_sq" -noI -noD -noF -noX -quiet -no-progress >/dev/null
  "$sealfs" mkfs --store "$store" --force "$large_tree" "$large_image" >/dev/null 2>&1
fi
# Signed, as images are in use; mount_warm_ms still mounts `insecure` (the
# figure the target was set on), mount_signed_ms checks the signature.
rm -f "$BENCH_DIR/key" "$BENCH_DIR/key.pub"
"$sealfs" keygen "$BENCH_DIR/key" >/dev/null
"$sealfs" sign --key "$BENCH_DIR/key" "$image" >/dev/null

((CAP_MBPS > 0)) && [ "$ROWS" = all ] && make_cap_cgroup

# Microseconds since the epoch, into $now, without a fork: timing with
# `date` in a command substitution put about 8 ms of its own into every
# interval (measured on a 2-CPU VM), as much as the mount being timed.
[ -n "${EPOCHREALTIME:-}" ] || { echo "bench: needs bash 5 (EPOCHREALTIME)" >&2; exit 1; }
stamp() { now=${EPOCHREALTIME//[!0-9]/}; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
mount_sq() { squashfuse_ll "$1" "$mnt_sq"; }  # IMAGE
mount_se() { "$sealfs" mount -o "store=$store,insecure" "$1" "$mnt_se" 2>/dev/null; }  # IMAGE
mount_se_signed() { "$sealfs" mount -o "store=$store,pubkey=$BENCH_DIR/key.pub" "$image" "$mnt_se"; }
umount_one() { fusermount3 -u "$1"; }
daemon_pid() { pgrep -n -f -- "$1" || true; }

# The objects of the image's small files, as paths under $store/objects
# (one per digest; the order of `sealfs dump`, sorted by path, as a walk
# would read them), and the big file's object and tree. tar_cold_s reads
# the small files only, the rootfs-like part of the corpus that its target
# is about: big.bin is read on its own by the big_* rows.
objects_list=$BENCH_DIR/objects.txt
"$sealfs" dump "$image" | awk '$1 != "/big.bin" && $9 ~ /^[0-9a-f][0-9a-f]\/[0-9a-f]+$/ && !seen[$9]++ { print $9 }' >"$objects_list"
big_digest=$("$sealfs" dump "$image" | awk '$1 == "/big.bin" { print $11 }')
[ -n "$big_digest" ] || { echo "bench: no /big.bin in $image" >&2; exit 1; }
big_object=$store/objects/${big_digest:0:2}/${big_digest:2}
big_tree=$store/trees/${big_digest:0:2}/${big_digest:2}

# results[name.system] = space-separated samples
declare -A results
record() { results["$1.$2"]+="$3 "; }

# Seconds a command takes (float).
timed() {
  local t0
  stamp; t0=$now
  "$@" >/dev/null 2>&1
  stamp
  awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.6f", (b - a) / 1e6 }'
}

# The first stat is stat(1) by default. With `builtin` it is the shell's own
# `test -e` (a stat(2) from this process): spawning stat(1) costs 1.5-10 ms on
# a small VM, the same for every filesystem, and hides what the mount costs.
mount_to_stat() {  # system cold|warm [signed|builtin|large]
  local t0 m=$mnt_se sq=$sq_img se=$image
  [ "$1" = squashfuse ] && m=$mnt_sq
  [ "${3:-}" = large ] && { sq=$large_sq; se=$large_image; }
  [ "$2" = cold ] && drop_caches
  stamp; t0=$now
  if [ "$1" = squashfuse ]; then
    mount_sq "$sq"
  elif [ "${3:-}" = signed ]; then
    mount_se_signed
  else
    mount_se "$se"
  fi
  if [ "${3:-}" = builtin ]; then
    [ -e "$m/etc/hostname" ] || { echo "bench: first stat failed on $m" >&2; exit 1; }
  else
    stat "$m/etc/hostname" >/dev/null
  fi
  stamp
  awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.6f", (b - a) / 1e6 }'
}

# In MB/s (10^6 bytes), the unit openssl reports: the hash-bound row is a
# ratio of the two, and MiB/s made it read 4.9% low.
big_read_mbps() {  # file
  local secs
  secs=$(timed dd if="$1" of=/dev/null bs=1M)
  awk -v s="$secs" -v m="$BIG_MIB" 'BEGIN { printf "%.1f", m * 1.048576 / s }'
}

# Two-core SHA-256 over 16 KiB buffers, in MB/s (openssl prints 1000s of
# bytes per second).
openssl_mbps() {
  openssl speed -multi 2 -evp sha256 -bytes 16384 2>/dev/null |
    awk '$1 == "sha256" && $2 ~ /k$/ { sub(/k$/, "", $2); printf "%.1f", $2 / 1000 }'
}

# The big file read through a fresh mount while its object and tree are
# cached: no disk I/O, every block hashed again. The read fills BIG_MIB of
# new FUSE page cache, which a VM that reports free pages to its host makes
# cost a host fault per page in 2 to 3 reads of 10 on one 2-CPU VM (see
# scripts/fault-in-memory.py): that much memory is written first, unless
# FAULT_IN=0.
hashbound_mbps() {
  cat "$big_object" >/dev/null
  [ ! -f "$big_tree" ] || cat "$big_tree" >/dev/null
  [ "$FAULT_IN" = 0 ] || python3 scripts/fault-in-memory.py $((BIG_MIB + 64))
  mount_se "$image"
  big_read_mbps "$mnt_se/big.bin"
  umount_one "$mnt_se"
}

# The big file read cold through a mount whose daemon runs in the capped
# cgroup (run it with `capped`).
capped_sealfs_mbps() {
  mount_se "$image"
  big_read_mbps "$mnt_se/big.bin"
  umount_one "$mnt_se"
}

fio_iops() {  # file
  fio --name=rand --filename="$1" --rw=randread --bs=4k --ioengine=psync \
    --invalidate=1 --runtime=10 --time_based --size="${BIG_MIB}M" \
    --output-format=terse --terse-version=3 2>/dev/null | awk -F';' '{ print $8 }'
}

echo "bench: measuring, $REPS repetitions" >&2
for ((r = 0; r < REPS; r++)); do
  # The two FUSE systems take turns going first: on a VM, order alone moves
  # the figures. A warm read is pure page-cache copying (the daemon sees no
  # request), yet of two files read cold one after the other, then warm in
  # turns, the one read first copied slower: 12.5 against 16 GB/s with
  # sealfs first, 14.6 against 16.3 with squashfuse_ll first.
  order=(ext4 objects squashfuse sealfs)
  ((r % 2)) && order=(ext4 objects sealfs squashfuse)
  [ "$ROWS" = mount ] && order=("${order[@]:2}")
  for sys in "${order[@]}"; do
    if [ "$sys" = objects ]; then
      drop_caches
      record tar_cold_s objects "$(timed sh -c "tar cf - -C '$store/objects' -T '$objects_list' | cat >/dev/null")"
      drop_caches
      record big_cold_MBps objects "$(big_read_mbps "$big_object")"
      if [ -n "$cap_cgroup" ]; then
        drop_caches
        record big_capped_MBps objects "$(capped big_read_mbps "$big_object")"
      fi
      continue
    fi
    case $sys in
      ext4) root=$tree ;;
      squashfuse) root=$mnt_sq ;;
      sealfs) root=$mnt_se ;;
    esac
    if [ "$sys" != ext4 ]; then
      # Cold: binaries, image and store read from disk; warm: as a host
      # that mounts images all day sees it.
      record mount_cold_ms "$sys" "$(mount_to_stat "$sys" cold | awk '{ printf "%.2f", $1 * 1000 }')"
      umount_one "$root"
      if [ "$sys" = sealfs ]; then
        record mount_signed_ms "$sys" "$(mount_to_stat "$sys" warm signed | awk '{ printf "%.2f", $1 * 1000 }')"
        umount_one "$root"
      fi
      record mount_builtin_ms "$sys" "$(mount_to_stat "$sys" warm builtin | awk '{ printf "%.2f", $1 * 1000 }')"
      umount_one "$root"
      if ((LARGE_FILES > 0)); then
        # Warm like mount_warm_ms: a first mount reads what the caches
        # dropped for the cold reads below.
        mount_to_stat "$sys" warm large >/dev/null
        umount_one "$root"
        record mount_large_ms "$sys" "$(mount_to_stat "$sys" warm large | awk '{ printf "%.2f", $1 * 1000 }')"
        umount_one "$root"
      fi
      record mount_warm_ms "$sys" "$(mount_to_stat "$sys" warm | awk '{ printf "%.2f", $1 * 1000 }')"
      if [ "$ROWS" = mount ]; then umount_one "$root"; continue; fi
    fi
    # Cold: everything read for the first time since the caches were dropped.
    drop_caches
    record tar_cold_s "$sys" "$(timed sh -c "tar cf - -C '$root' --exclude=./big.bin . | cat >/dev/null")"
    drop_caches
    record big_cold_MBps "$sys" "$(big_read_mbps "$root/big.bin")"
    record big_warm_MBps "$sys" "$(big_read_mbps "$root/big.bin")"
    find "$root" -printf '%p %s %m\n' >/dev/null
    record find_warm_s "$sys" "$(timed find "$root" -printf '%p %s %m\n')"
    record lsR_warm_s "$sys" "$(timed ls -lR "$root")"
    record rand4k_iops "$sys" "$(fio_iops "$root/big.bin")"
    if ((r == 0)); then
      case $sys in
        squashfuse) pid=$(daemon_pid "squashfuse_ll $sq_img") ;;
        sealfs) pid=$(daemon_pid "$image $mnt_se") ;;
        *) pid= ;;
      esac
      if [ -n "$pid" ]; then
        # The memory a mount keeps once its readers are done: a kernel that
        # opens files without asking sends no release, so sealfs drops an
        # unread handle (and a large file's verified tree) after 2-3 s:
        # wait (10 s at most) until it holds none.
        if [ "$sys" = sealfs ]; then
          for _ in $(seq 100); do
            "$sealfs" stats "$root" | grep -q '"open_objects": *0[,}]' && break
            sleep 0.1
          done
        fi
        record rss_MiB "$sys" "$(awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")"
      fi
    fi
    if [ "$sys" != ext4 ]; then umount_one "$root"; fi
    if [ "$sys" = sealfs ] && [ -n "$cap_cgroup" ]; then
      # The daemon is started inside the cgroup: its reads are capped.
      drop_caches
      record big_capped_MBps sealfs "$(capped capped_sealfs_mbps)"
    fi
    if [ "$sys" = sealfs ]; then
      record big_hashbound_MBps sealfs "$(hashbound_mbps)"
      record big_hashbound_MBps objects "$(openssl_mbps)"
    fi
  done
done

median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
range() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR > 1) printf "%s-%s", lo, hi }'; }

mib() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f", b / 1048576 }'; }
manifest_mib=$(mib "$image")
large_note=
if ((LARGE_FILES > 0)); then
  large_note="mount_large_ms is mount_warm_ms for a second image of $LARGE_FILES small files
(sealfs manifest: $(mib "$large_image") MiB).
"
fi
cap_note="not measured (CAP_MBPS=0, or no blkio or io cgroup)"
[ -n "$cap_cgroup" ] && cap_note="both read cold, the disk capped at $CAP_MBPS MB/s by a cgroup"
fault_note="$((BIG_MIB + 64)) MiB of memory written first (FAULT_IN=0 leaves that out)"
[ "$FAULT_IN" = 0 ] && fault_note="memory not written first (FAULT_IN=0)"
cat <<HDR

Corpus: $FILES small files + ${BIG_MIB} MiB file; $REPS repetitions; medians (min-max).
sealfs manifest: $manifest_mib MiB. Lower is better for times, higher for MB/s and IOPS.
mount_warm_ms mounts sealfs with \`insecure\` (how the target was set); mount_signed_ms
checks its Ed25519 signature (\`pubkey=\`), as a real deployment does. Both take the
first stat with stat(1); mount_builtin_ms (\`insecure\`) takes it with the shell's
\`test -e\`, leaving out the start of stat(1) (1.5 ms on one machine, 6-10 ms on another).
$large_note
The "direct" column reads the image's store objects straight from the host
filesystem (tar of the small files' $(wc -l <"$objects_list") objects; dd of big.bin's object); on
the big_hashbound_MBps row it is \`openssl speed -multi 2 -evp sha256 -bytes 16384\`.
sealfs / direct divides by the tree for tar_cold_s, by the object for
big_cold_MBps and big_capped_MBps and by openssl for big_hashbound_MBps.
tar_cold_s: the $FILES small files; big.bin, which the big_* rows read, left out.
big_capped_MBps: $cap_note.
big_hashbound_MBps: $fault_note.
Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg).

| metric | ext4 dir | direct | squashfuse_ll | sealfs (verified) | sealfs / squashfuse_ll | sealfs / direct | target |
|---|---|---|---|---|---|---|---|
HDR
declare -A targets=(
  [mount_cold_ms]="-" [mount_warm_ms]="<= 15 ms" [mount_signed_ms]="-" [mount_builtin_ms]="<= 15 ms" [mount_large_ms]="<= 15 ms" [find_warm_s]="<= 0.7x" [lsR_warm_s]="<= 0.7x"
  [tar_cold_s]="<= 1.15x ext4" [big_cold_MBps]=">= 0.9x direct" [big_capped_MBps]=">= 0.9x direct" [big_warm_MBps]=">= 0.95x"
  [big_hashbound_MBps]=">= 0.85x openssl"
  [rand4k_iops]=">= 1.2x" [rss_MiB]="< 2 x manifest + 8 MiB"
)
metrics=(mount_cold_ms mount_warm_ms mount_signed_ms mount_builtin_ms mount_large_ms)
[ "$ROWS" = all ] && metrics+=(find_warm_s lsR_warm_s tar_cold_s big_cold_MBps big_capped_MBps big_warm_MBps big_hashbound_MBps rand4k_iops rss_MiB)
for m in "${metrics[@]}"; do
  row="| $m"
  for sys in ext4 objects squashfuse sealfs; do
    s=${results["$m.$sys"]:-}
    if [ -z "$s" ]; then row+=" | -"; continue; fi
    row+=" | $(echo "$s" | median)"
    rg=$(echo "$s" | range)
    [ -n "$rg" ] && row+=" ($rg)"
  done
  sq=$(echo "${results["$m.squashfuse"]:-}" | median)
  se=$(echo "${results["$m.sealfs"]:-}" | median)
  ratio=$(awk -v a="$se" -v b="$sq" 'BEGIN { if (b + 0 > 0 && a != "-") printf "%.2fx", a / b; else print "-" }')
  case $m in
    tar_cold_s) ref=ext4 ;;
    big_cold_MBps | big_capped_MBps | big_hashbound_MBps) ref=objects ;;
    *) ref= ;;
  esac
  direct=-
  if [ -n "$ref" ]; then
    rf=$(echo "${results["$m.$ref"]:-}" | median)
    direct=$(awk -v a="$se" -v b="$rf" 'BEGIN { if (b + 0 > 0 && a != "-") printf "%.2fx", a / b; else print "-" }')
  fi
  row+=" | $ratio | $direct | ${targets[$m]} |"
  echo "$row"
done
