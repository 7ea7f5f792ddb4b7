#!/usr/bin/env bash
# Builds the whole project with AddressSanitizer + UndefinedBehaviorSanitizer (CMake preset "asan", build-asan/,
# RelWithDebInfo) and runs the whole CTest suite under it. Any memory error, leak or undefined behaviour makes the
# test that hit it fail (UBSan halts on the first report). Prints the wall time of each phase.
# Usage: scripts/test_sanitized.sh [ctest options...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start=$(date +%s)
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$(nproc)"
built=$(date +%s)
echo "test_sanitized: build took $((built - start))s"
status=0
ctest --preset asan -j "$(nproc)" "$@" || status=$?
echo "test_sanitized: tests took $(( $(date +%s) - built ))s, $(( $(date +%s) - start ))s in all; $([ $status -eq 0 ] && echo passed || echo FAILED)"
exit $status
