#!/bin/sh
# The README's figures: one `mnist compare` on Fashion-MNIST (10 epochs, the three tutorial models, seed 0), its two
# overlay charts copied into docs/figures/, and the ReLU figure. Usage: scripts/readme_figures.sh [path/to/mnist]
set -eu
MNIST=${1:-build/app/mnist}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
"$MNIST" compare --dataset fashion-mnist --epochs 10 --out "$OUT/compare"
mkdir -p docs/figures
cp "$OUT/compare/loss.png" docs/figures/compare_loss.png
cp "$OUT/compare/accuracy.png" docs/figures/compare_accuracy.png
cp "$OUT/compare/summary.md" docs/figures/compare_summary.md
"$MNIST" plot-activation relu -o docs/figures/relu.png
