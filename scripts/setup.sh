#!/usr/bin/env bash
# Installs the Debian packages the project needs (when missing), then configures and builds Release into build/.
# Idempotent. When not root and something is missing, prints the exact apt-get line to run and stops.
# Usage: scripts/setup.sh [extra cmake -D options...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  build-essential cmake pkg-config python3
  libopenblas-dev zlib1g-dev libcurl4-openssl-dev libssl-dev libpng-dev libjpeg-dev
  libplplot-dev plplot-driver-cairo
  libcli11-dev libfmt-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  doxygen
  clang libclang-rt-14-dev     # fuzzing (scripts/fuzz.sh) and sanitizers
  dataset-fashion-mnist
  libcpp-httplib-dev libjs-chart.js chromium   # mnist serve (HTTP, charts) and its browser tests
  libopenmpi-dev openmpi-bin   # data-parallel training under mpirun (src/dist, tests/dist)
  libonnx-dev libprotobuf-dev python3-onnx python3-opencv   # ONNX export (mnist export) and its runtime tests
  nodejs   # the browser test (playwright-core) and the ONNX runtime test (onnxruntime-node)
)
# npm comes with NodeSource's nodejs; Debian's nodejs needs Debian's npm package beside it.
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "setup: missing Debian packages; run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$root/build" -j "$(nproc)"
