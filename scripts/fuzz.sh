#!/usr/bin/env bash
# Builds one libFuzzer target (clang, ASan + UBSan, in ./build-fuzz) and runs
# it for SECONDS on one core, starting from a seed corpus made the way the
# tests make their data. The corpus grows in fuzz/corpus/TARGET (kept between
# runs); crashes land in fuzz/crashes/TARGET. Exit status: the fuzzer's (0
# when it found nothing).
#
#   scripts/fuzz.sh manifest 600        targets: manifest signature merkle dump tar
#                                        http_response access_list registry serve_protocol
#                                        fd_names oci
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: scripts/fuzz.sh TARGET SECONDS  (TARGET: manifest signature merkle dump tar http_response access_list registry serve_protocol fd_names oci)" >&2; exit 2; }
[ $# -eq 2 ] || usage
target=$1 seconds=$2
case $target in manifest | signature | merkle | dump | tar | http_response | access_list | registry | serve_protocol | fd_names | oci) ;; *) usage ;; esac
[[ $seconds =~ ^[0-9]+$ ]] || usage

packages=(clang libclang-rt-14-dev cmake ninja-build libssl-dev libfuse3-dev libcap-dev pkg-config)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSEALFS_FUZZ=ON -DSEALFS_BUILD_TESTS=OFF >/dev/null
ninja -C build-fuzz "${target}_fuzz" >/dev/null

corpus=fuzz/corpus/$target
crashes=fuzz/crashes/$target
mkdir -p "$corpus" "$crashes"

# Seeds: real images of a tree with every file kind, built by the release
# sealfs (signed and unsigned), for the targets that parse images.
if [[ $target =~ ^(manifest|dump|tar)$ ]] && [ ! -e "$corpus/.seeded" ]; then
  [ -x build/tools/sealfs ] || bash scripts/install.sh >/dev/null
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  src=$work/src
  mkdir -p "$src/d/e"
  printf 'abc' >"$src/small"
  head -c 70000 /dev/urandom >"$src/d/big"
  ln "$src/small" "$src/d/hard"
  ln -s ../small "$src/d/link"
  mkfifo "$src/d/fifo"
  mknod "$src/d/null" c 1 3
  setfattr -n user.k -v value "$src/small" 2>/dev/null || true
  build/tools/sealfs keygen "$work/key" >/dev/null
  build/tools/sealfs mkfs --store "$work/store" --key "$work/key" --inline-max 4096 \
    "$src" "$work/signed" >/dev/null 2>&1
  build/tools/sealfs mkfs --store "$work/store" "$src" "$work/unsigned" >/dev/null 2>&1
  if [ "$target" = manifest ]; then
    cp "$work/signed" "$corpus/seed-signed"
    cp "$work/unsigned" "$corpus/seed-unsigned"
  elif [ "$target" = tar ]; then
    # Small layers: pax with xattrs, GNU, a whiteout; plain, gzip, zstd.
    head -c 3000 "$src/d/big" >"$src/d/medium" && rm "$src/d/big"
    touch "$src/.wh.gone"
    tar --xattrs --format=pax -C "$src" -cf "$corpus/seed-pax.tar" .
    tar --format=gnu -C "$src" -cf "$corpus/seed-gnu.tar" .
    gzip -c "$corpus/seed-pax.tar" >"$corpus/seed-pax.tar.gz"
    zstd -q -c "$corpus/seed-gnu.tar" >"$corpus/seed-gnu.tar.zst"
  else
    build/tools/sealfs dump "$work/signed" >"$corpus/seed-inline"
    build/tools/sealfs dump "$work/unsigned" >"$corpus/seed-stored"
  fi
  touch "$corpus/.seeded"
fi

# Seeds for the control protocol: a mount request, a session record (one
# with the caller's mount namespace, one of an image from a registry), a reply, as the service's own encoder would write them.
if [ "$target" = serve_protocol ] && [ ! -e "$corpus/.seeded" ]; then
  python3 - "$corpus" <<'PY'
import struct, sys
def msg(t, fields):
    body = b"".join(struct.pack("<HI", tag, len(v)) + v for tag, v in fields)
    return struct.pack("<IHHI", 0x31534653, 1, t, len(body)) + body
