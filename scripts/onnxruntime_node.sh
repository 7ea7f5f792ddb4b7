#!/usr/bin/env bash
# Installs onnxruntime-node (npm; its CPU library, libonnxruntime.so, ships inside the package) into .deps/, which
# git ignores, for the ONNX tests (tests/onnx/onnx_runtimes.sh) to run exported models in a runtime written
# elsewhere. --ignore-scripts: the package's install script only downloads GPU libraries, which these tests do not
# use. Idempotent and safe to run from parallel tests (flock); prints the package's directory.
# Usage: scripts/onnxruntime_node.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=1.20.1
prefix=$root/.deps/onnxruntime-node-$version
package=$prefix/node_modules/onnxruntime-node
mkdir -p "$prefix"
exec 9>"$prefix/.lock"
flock 9
if [ ! -f "$package/bin/napi-v3/linux/x64/libonnxruntime.so.1" ] && [ ! -f "$package/bin/napi-v3/linux/arm64/libonnxruntime.so.1" ]; then
  command -v npm >/dev/null || { echo "onnxruntime_node.sh: npm is not installed (Debian's nodejs and npm)" >&2; exit 1; }
  echo "onnxruntime_node.sh: npm install onnxruntime-node@$version into $prefix" >&2
  npm install --prefix "$prefix" --ignore-scripts --no-audit --no-fund --no-save --loglevel=error \
    "onnxruntime-node@$version" >&2
fi
echo "$package"
