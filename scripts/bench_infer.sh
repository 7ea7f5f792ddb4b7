#!/usr/bin/env bash
# Inference speed against libtorch, paired: mnist_infer_bench (evaluate() over the test split) and
# bench/peers/libtorch_infer (the same modules in eval mode, no grad, batches of 128) alternate for ROUNDS rounds,
# one thread each; prints every measurement and, per model, the median seconds and the median ratio
# libtorch / mnist with its range.
# Usage: scripts/bench_infer.sh [DATA_DIR=/usr/share/datasets/fashion-mnist] [MODELS=lenet5,cnn,cnn-bn] [ROUNDS=5]
#                               [BUILD_DIR=build]
# Needs Debian's libtorch-dev (installed with apt-get when missing, as root).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-/usr/share/datasets/fashion-mnist}; models=${2:-lenet5,cnn,cnn-bn}; rounds=${3:-5}; build=${4:-$root/build}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "bench_infer.sh: ROUNDS must be a positive whole number, not '$rounds'" >&2; exit 2; }
[[ $models =~ ^(lenet5|cnn|cnn-bn)(,(lenet5|cnn|cnn-bn))*$ ]] ||
  { echo "bench_infer.sh: MODELS must be conv presets (lenet5, cnn, cnn-bn), not '$models'" >&2; exit 2; }
[ -f "$data/t10k-images-idx3-ubyte.gz" ] || [ -f "$data/t10k-images-idx3-ubyte" ] ||
  { echo "bench_infer.sh: no t10k-images-idx3-ubyte(.gz) in $data" >&2; exit 1; }
if ! dpkg-query -W -f='${Status}' libtorch-dev 2>/dev/null | grep -q "install ok installed"; then
  [ "$(id -u)" -eq 0 ] || { echo "bench_infer.sh: run as root to install libtorch-dev" >&2; exit 1; }
  apt-get install -y --no-install-recommends libtorch-dev >&2
fi
cmake --build "$build" -j2 --target mnist_infer_bench >/dev/null
peer_build=$build/libtorch-peers
if [ ! -x "$peer_build/libtorch_infer" ]; then
  cmake -S "$root/bench/peers" -B "$peer_build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$peer_build" >/dev/null
fi
work=$(mktemp -d); log=$work/log; trap 'rm -rf "$work"' EXIT
# libtorch's MNIST reader wants the four raw files.
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  if [ -f "$data/$f.gz" ]; then zcat "$data/$f.gz" >"$work/$f"; elif [ -f "$data/$f" ]; then cp "$data/$f" "$work/$f"; fi
done
run_mnist() { "$build/bench/mnist_infer_bench" "$data" "$models" 1 | sed "s/^/round=$1 mnist /" | tee -a "$log"; }
run_peer() { "$peer_build/libtorch_infer" "$work" "$models" 1 | sed "s/^/round=$1 libtorch /" | tee -a "$log"; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= rounds; ++r)); do
  if ((r % 2)); then run_peer "$r"; run_mnist "$r"; else run_mnist "$r"; run_peer "$r"; fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk '
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; ++i) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; --j) a[j + 1] = a[j]; a[j + 1] = t }
    lo = a[1]; hi = a[n]
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { r = $1; sub(/round=/, "", r); impl = $2; m = $3; s = $5; sub(/seconds=/, "", s); t[r, impl, m] = s + 0
    if (!(m in seen)) { seen[m] = 1; order[++n] = m } if (r > last) last = r }
  END {
    printf "\nmedian over %d rounds [range]:\n%-8s %12s %12s %22s\n", last, "model", "libtorch", "mnist", "libtorch/mnist"
    for (k = 1; k <= n; ++k) {
      m = order[k]; L = ""; M = ""; R = ""
      for (r = 1; r <= last; ++r) if (t[r, "libtorch", m] && t[r, "mnist", m]) {
        L = L " " t[r, "libtorch", m]; M = M " " t[r, "mnist", m]; R = R " " t[r, "libtorch", m] / t[r, "mnist", m] }
      ml = median(L); mm = median(M); mr = median(R)
      printf "%-8s %11.4fs %11.4fs %14.2fx [%.2f-%.2f]\n", m, ml, mm, mr, lo, hi
    }
  }' "$log"
