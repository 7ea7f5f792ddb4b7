#!/usr/bin/env bash
# The project's test command, and what CI runs (.ci/run). In order, each phase timed:
#   1. setup: the Debian packages and the Release build (scripts/setup.sh), then the whole CTest suite on it;
#   2. the whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer (scripts/test_sanitized.sh);
#   3. the fuzz targets: regression inputs, corpora replayed, each target fuzzed for 30 s (scripts/fuzz.sh --ci).
# Every phase runs even when an earlier test phase failed (a CI log then shows everything that is wrong); the
# exit status is 1 if any failed. A failed setup stops at once.
# Usage: scripts/test.sh [--quick] [ctest options...]
#   --quick   phase 1 only (set-up + Release suite): the quick check while developing.
#   ctest options (e.g. -R Idx) go to both CTest runs; with them, fuzzing is skipped (it does not take -R).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
if [ "${1:-}" = "--quick" ]; then
  quick=1
  shift
fi

summary=()
failed=0
# child_cpu VAR: sets VAR to the CPU seconds (user + system) used so far by the finished child processes of this
# shell, from `times` (which must run in this shell, not in a $(...) subshell). Next to the wall time it shows
# whether a phase was slow or only starved of CPU by a busy machine.
times_file=$(mktemp)
trap 'rm -f "$times_file"' EXIT
child_cpu() {
  times >"$times_file"
  printf -v "$1" '%s' "$(tail -1 "$times_file" | awk '{ t = 0; for (i = 1; i <= 2; ++i) { split($i, p, /[ms]/); t += p[1] * 60 + p[2] } printf "%d", t }')"
}

# phase NAME COMMAND...: runs the command, records its wall time, CPU time and result.
phase() {
  local name=$1
  shift
  local start cpu_start cpu_end status=0
  start=$(date +%s)
  child_cpu cpu_start
  echo "=== test: $name"
  "$@" || status=$?
  child_cpu cpu_end
  local took=$(( $(date +%s) - start )) cpu=$(( cpu_end - cpu_start ))
  local verdict=passed
  [ $status -eq 0 ] || { verdict="FAILED (exit $status)"; failed=1; }
  summary+=("$(printf '%-34s %5ds wall %6ds CPU  %s' "$name" "$took" "$cpu" "$verdict")")
  echo "=== test: $name: ${took}s wall, ${cpu}s CPU, $verdict"
  return $status
}

release_suite() (
  cd "$root/build"
  ctest --output-on-failure -j "$(nproc)" --timeout 900 "$@"
)

total_start=$(date +%s)
phase "setup (packages, Release build)" "$root/scripts/setup.sh" || exit 1
phase "Release suite" release_suite "$@" || true
if [ $quick -eq 0 ]; then
  phase "ASan+UBSan build and suite" "$root/scripts/test_sanitized.sh" "$@" || true
  if [ $# -eq 0 ]; then
    phase "fuzzing (scripts/fuzz.sh --ci)" "$root/scripts/fuzz.sh" --ci || true
  fi
fi

child_cpu cpu_total
echo "=== test: summary"
for line in "${summary[@]}"; do echo "  $line"; done
echo "  $(printf '%-34s %5ds wall %6ds CPU  %s' "total" "$(( $(date +%s) - total_start ))" "$cpu_total" \
  "$([ $failed -eq 0 ] && echo passed || echo FAILED)")"
exit $failed
