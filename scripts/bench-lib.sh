# Helpers shared by the bench-*.sh scripts: sourced, not run. Each script
# sets `sealfs` (the binary) and `bench` (its own name, for messages) first.

# bench_need CMD...: installs Debian's packages of these names when any of
# the commands is missing.
bench_need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || command -v "/usr/sbin/$tool" >/dev/null || {
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null
      return
    }
  done
}

# bench_rootfs DIR: a debootstrap minbase tree (needs Debian's archive),
# unless DIR already holds one.
bench_rootfs() {
  [ -f "$1/.complete" ] || [ -x "$1/usr/bin/apt-get" ] && return
  echo "$bench: debootstrap --variant=minbase bookworm into $1" >&2
  rm -rf "$1"
  debootstrap --variant=minbase bookworm "$1" http://deb.debian.org/debian >/dev/null
  touch "$1/.complete"
}

# bench_image TREE STORE IMAGE: the sealfs image of TREE, made again when
# TREE is newer.
bench_image() {
  [ -f "$3" ] && [ ! "$1" -nt "$3" ] && return
  rm -rf "$2" "$3"
  "$sealfs" mkfs --store "$2" "$1" "$3" >/dev/null 2>&1
}

# Results land on a new ext4 filesystem (Debian's mkfs.ext4 defaults, so
# with a journal) on a loop device with direct I/O, made for the run and
# removed after it: each run starts from the same state. On this machine's
# root filesystem (ext4 without a journal) allocating inodes within minutes
# of deleting thousands costs seconds in recently_deleted(), which would
# measure the previous run's rm -rf rather than the work.
#
# loop_ext4_mount FILE DIR MIB / loop_ext4_remove FILE DIR
loop_ext4_mount() {
  truncate -s "$3M" "$1"
  mkfs.ext4 -q -F "$1"
  mkdir -p "$2"
  mount "$(losetup --direct-io=on -f --show "$1")" "$2"
}
loop_ext4_remove() {
  mountpoint -q "$2" && umount "$2"
  if [ -f "$1" ]; then
    local l
    for l in $(losetup -j "$1" | cut -d: -f1); do losetup -d "$l"; done
  fi
  rm -f "$1"
}

# Debian's docker-registry on a free loopback port, its data in
# DIR/registry-data: registry_config DIR writes DIR/registry.yml and sets
# reg_port; registry_start DIR starts it (reg_pid) and waits until it
# answers.
registry_config() {
  reg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$1/registry.yml" <<CONF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $1/registry-data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$reg_port
CONF
}
registry_start() {
  docker-registry serve "$1/registry.yml" >>"$1/registry.log" 2>&1 &
  reg_pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$reg_port/v2/" && return; sleep 0.1; done
  echo "${bench:-bench}: the registry does not answer" >&2; exit 1
}

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
now() { echo "$EPOCHREALTIME"; }
since() { echo "$(now) - $1" | bc; }

# The chroot workload of the lazy-mount rows.
workload() {
  chroot "$1" /bin/sh -c 'apt-get --version | md5sum; dpkg -l | md5sum; ls /usr/bin | md5sum' >/dev/null
}
# Until the mount at $1 says its background fetch is done (one process
# that asks the daemon every 10 ms; a process per look took CPU from the
# fetch being measured).
wait_local() { timeout 120 "$sealfs" stats --wait-prefetch "$1" >/dev/null; }

# Samples by name: add NAME SECONDS; m NAME is their median.
declare -A t
add() { t[$1]="${t[$1]:-} $2"; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 }
  END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
range() { tr ' ' '\n' | grep . | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%.3f-%.3f", lo, hi}'; }
m() { echo "${t[$1]}" | median; }
# row NAME TEXT: a table row of median and range; ratio A B: median A / B.
row() { printf '| %s | %.3f | %s |\n' "$2" "$(m "$1")" "$(echo "${t[$1]}" | range)"; }
ratio() { echo "$(m "$1") / $(m "$2")" | bc -l | xargs printf '%.2fx'; }

# timed CMD: prints "WALL CPU" seconds of `sh -c CMD` (CPU = user + system,
# children included).
timed() {
  local out
  out=$( { TIMEFORMAT='%R %U %S'; time sh -c "$1" >/dev/null 2>&1 || echo FAIL; } 2>&1 )
  case $out in *FAIL*) echo "$bench: failed: $1" >&2; exit 1 ;; esac
  echo "$out" | awk '{ printf "%.3f %.3f", $1, $2 + $3 }'
}
# quiet: lets writeback of what came before finish, so it is not charged
# to the next command.
quiet() { sync; sleep 3; }
