#!/usr/bin/env bash
# docker:// mounts through `sealfs serve` (issue 20), in one run, each row
# beside its peer:
#   - `sealfs mount docker://...` until a first stat returns: through the
#     service, beside a standalone mount of the same reference, and beside
#     a mount of the same image as a local file through the service;
#   - `sealfs serve --replace` until the new service listens, with one
#     docker:// session and the registry stopped, beside the same with one
#     session of the local image (a take-over that waited on the network
#     would show here as the registry's connect time-out, or fail).
# The image: a generated tree (FILES files, default 2000) in a fresh store,
# pushed to Debian's docker-registry on loopback. Prints a Markdown table
# of medians (min-max) and ratios. Needs root (or a user with fusermount3).
#
#   REPS=10 FILES=2000 scripts/bench-serve-registry.sh
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-10}
FILES=${FILES:-2000}
sealfs=$PWD/${BUILD_DIR:-build}/tools/sealfs
bench=bench-serve-registry
. scripts/bench-lib.sh
bench_need docker-registry curl

work=$(mktemp -d /tmp/sealfs-bench-serve-registry.XXXXXX)
mnt=$work/mnt
mkdir -p "$mnt"
export SEALFS_SERVE_SOCKET=$work/serve.sock
reg_pid=
serve_pid=
cleanup() {
  mountpoint -q "$mnt" && { fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"; }
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  [ -f "$work/keeper.pid" ] && kill -9 "$(cat "$work/keeper.pid")" 2>/dev/null
  [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

python3 - "$work/src" "$FILES" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
r = random.Random(20)
for i in range(n):
    d = os.path.join(root, "d%02d" % (i % 50))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d" % i), "wb") as f:
        f.write(r.randbytes(r.choice([200, 3000, 20000, 150000])))
PY
"$sealfs" keygen "$work/key" >/dev/null
"$sealfs" mkfs --store "$work/store" --key "$work/key" "$work/src" "$work/image" >/dev/null

registry_config "$work"
registry_start "$work"
ref=docker://127.0.0.1:$reg_port/bench/app:v1
"$sealfs" push --store "$work/store" --to "$ref" --tls-verify=false "$work/image" >/dev/null

start_serve() {  # start_serve [--replace]: until it listens
  local log=$work/serve.$RANDOM.log
  "$sealfs" serve --socket "$SEALFS_SERVE_SOCKET" "$@" >"$log" 2>&1 &
  serve_pid=$!
  until grep -q 'listening on' "$log" 2>/dev/null; do sleep 0.005; done
}
lazy="pubkey=$work/key.pub,tls_verify=false,prefetch=none"
# mount_stat NAME IMAGE OPTS: one sample of mount + first stat, then unmount.
mount_stat() {
  rm -rf "$work/lazy"
  local t0
  t0=$(now)
  "$sealfs" mount -o "$3" "$2" "$mnt"
  stat "$mnt/d00" >/dev/null
  add "$1" "$(since "$t0")"
  fusermount3 -u "$mnt"
}
# replace_with NAME IMAGE OPTS: one sample of --replace with one session
# of IMAGE, the registry stopped.
replace_with() {
  "$sealfs" mount -o "$3" "$2" "$mnt"
  stat "$mnt/d00" >/dev/null
  kill "$reg_pid"; wait "$reg_pid" 2>/dev/null || true
  local old=$serve_pid t0
  t0=$(now)
  start_serve --replace
  add "$1" "$(since "$t0")"
  wait "$old" 2>/dev/null || true
  stat "$mnt/d00" >/dev/null  # served by the new one
  fusermount3 -u "$mnt"
  registry_start "$work"
}

start_serve
for rep in $(seq "$REPS"); do
  echo "$bench: round $rep of $REPS" >&2
  mount_stat docker "$ref" "store=$work/lazy,$lazy"
  mount_stat standalone "$ref" "store=$work/lazy,$lazy,standalone"
  mount_stat local "$work/image" "store=$work/store,pubkey=$work/key.pub"
  replace_with replace_docker "$ref" "store=$work/lazy,$lazy"
  replace_with replace_local "$work/image" "store=$work/store,pubkey=$work/key.pub"
done

echo "| $FILES files, $REPS rounds, load $(cut -d' ' -f1-3 /proc/loadavg) | median s | min-max s |"
echo "|---|---|---|"
row docker "mount docker:// through the service, to first stat"
row standalone "mount docker:// standalone"
row local "mount the local image through the service"
row replace_docker "--replace with a docker:// session, registry stopped"
row replace_local "--replace with a local session"
echo
echo "docker:// through the service / standalone: $(ratio docker standalone); / local image: $(ratio docker local)"
echo "--replace, docker:// session with the registry down / local session: $(ratio replace_docker replace_local)"
