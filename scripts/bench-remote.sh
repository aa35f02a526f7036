#!/usr/bin/env bash
# Remote benchmark (issue 17): a debootstrap rootfs image served by nginx on
# loopback (or from a store directory), fetched by sealfs and by its peers in
# one run:
#   - pull over HTTP beside `xargs -P4 -n200 curl -s -O` of the same objects
#     (as the issue states it: -O names only the first URL of each curl, the
#     other 199 go to stdout, here /dev/null) and beside the same with
#     --remote-name-all + sync, which writes every object to a file;
#   - pull from a store directory beside `cp -a` of its objects + sync;
#   - a chroot workload (apt-get --version, dpkg -l, ls /usr/bin) on a lazy
#     mount whose store starts empty, beside the same on a full local store
#     with dropped caches;
#   - mount until every object is local (background fetch), beside a pull.
# Prints a Markdown table of medians (min-max) and the ratios the issue
# targets. Needs root (chroot, drop_caches, mounts) and nginx.
#
#   BENCH_DIR=/var/tmp/sealfs-bench REPS=5 scripts/bench-remote.sh
#
# ROOTFS=DIR uses an existing tree instead of debootstrapping one (which
# needs Debian's archive). Everything fetched lands on a new ext4 filesystem
# with a journal (Debian's mkfs.ext4 defaults), on a loop device with direct
# I/O, made for the run and removed after it: each run starts from the same
# state, whatever ran before. (On this machine's root filesystem, ext4
# without a journal, allocating inodes within minutes of deleting thousands
# costs seconds in recently_deleted(), which would measure the last run's
# rm -rf rather than the fetch.)
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-/var/tmp/sealfs-bench}
REPS=${REPS:-5}
ROOTFS=${ROOTFS:-$BENCH_DIR/rootfs}
sealfs=$PWD/${BUILD_DIR:-build}/tools/sealfs
[ -x "$sealfs" ] || bash scripts/install.sh >/dev/null
for tool in nginx curl debootstrap; do
  command -v "$tool" >/dev/null || command -v "/usr/sbin/$tool" >/dev/null || {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      nginx curl debootstrap >/dev/null
    break
  }
done

work=$BENCH_DIR/remote
src=$work/source-store
image=$work/rootfs.sealfs
runs=$work/runs
mnt=$work/mnt
fs_image=$work/dest.ext4
mkdir -p "$work" "$mnt" "$runs"

ng_pid=
cleanup() {
  mountpoint -q "$mnt" && { fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"; }
  [ -n "$ng_pid" ] && kill "$ng_pid" 2>/dev/null
  mountpoint -q "$runs" && umount "$runs"
  [ -f "$fs_image" ] && for l in $(losetup -j "$fs_image" | cut -d: -f1); do
    losetup -d "$l"
  done
  rm -f "$fs_image"
}
trap cleanup EXIT
cleanup  # leftovers of an interrupted run
truncate -s $((2 * 1024 * (REPS + 1)))M "$fs_image"
mkfs.ext4 -q -F "$fs_image"
mount "$(losetup --direct-io=on -f --show "$fs_image")" "$runs"

if [ ! -f "$ROOTFS/.complete" ] && [ ! -x "$ROOTFS/usr/bin/apt-get" ]; then
  echo "bench-remote: debootstrap --variant=minbase bookworm into $ROOTFS" >&2
  rm -rf "$ROOTFS"
  debootstrap --variant=minbase bookworm "$ROOTFS" http://deb.debian.org/debian >/dev/null
  touch "$ROOTFS/.complete"
fi
if [ ! -f "$image" ] || [ "$ROOTFS" -nt "$image" ]; then
  rm -rf "$src"
  "$sealfs" mkfs --store "$src" "$ROOTFS" "$image" >/dev/null 2>&1
fi
identity=$("$sealfs" inspect --json "$image" | python3 -c 'import json,sys; print(json.load(sys.stdin)["identity"])')
(cd "$src" && find objects -type f) >"$work/objects.txt"
objects=$(wc -l <"$work/objects.txt")
bytes=$(cd "$src" && du -sb objects | cut -f1)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<CONF
user root;
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 100000;
  server { listen 127.0.0.1:$port; root $src; }
}
CONF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -g 'daemon off;' &
ng_pid=$!
url=http://127.0.0.1:$port
for _ in $(seq 100); do curl -s -o /dev/null "$url/" && break; sleep 0.1; done
sed "s|^|$url/|" "$work/objects.txt" >"$work/urls.txt"

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
warm_source() { (cd "$src" && cat $(cat "$work/objects.txt") >/dev/null); }
now() { echo "$EPOCHREALTIME"; }
since() { echo "$(now) - $1" | bc; }
workload() {
  chroot "$1" /bin/sh -c 'apt-get --version | md5sum; dpkg -l | md5sum; ls /usr/bin | md5sum' >/dev/null
}
# Until the mount at $1 says its background fetch is done (one process
# that asks the daemon every 10 ms; a process per look took CPU from the
# fetch being measured).
wait_local() { timeout 120 "$sealfs" stats --wait-prefetch "$1" >/dev/null; }

