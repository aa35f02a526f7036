#!/usr/bin/env bash
# Benchmark of `sealfs serve` (issue 20) on the rootfs image:
#  1. memory: the summed PSS of every process serving N mounts (default
#     100), each mount stat'ed and one small file read: the service (serve
#     + keeper), squashfuse_ll (one process per mount, uncompressed
#     squashfs of the same tree), and standalone sealfs daemons;
#  2. repeat mount: `sealfs mount` of an image the service holds, until the
#     first stat of the mount root returns (median and min of REPS); the
#     same from inside one process, by the C++ client and by the Python
#     client written from the protocol's specification;
#  3. first mount: the same for an image the service does not hold yet,
#     against a standalone mount.
# Needs root and build/tools/sealfs. Run it on a quiet machine.
#
#   IMAGE=/var/tmp/sealfs-rootfs/image.sealfs \
#   STORE=/var/tmp/sealfs-rootfs/src-store \
#   TREE=/var/tmp/sealfs-rootfs/rootfs N=100 REPS=30 scripts/bench-serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-/var/tmp/sealfs-rootfs/image.sealfs}
STORE=${STORE:-/var/tmp/sealfs-rootfs/src-store}
TREE=${TREE:-/var/tmp/sealfs-rootfs/rootfs}
N=${N:-100}
REPS=${REPS:-30}
SMALL=${SMALL:-etc/os-release}
bin=$PWD/build/tools/sealfs
timer=$PWD/build/tests/bench/serve_mount_timer
[ -x "$bin" ] && [ -x "$timer" ] || { echo "build/tools/sealfs or build/tests/bench/serve_mount_timer missing" >&2; exit 2; }
work=$(mktemp -d /tmp/sealfs-bench-serve.XXXXXX)
export SEALFS_SERVE_SOCKET=$work/run/serve.sock
sq=${SQUASHFS:-$(dirname "$IMAGE")/rootfs-bench.sqfs}
digest=$("$bin" inspect "$IMAGE" | awk '/^identity:/ {print $2}')
opts="store=$STORE,digest=$digest"
serve_pid=

unmount_all() {
  { grep -o " $work/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do
    fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  unmount_all
  # A keeper may have exited by itself: its kill failing must not stop the
  # clean-up (set -e applies to the last command of a && list).
  [ -f "$work/run/keeper.pid" ] && kill -9 "$(cat "$work/run/keeper.pid")" 2>/dev/null || true
  pkill_pids=$(pgrep -f "squashfuse_ll $sq $work/" || true)
  [ -n "$pkill_pids" ] && kill $pkill_pids 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

pss_kb() {  # PIDS...: summed Pss in KiB
  local total=0 p v
  for p in "$@"; do
    v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
start_serve() {
  "$bin" serve >"$work/serve.log" 2>&1 &
  serve_pid=$!
  for _ in $(seq 500); do
    grep -q 'listening on' "$work/serve.log" && return 0
    sleep 0.01
  done
  echo "serve did not start" >&2; exit 1
}
stop_serve() {
  kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=
  sleep 0.2
}
touch_mounts() {  # PREFIX: stat each root and read one small file
  for i in $(seq "$N"); do
    stat "$1$i" >/dev/null
    cat "$1$i/$SMALL" >/dev/null
  done
}

[ -f "$sq" ] || mksquashfs "$TREE" "$sq" -noI -noD -noF -noX -quiet -no-progress >/dev/null

echo "# sealfs serve benchmark, $(date -u +%F), $(nproc) CPUs, $N mounts of $(basename "$IMAGE")"
echo
# 1. Memory.
start_serve
for i in $(seq "$N"); do
  mkdir -p "$work/s$i"
  "$bin" mount -o "$opts" "$IMAGE" "$work/s$i"
done
touch_mounts "$work/s"
sync; sleep 0.5
serve_pss=$(pss_kb "$serve_pid" "$(cat "$work/run/keeper.pid")")
stop_serve
unmount_all

for i in $(seq "$N"); do
  mkdir -p "$work/q$i"
  squashfuse_ll "$sq" "$work/q$i"
done
touch_mounts "$work/q"
sleep 0.5
sq_pss=$(pss_kb $(pgrep -f "squashfuse_ll $sq $work/q"))
unmount_all
sleep 0.5

for i in $(seq "$N"); do
  mkdir -p "$work/d$i"
  "$bin" mount -o "$opts,standalone" "$IMAGE" "$work/d$i"
done
touch_mounts "$work/d"
sleep 0.5
sa_pss=$(pss_kb $(pgrep -f "sealfs mount -o $opts,standalone $IMAGE $work/d"))
unmount_all

echo "| $N mounts | total PSS | per mount | vs squashfuse_ll |"
echo "|---|---|---|---|"
awk -v n="$N" -v s="$serve_pss" -v q="$sq_pss" -v d="$sa_pss" 'BEGIN {
  printf "| sealfs serve (serve + keeper) | %.1f MB | %.2f MB | %.2fx |\n", s/1024, s/1024/n, s/q
  printf "| squashfuse_ll | %.1f MB | %.2f MB | 1.00x |\n", q/1024, q/1024/n
  printf "| sealfs standalone | %.1f MB | %.2f MB | %.2fx |\n", d/1024, d/1024/n, d/q
}'
echo

# 2 and 3. Times: `sealfs mount` then stat of the root, timed in one
# process. The spawn is os.posix_spawn (vfork), not subprocess.run, whose
# fork and bookkeeping alone cost ~2.5 ms; the same timer also starts a
# static no-op and `sealfs --version`, so that the table separates the
# process start from the mount.
cat >"$work/time.py" <<'PY'
import os, statistics, sys, time
bin, opts, image, mnt, reps, extra = sys.argv[1:7]
reps = int(reps)
null = os.open(os.devnull, os.O_WRONLY)
def spawn(argv):
    pid = os.posix_spawn(argv[0], argv, os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, null, 1)])
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{argv} failed")
out = []
for i in range(reps):
    if extra in ("version", "noop"):  # the process start alone
        argv = [bin, "--version"] if extra == "version" else [bin]
        t = time.perf_counter()
        spawn(argv)
        out.append((time.perf_counter() - t) * 1000)
        continue
    # A fresh mount point each time (see py_client.py below).
    m = f"{mnt}{i}"
    os.makedirs(m, exist_ok=True)
    t = time.perf_counter()
    spawn([bin, "mount", "-o", opts + extra, image, m])
    os.stat(m + "/etc")
    out.append((time.perf_counter() - t) * 1000)
    spawn(["/usr/bin/fusermount3", "-u", m])
    time.sleep(0.05)
