#!/usr/bin/env bash
# Data-parallel training's cost per step at N = 1, 2 and 4 ranks on this machine (TCP loopback; 4 oversubscribed
# when there are fewer cores): bytes allreduced, compute and allreduce time per step, per model
# (bench/dist_bench.cpp). The figures in docs/distributed.md come from it.
# Usage: scripts/bench_dist.sh [steps]   (after scripts/setup.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=$root/build/bench/mnist_dist_bench
[ -x "$bench" ] || cmake --build "$root/build" --target mnist_dist_bench
"$bench" "${1:-50}"
for n in 2 4; do
  echo
  mpirun --allow-run-as-root --oversubscribe --bind-to none --mca btl tcp,self -np $n "$bench" "${1:-50}"
done