declare -A t
add() { t[$1]="${t[$1]:-} $2"; }
for rep in $(seq "$REPS"); do
  r=$runs/$rep
  mkdir -p "$r/curl-o" "$r/curl-all"
  echo "bench-remote: round $rep of $REPS" >&2
  # Every timed fetch starts in the same state: caches dropped (the
  # programs and libraries cold too), the source warm as a remote cache
  # would be.
  drop_caches; warm_source
  s=$(now); (cd "$r/curl-o" && xargs -P4 -n200 curl -s -O <"$work/urls.txt" >/dev/null); add curl_o "$(since "$s")"
  s=$(now); (cd "$r/curl-all" && xargs -P4 -n200 curl -s --remote-name-all <"$work/urls.txt" >/dev/null; sync); add curl_all "$(since "$s")"
  drop_caches; warm_source
  s=$(now); "$sealfs" pull --from "$url" --store "$r/pull-http" "$image" 2>/dev/null; add pull_http "$(since "$s")"

  s=$(now); mkdir -p "$r/cp" && cp -a "$src/objects" "$r/cp/" && sync; add cp "$(since "$s")"
  s=$(now); "$sealfs" pull --from "$src" --store "$r/pull-dir" "$image" 2>/dev/null; add pull_dir "$(since "$s")"

  # The workload on a full local store, caches dropped.
  "$sealfs" mount -o "store=$src,digest=$identity" "$image" "$mnt"
  drop_caches
  s=$(now); workload "$mnt"; add local_cold "$(since "$s")"
  fusermount3 -u "$mnt"

  # The same on a lazy mount whose store starts empty (source warm, as a
  # remote cache would be), then until every object is local.
  drop_caches; warm_source
  s=$(now)
  "$sealfs" mount -o "store=$r/lazy,digest=$identity,remote=$url,record=$r/access.list" "$image" "$mnt"
  w=$(now); workload "$mnt"; add lazy "$(since "$w")"
  wait_local "$mnt"; add lazy_whole "$(since "$s")"
  fusermount3 -u "$mnt"

  # Mount until every object is local, nobody reading.
  drop_caches; warm_source
  s=$(now)
  "$sealfs" mount -o "store=$r/lazy-idle,digest=$identity,remote=$url" "$image" "$mnt"
  wait_local "$mnt"; add lazy_idle "$(since "$s")"
  fusermount3 -u "$mnt"

  # Only what the workload reads (no background fetch).
  drop_caches; warm_source
  "$sealfs" mount -o "store=$r/lazy-none,digest=$identity,remote=$url,prefetch=none" "$image" "$mnt"
  w=$(now); workload "$mnt"; add lazy_none "$(since "$w")"
  fusermount3 -u "$mnt"

  # With the access list the first lazy mount recorded.
  drop_caches; warm_source
  "$sealfs" mount -o "store=$r/lazy-list,digest=$identity,remote=$url,prefetch=$r/access.list" "$image" "$mnt"
  w=$(now); workload "$mnt"; add lazy_list "$(since "$w")"
  fusermount3 -u "$mnt"
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
range() { tr ' ' '\n' | grep . | sort -n | awk 'NR==1{lo=$1} {hi=$1} END {printf "%.3f-%.3f", lo, hi}'; }
m() { echo "${t[$1]}" | median; }
row() { printf '| %s | %.3f | %s |\n' "$2" "$(m "$1")" "$(echo "${t[$1]}" | range)"; }
ratio() { echo "$(m "$1") / $(m "$2")" | bc -l | xargs printf '%.2fx'; }

echo "Image: $objects objects, $((bytes / 1048576)) MiB; $(nproc) CPUs; $REPS rounds; nginx on loopback"
echo
echo "| what | seconds (median) | min-max |"
echo "|---|---|---|"
row curl_o "xargs -P4 -n200 curl -s -O (199 of 200 to /dev/null)"
row curl_all "xargs -P4 -n200 curl -s --remote-name-all, + sync"
row pull_http "sealfs pull over HTTP (verified, durable)"
row cp "cp -a objects/ + sync"
row pull_dir "sealfs pull from a store directory"
row local_cold "workload, full local store, caches dropped"
row lazy "workload, lazy mount, empty store (prefetch=all)"
row lazy_none "workload, lazy mount, empty store, prefetch=none"
row lazy_list "workload, lazy mount, empty store, prefetch=recorded list"
row lazy_whole "lazy mount until every object is local (workload running)"
row lazy_idle "lazy mount until every object is local (nobody reading)"
echo
echo "| target | ratio | goal |"
echo "|---|---|---|"
echo "| pull over HTTP / curl -O | $(ratio pull_http curl_o) | <= 1.25x |"
echo "| pull over HTTP / curl --remote-name-all + sync | $(ratio pull_http curl_all) | - |"
echo "| pull from a directory / cp -a + sync | $(ratio pull_dir cp) | <= 1.25x |"
echo "| lazy workload / local cold | $(ratio lazy local_cold) | <= 3x |"
echo "| lazy workload (list) / local cold | $(ratio lazy_list local_cold) | - |"
echo "| mount until local (workload running) / pull over HTTP | $(ratio lazy_whole pull_http) | <= 1.2x |"
echo "| mount until local (nobody reading) / pull over HTTP | $(ratio lazy_idle pull_http) | - |"
