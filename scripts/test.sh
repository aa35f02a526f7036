#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test: unit, CLI and real FUSE
# mounts on the release build, then the unit tests (corruption sweeps
# included) again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure --timeout 600 -j 2)

asan_dir=${ASAN_BUILD_DIR:-build-asan}
cmake -S . -B "$asan_dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSEALFS_SANITIZE=ON >/dev/null
ninja -C "$asan_dir"
(cd "$asan_dir" && ctest --output-on-failure --timeout 900 -j 2 -L unit)
