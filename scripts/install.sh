#!/usr/bin/env bash
# Installs what sealfs needs to build, test and benchmark on Debian 12, then
# configures and builds it in ./build (or $BUILD_DIR). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # build
  build-essential cmake ninja-build pkg-config
  libfuse3-dev libssl-dev libcap-dev libgtest-dev libgmock-dev
  libcurl4-openssl-dev
  libarchive-dev
  nlohmann-json3-dev
  # run
  fuse3 openssl
  # tests: reference tools that check sealfs independently
  fsverity attr rsync busybox-static diffutils findutils util-linux
  tar gzip zstd libcap2-bin
  strace  # kills a build at an exact system call (crash-safety test)
  nginx   # a real HTTP server for pull and lazy-mount tests
  docker-registry apache2-utils  # a real OCI registry (htpasswd for its auth)
  skopeo umoci  # reference tools: what was pushed, OCI images to compare
  runc jq  # real containers on sealfs (container tests, docs/CONTAINERS.md)
  # benchmarks: the peers sealfs is measured against
  squashfs-tools squashfuse fio hyperfine python3
)
# Multi-buffer SHA-256, packaged for amd64 only (elsewhere sealfs hashes
# through OpenSSL alone).
if [ "$(dpkg --print-architecture)" = amd64 ]; then
  packages+=(libipsec-mb-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$build_dir"
