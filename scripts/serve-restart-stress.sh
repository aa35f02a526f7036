#!/usr/bin/env bash
# The long version of ServeTest.ReadersSurviveReplaceAndKill9: READERS
# readers (default 16) verify every byte of files under a mount served by
# `sealfs serve` in a loop, while the service is replaced REPLACES times
# (default 10) and killed with -9 KILLS times (default 10). Prints the
# reads, wrong bytes and errors (ENOTCONN among them); exit 0 only for
# 0 wrong bytes, 0 errors and every reader finished. Needs root (mounts,
# page cache drops) and build/tools/sealfs.
#
#   scripts/serve-restart-stress.sh [READERS] [REPLACES] [KILLS]
set -euo pipefail
cd "$(dirname "$0")/.."
readers=${1:-16} replaces=${2:-10} kills=${3:-10}
bin=$PWD/build/tools/sealfs
[ -x "$bin" ] || { echo "build/tools/sealfs missing (bash scripts/install.sh)" >&2; exit 2; }

work=$(mktemp -d /tmp/sealfs-serve-stress.XXXXXX)
export SEALFS_SERVE_SOCKET=$work/run/serve.sock
serve_pid=
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  [ -f "$work/run/keeper.pid" ] && kill -9 "$(cat "$work/run/keeper.pid")" 2>/dev/null
  fusermount3 -u -z "$work/mnt" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/src/d" "$work/mnt"
for i in $(seq 0 15); do
  head -c $((i * 97531 + 4095)) /dev/urandom >"$work/src/d/f$i"
done
openssl genpkey -algorithm ed25519 -out "$work/key" 2>/dev/null
openssl pkey -in "$work/key" -pubout -out "$work/key.pub"
"$bin" mkfs --store "$work/store" --key "$work/key" "$work/src" "$work/image" >/dev/null

start_serve() {  # extra args
  "$bin" serve "$@" >>"$work/serve.log" 2>&1 &
  serve_pid=$!
  for _ in $(seq 500); do
    [ "$(grep -c 'listening on' "$work/serve.log" || true)" -ge "$started" ] && return 0
    sleep 0.01
  done
  echo "serve did not start" >&2; cat "$work/serve.log" >&2; exit 1
}
started=1
start_serve
"$bin" mount -o "store=$work/store,pubkey=$work/key.pub" "$work/image" "$work/mnt"

# Each reader: open a random file, drop its cached pages (so reads reach
# the service), read it whole, compare; count reads, wrong bytes, errors.
cat >"$work/reader.py" <<'PY'
import hashlib, os, random, sys, time
src, mnt, out, stop = sys.argv[1:5]
names = sorted(os.listdir(src))
want = {n: open(os.path.join(src, n), "rb").read() for n in names}
reads = wrong = errors = 0
errs = {}
while not os.path.exists(stop):
    n = random.choice(names)
    try:
        fd = os.open(os.path.join(mnt, n), os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            data = b""
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(fd)
        reads += 1
        if data != want[n]:
            wrong += 1
    except OSError as e:
        errors += 1
        errs[e.errno] = errs.get(e.errno, 0) + 1
open(out, "w").write(f"{reads} {wrong} {errors} {errs}\n")
PY
pids=()
for r in $(seq "$readers"); do
  python3 "$work/reader.py" "$work/src/d" "$work/mnt/d" "$work/reader-$r" "$work/stop" &
  pids+=($!)
done

for i in $(seq "$((replaces > kills ? replaces : kills))"); do
  if [ "$i" -le "$replaces" ]; then
    sleep 0.3
    old=$serve_pid
    started=$((started + 1))
    start_serve --replace
    wait "$old" 2>/dev/null || true
  fi
  if [ "$i" -le "$kills" ]; then
    sleep 0.3
    kill -9 "$serve_pid"
    wait "$serve_pid" 2>/dev/null || true
    started=$((started + 1))
    start_serve
  fi
done
sleep 1
touch "$work/stop"
finished=0
for p in "${pids[@]}"; do
  if timeout 60 tail --pid="$p" -f /dev/null; then finished=$((finished + 1)); fi
done
reads=0 wrong=0 errors=0
for r in $(seq "$readers"); do
  read -r a b c _ <"$work/reader-$r" || continue
  reads=$((reads + a)) wrong=$((wrong + b)) errors=$((errors + c))
  [ "$c" = 0 ] || cat "$work/reader-$r"
done
echo "readers $readers finished $finished, replaces $replaces, kill -9 $kills:" \
  "reads $reads, wrong $wrong, errors $errors"
[ "$finished" = "$readers" ] && [ "$wrong" = 0 ] && [ "$errors" = 0 ] && [ "$reads" -gt 0 ]
