#!/usr/bin/env bash
# Sets up (packages + Release build, see setup.sh) and runs the whole test suite with CTest.
# Usage: scripts/test.sh [ctest options...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
cd "$root/build"
ctest --output-on-failure -j "$(nproc)" --timeout 900 "$@"