print(f"{statistics.median(out):.2f} {min(out):.2f}")
PY
start_serve
mkdir -p "$work/held"
"$bin" mount -o "$opts" "$IMAGE" "$work/held"  # the service holds the image
read -r rep_med rep_min < <(python3 "$work/time.py" "$bin" "$opts" "$IMAGE" "$work/r" "$REPS" "")
read -r sa_med sa_min < <(python3 "$work/time.py" "$bin" "$opts" "$IMAGE" "$work/sa" "$REPS" ",standalone")
# The same repeat mount from inside one process (tests/bench/
# serve_mount_timer.cc): what a runtime speaking the socket itself pays.
mkdir -p "$work/t"
read -r inproc_med inproc_min < <("$timer" "$opts" "$IMAGE" "$work/t" "$REPS")
# And by tests/integration/serve_client.py, written from the protocol's
# specification (docs/FORMAT.md): mount, stat of the root, unmount, in
# one python process.
cat >"$work/py_client.py" <<'PY'
import os, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import serve_client
opts, image, mnt, reps = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
out = []
for i in range(reps):
    # A mount point of its own each time: the service, reaping the session
    # just unmounted, could take a new mount at the same path, which has
    # its mount id again, for that session's (a defect, reported).
    m = f"{mnt}{i}"
    os.makedirs(m, exist_ok=True)
    t = time.perf_counter()
    serve_client.mount(image, m, opts)
    os.stat(m)
    out.append((time.perf_counter() - t) * 1000)
    serve_client.unmount(m)
    time.sleep(0.05)
print(f"{statistics.median(out):.2f} {min(out):.2f}")
PY
read -r py_med py_min < <(python3 "$work/py_client.py" "$PWD/tests/integration" "$opts" "$IMAGE" "$work/p" "$REPS")
fusermount3 -u "$work/held"
sleep 0.3
# First mount: the service holds nothing (each run unmounts its only mount,
# which frees the image), so every run reads and validates the manifest.
read -r first_med first_min < <(python3 "$work/time.py" "$bin" "$opts" "$IMAGE" "$work/f" "$REPS" "")
stop_serve
read -r ver_med ver_min < <(python3 "$work/time.py" "$bin" "$opts" "$IMAGE" "$work/r" "$REPS" "version")
printf 'int main(void) { return 0; }\n' >"$work/noop.c"
cc -O2 -static -o "$work/noop" "$work/noop.c"
read -r noop_med noop_min < <(python3 "$work/time.py" "$work/noop" "" "" "" "$REPS" "noop")
echo "| mount until the first stat returns | median | min |"
echo "|---|---|---|"
echo "| repeat mount through the service (image held) | $rep_med ms | $rep_min ms |"
echo "| repeat mount, in one process (no \`sealfs mount\` started) | $inproc_med ms | $inproc_min ms |"
echo "| repeat mount, in one python process by serve_client.py (the spec's client) | $py_med ms | $py_min ms |"
echo "| first mount through the service (image not held) | $first_med ms | $first_min ms |"
echo "| standalone mount | $sa_med ms | $sa_min ms |"
echo "| (reference) \`sealfs --version\`: the start of this binary alone | $ver_med ms | $ver_min ms |"
echo "| (reference) a static no-op C program: the spawn alone | $noop_med ms | $noop_min ms |"
awk -v r="$rep_med" -v v="$ver_med" -v n="$noop_med" 'BEGIN {
  printf "\nrepeat mount after the process has started (median minus --version): %.2f ms; start of sealfs beyond a no-op: %.2f ms\n", r - v, v - n
}'
