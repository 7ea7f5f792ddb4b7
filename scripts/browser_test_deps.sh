#!/usr/bin/env bash
# Installs the npm packages of the browser tests (tests/serve/browser/package.json: playwright-core) into DIR/node_modules,
# when missing. --ignore-scripts: playwright-core downloads no browser; the tests drive Debian's chromium.
# Usage: scripts/browser_test_deps.sh DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:?usage: scripts/browser_test_deps.sh DIR}
mkdir -p "$dir"
if ! cmp -s "$root/tests/serve/browser/package.json" "$dir/package.json" || [ ! -d "$dir/node_modules/playwright-core" ]; then
  cp "$root/tests/serve/browser/package.json" "$dir/package.json"
  (cd "$dir" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
fi