spec = [(1, b"/img"), (2, b"/store"), (3, b"/mnt"), (4, b"digest=sha256:00,uidmap=0:1000:1"), (5, b"k" * 32)]
open(sys.argv[1] + "/seed-mount", "wb").write(msg(1, spec))
sess = spec + [(9, struct.pack("<Q", 7)), (6, b"\x38" + b"\0" * 63), (7, b"\0" * 4), (8, b"\0" * 4), (12, struct.pack("<Q", 42))]
open(sys.argv[1] + "/seed-session", "wb").write(msg(5, sess))
ns = sess + [(13, struct.pack("<Q", 4026531840)), (14, struct.pack("<Q", 0x2c))]
open(sys.argv[1] + "/seed-session-namespace", "wb").write(msg(5, ns))
reg = sess + [(15, b"docker://127.0.0.1:5000/team/app@sha256:" + b"0" * 64)]
open(sys.argv[1] + "/seed-session-registry", "wb").write(msg(5, reg))
open(sys.argv[1] + "/seed-reply", "wb").write(msg(8, [(10, b"\0" * 4), (11, b"ok")]))
PY
  touch "$corpus/.seeded"
fi

# Seeds for $LISTEN_FDNAMES: a count (two bytes, big-endian), then names
# as systemd joins them.
if [ "$target" = fd_names ] && [ ! -e "$corpus/.seeded" ]; then
  printf '\000\004sealfs-1-fuse:sealfs-1-image:sealfs-1-store:sealfs-1-record' >"$corpus/seed-one"
  printf '\000\003sealfs-12-fuse:unknown:stored' >"$corpus/seed-mixed"
  touch "$corpus/.seeded"
fi

# Seeds for the remote parsers: what nginx answers to a range, a redirect
# then a response; an access list with escapes.
if [ "$target" = http_response ] && [ ! -e "$corpus/.seeded" ]; then
  printf 'Server: nginx/1.22.1\r\nContent-Length: 100\r\nContent-Range: bytes 0-99/5000\r\nConnection: keep-alive\r\n' \
    >"$corpus/seed-range"
  printf 'Location: /x\r\nHTTP/1.1 206 Partial Content\r\nContent-Range: bytes 4096-8191/*\r\n' \
    >"$corpus/seed-redirect"
  touch "$corpus/.seeded"
fi
if [ "$target" = access_list ] && [ ! -e "$corpus/.seeded" ]; then
  printf '/bin/sh\n/ls\n/a\\nb\\\\\n/tiny\n/no/such\n' >"$corpus/seed-list"
  touch "$corpus/.seeded"
fi

if [ "$target" = registry ] && [ ! -e "$corpus/.seeded" ]; then
  # One seed per parser: the first byte picks it (see registry_fuzz.cc).
  printf '\001{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.sealfs.image.v1","layers":[{"mediaType":"application/vnd.sealfs.image.v1","digest":"sha256:%064d","size":10}]}' 0 \
    >"$corpus/seed-manifest"
  printf '\002{"auths":{"reg.io:5000":{"auth":"dXNlcjpwdw=="}}}' >"$corpus/seed-auth"
  printf '\003Bearer realm="https://a/token",service="s",scope="repository:a:pull"' >"$corpus/seed-challenge"
  printf '\004{"token":"abc","expires_in":300}' >"$corpus/seed-token"
  printf '\005docker://reg.io:5000/team/app:v1' >"$corpus/seed-ref"
  touch "$corpus/.seeded"
fi

if [ "$target" = oci ] && [ ! -e "$corpus/.seeded" ]; then
  # One seed per parser: the first byte picks it (see oci_fuzz.cc); the
  # images the tests write (umoci, skopeo) when those tools are here.
  d=sha256:$(printf '%064d' 0)
  printf '\000{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":500,"platform":{"os":"linux","architecture":"amd64"},"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' "$d" \
    >"$corpus/seed-index"
  printf '\001{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":100},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":10}]}' "$d" "$d" \
    >"$corpus/seed-manifest"
  printf '\002{"os":"linux","architecture":"amd64","rootfs":{"type":"layers","diff_ids":["%s"]}}' "$d" >"$corpus/seed-config"
  printf '\003{"imageLayoutVersion":"1.0.0"}' >"$corpus/seed-layout"
  printf '\004linux/arm/v7' >"$corpus/seed-platform"
  if command -v umoci >/dev/null && command -v skopeo >/dev/null && [ "$(id -u)" = 0 ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    if bash tests/integration/make_oci_images.sh "$work/img" >/dev/null 2>&1; then
      { printf '\005'; cat "$work/img/image.tar"; } >"$corpus/seed-archive"
      for f in "$work"/img/layout/blobs/sha256/*; do
        [ "$(stat -c %s "$f")" -lt 4096 ] || continue
        for p in 0 1 2; do { printf "\\00$p"; cat "$f"; } >"$corpus/seed-$p-$(basename "$f" | head -c 12)"; done
      done
    fi
  fi
  touch "$corpus/.seeded"
fi

echo "fuzz.sh: $target for ${seconds}s (corpus $corpus)" >&2
SEALFS_FUZZ_SEED_DIR=$corpus exec build-fuzz/tests/fuzz/"${target}_fuzz" \
  -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$crashes/" \
  -timeout=10 -rss_limit_mb=2048 "$corpus"
