#!/usr/bin/env bash
# pull benchmark: `sealfs pull` of a ~20,000-file rootfs-like image into an
# empty store over loopback HTTP (nginx if installed, and python3's threading
# http.server) and from a store directory, beside `rsync -a` of the same
# objects/ directory. Prints a Markdown table of medians. sealfs verifies
# every object and syncs each batch before linking it; rsync does neither.
#
#   BENCH_DIR=/var/tmp/sealfs-bench REPS=3 FILES=20000 scripts/bench-pull.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-/var/tmp/sealfs-bench}
REPS=${REPS:-3}
FILES=${FILES:-20000}
JOBS=${JOBS:-8}
sealfs=$PWD/${BUILD_DIR:-build}/tools/sealfs
[ -x "$sealfs" ] || { echo "bench-pull: build sealfs first ($sealfs)" >&2; exit 2; }

work=$BENCH_DIR/pull-work
tree=$work/tree
src=$work/source-store
image=$work/image
mkdir -p "$work"
if [ ! -f "$tree/.complete" ]; then
  echo "bench-pull: generating corpus ($FILES files) in $tree" >&2
  rm -rf "$tree"
  python3 scripts/gen-corpus.py "$tree" --files "$FILES" --big-mib 0
  touch "$tree/.complete"
fi
if [ ! -f "$image" ]; then
  rm -rf "$src"
  "$sealfs" mkfs --store "$src" "$tree" "$image" >/dev/null 2>&1
fi
objects=$(find "$src/objects" -type f | wc -l)
bytes=$(du -sb "$src/objects" | cut -f1)

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; return 1; }

declare -A urls
py_port=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$src" "$py_port" >/dev/null 2>&1 &
pids+=($!)
wait_port "$py_port"
urls[python3-http.server]=http://127.0.0.1:$py_port

if command -v nginx >/dev/null; then
  ng_port=$(free_port)
  mkdir -p "$work/nginx/logs"
  cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 100000;
  server { listen 127.0.0.1:$ng_port; root $src; }
}
CONF
  nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -g 'daemon off;' &
  pids+=($!)
  wait_port "$ng_port"
  urls[nginx]=http://127.0.0.1:$ng_port
fi

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# Runs "$@" REPS times into a fresh $work/dst, prints the median seconds.
timed() {
  local times=()
  for _ in $(seq "$REPS"); do
    rm -rf "$work/dst"; sync
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    times+=("$(echo "$t1 - $t0" | bc)")
  done
  printf '%s\n' "${times[@]}" | median
}
row() {  # name seconds
  printf '| %s | %.2f | %.0f | %.1f |\n' "$1" "$2" "$(echo "$objects / $2" | bc -l)" \
    "$(echo "$bytes / 1048576 / $2" | bc -l)"
}

echo "Image: $objects objects, $((bytes / 1048576)) MiB; $(nproc) CPUs; median of $REPS; dst store empty each run"
echo
echo "| method | seconds | objects/s | MiB/s |"
echo "|---|---|---|---|"
for name in "${!urls[@]}"; do
  for j in 4 "$JOBS"; do
    row "sealfs pull --jobs $j over $name" \
      "$(timed "$sealfs" pull --from "${urls[$name]}" --store "$work/dst" --jobs "$j" "$image")"
  done
done
row "sealfs pull --jobs 4 from a store directory" \
  "$(timed "$sealfs" pull --from "$src" --store "$work/dst" --jobs 4 "$image")"
rsync_into_dst() { mkdir -p "$work/dst" && rsync -a "$src/objects/" "$work/dst/objects/"; }
rsync_and_sync() { rsync_into_dst && sync; }
row "rsync -a objects/ (local, no verify, no fsync)" "$(timed rsync_into_dst)"
row "rsync -a objects/ + sync" "$(timed rsync_and_sync)"
# Nothing to do: every object present.
"$sealfs" pull --from "$src" --store "$work/dst" "$image" >/dev/null 2>&1
t0=$(date +%s.%N)
"$sealfs" pull --from "${urls[python3-http.server]}" --store "$work/dst" "$image" >/dev/null 2>&1
t1=$(date +%s.%N)
printf '| second pull (all present, 0 fetched) | %.2f | | |\n' "$(echo "$t1 - $t0" | bc)"
