#!/usr/bin/env bash
# Renders one of every kind of figure the library draws (training histories, model comparison, ReLU, images,
# image grids, confusion matrices, a preprocessed photo) into a folder, for a person to look at.
# Usage: scripts/look_at_figures.sh [OUT_DIR] [BUILD_DIR]   (defaults: /tmp/mnist-figures, build)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-/tmp/mnist-figures}"
build="${2:-$root/build}"
[ -d "$build" ] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target mnist_figure_gallery -j2 >/dev/null
out="$(mkdir -p "$out" && cd "$out" && pwd)"
cd "$root"  # the gallery finds ../shared relative to the project root, as the tests do
"$build/tests/io/mnist_figure_gallery" "$out" >/dev/null
ls -1 "$out"/*.png
