#!/usr/bin/env bash
# The project's training speed next to what a user would run instead, measured in ONE run (A B A B) on the same
# machine: the tutorial's own PyTorch code and libtorch (../shared/peers/run_peers.sh), and mnist_train_bench on 1
# and 2 threads. Prints every measurement, then a table per model with the best time of each and the ratios.
# Usage: scripts/bench_peers.sh [DATA_DIR=/usr/share/datasets/fashion-mnist] [EPOCHS=10] [BUILD_DIR=build-perf]
# Installs python3-torch python3-torchvision libtorch-dev with apt-get when missing (needs root).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-/usr/share/datasets/fashion-mnist}; epochs=${2:-10}; build=${3:-$root/build-perf}
peers=$root/../shared/peers
[ -x "$peers/run_peers.sh" ] || { echo "bench_peers.sh: $peers/run_peers.sh not found (../shared is missing)" >&2; exit 1; }

missing=()
for p in python3-torch python3-torchvision libtorch-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then echo "bench_peers.sh: run as root to install ${missing[*]}" >&2; exit 1; fi
  apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi
if [ ! -x "$build/bench/mnist_train_bench" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j2 --target mnist_train_bench >/dev/null
fi

log=$(mktemp); trap 'rm -f "$log"' EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in 1 2; do
  # A B A B: peers, project, peers, project, so that a drifting machine load hits both alike.
  echo "== round $round: peers (tutorial PyTorch, libtorch)" >&2
  "$peers/run_peers.sh" "$data" "$epochs" both | tee -a "$log"
  echo "== round $round: mnist_train_bench" >&2
  # best of 3 inside each round: a few seconds next to the peers' minutes, and it damps this VM's noise
  "$build/bench/mnist_train_bench" "$data" "$epochs" 0 logistic,hidden,hidden-relu 1,2 3 |
    grep -E '^(logistic|hidden)' | awk '{ t = $3; sub(/threads=/, "", t); print "mnist-" t "t " $0 }' | tee -a "$log"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
# Best (lowest) training-loop seconds per implementation and model, and the ratios to mnist on 1 and 2 threads.
awk '
  { impl = $1; model = $2; for (i = 3; i <= NF; ++i) if ($i ~ /^seconds=/) { s = substr($i, 9) + 0 }
    if (model ~ /^(logistic|hidden|hidden-relu)$/ && (!((impl, model) in best) || s < best[impl, model])) best[impl, model] = s }
  END {
    printf "%-12s %14s %10s %10s %10s %14s %14s %12s\n", "model", "pytorch-seed", "libtorch", "mnist-1t", "mnist-2t",
           "libtorch/1t", "pytorch/1t", "1t/2t"
    n = split("logistic hidden hidden-relu", models, " ")
    for (k = 1; k <= n; ++k) {
      m = models[k]; p = best["pytorch-seed", m]; l = best["libtorch", m]; a = best["mnist-1t", m]; b = best["mnist-2t", m]
      printf "%-12s %13.3fs %9.3fs %9.3fs %9.3fs %13.2fx %13.1fx %11.2fx\n", m, p, l, a, b, (a ? l / a : 0), (a ? p / a : 0), (b ? a / b : 0)
    }
  }' "$log"
