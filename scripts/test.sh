#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test (unit, CLI and real FUSE
# mounts). Exit status is ctest's.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 600 -j 2
