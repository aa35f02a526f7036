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
# needs Debian's archive). Everything fetched lands on a fresh ext4 on a
# loop device (see loop_ext4_mount in bench-lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-/var/tmp/sealfs-bench}
REPS=${REPS:-5}
ROOTFS=${ROOTFS:-$BENCH_DIR/rootfs}
sealfs=$PWD/${BUILD_DIR:-build}/tools/sealfs
bench=bench-remote
. scripts/bench-lib.sh
[ -x "$sealfs" ] || bash scripts/install.sh >/dev/null
bench_need nginx curl debootstrap

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
  loop_ext4_remove "$fs_image" "$runs"
}
trap cleanup EXIT
cleanup  # leftovers of an interrupted run
loop_ext4_mount "$fs_image" "$runs" $((2 * 1024 * (REPS + 1)))
bench_rootfs "$ROOTFS"
bench_image "$ROOTFS" "$src" "$image"
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

warm_source() { (cd "$src" && cat $(cat "$work/objects.txt") >/dev/null); }

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
