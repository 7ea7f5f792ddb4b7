#!/usr/bin/env bash
# docs_no_warnings: builds the `docs` target (Doxygen over include/mnist, cmake/docs.cmake) and fails on any
# warning, printing them, so that every public name stays documented. Exits 77 (skipped) without doxygen.
# Usage: docs_test.sh BUILD_DIR
set -u
build=$1
if ! command -v doxygen >/dev/null 2>&1; then
  echo "SKIP: doxygen not installed (Debian's doxygen: scripts/setup.sh)"
  exit 77
fi
log=$build/docs/warnings.log
rm -f "$log"
cmake --build "$build" --target docs >"$build/docs_test_output.txt" 2>&1
status=$?
if [ -s "$log" ]; then
  echo "FAIL: $(wc -l <"$log") Doxygen warning(s) in the public headers ($log):"
  sed "s|^$(pwd)/||" "$log"
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "FAIL: the docs target failed without writing warnings:"
  cat "$build/docs_test_output.txt"
  exit 1
fi
[ -f "$build/docs/html/index.html" ] || { echo "FAIL: no $build/docs/html/index.html"; exit 1; }
echo "OK: documentation built with no warnings into $build/docs/html"
