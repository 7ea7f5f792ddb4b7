#!/usr/bin/env bash
# The project's training speed next to what a user would run instead, in paired rounds on the same machine: libtorch
# on one thread (and, with PEERS=both, the tutorial's own PyTorch code) from ../shared/peers/run_peers.sh, and
# mnist_train_bench on 1 and 2 threads (one run each per round, as the peers get). The order is swapped every round
# (peers then mnist, mnist then peers) so that a drifting machine hits both alike. Prints every measurement, each
# round's ratios, then per model the median seconds and the median ratio with its range over the rounds.
# Usage: scripts/bench_peers.sh [DATA_DIR=/usr/share/datasets/fashion-mnist] [EPOCHS=10] [BUILD_DIR=build]
#                               [PEERS=libtorch|both] [ROUNDS=5]
# Environment: BENCH_CPUS=1 runs everything under `taskset -c 1` (then mnist runs on one thread only);
#              BENCH_NICE=-20 runs it in a session of its own whose scheduling group gets that nice value (root):
#                with the kernel's autogroups a plain `nice` does not weigh against other sessions' builds;
#              MNIST_THREADS=1,2 the thread counts of mnist's runs;
#              MODELS=logistic,hidden,hidden-relu the models: the seed's MLPs, or the conv presets lenet5,cnn,cnn-bn
#                (their peer is libtorch's cnn_bench, SGD lr 0.05 momentum 0.9, as mnist_train_bench trains them).
# Installs python3-torch python3-torchvision libtorch-dev with apt-get when missing (needs root).
set -euo pipefail
if [ -n "${BENCH_NICE:-}" ] && [ -z "${BENCH_NICED:-}" ]; then
  [[ $BENCH_NICE =~ ^-?[0-9]+$ ]] || { echo "bench_peers.sh: BENCH_NICE must be a whole number, not '$BENCH_NICE'" >&2; exit 2; }
  # A new session is a new autogroup; its nice value weighs it against the other sessions on the machine.
  exec env BENCH_NICED=1 setsid --wait bash -c 'echo "$1" > /proc/self/autogroup && shift && exec "$@"' \
    bench "$BENCH_NICE" bash "$0" "$@"
fi
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-/usr/share/datasets/fashion-mnist}; epochs=${2:-10}; build=${3:-$root/build}
which=${4:-libtorch}; rounds=${5:-5}
case $which in libtorch | both) ;; *) echo "bench_peers.sh: PEERS must be libtorch or both, not '$which'" >&2; exit 2 ;; esac
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "bench_peers.sh: ROUNDS must be a positive whole number, not '$rounds'" >&2; exit 2; }
threads=${MNIST_THREADS:-1,2}
models=${MODELS:-logistic,hidden,hidden-relu}
peer_mode=$which
case ,$models, in
  *,lenet5,* | *,cnn,* | *,cnn-bn,*)
    [[ $models =~ ^(lenet5|cnn|cnn-bn)(,(lenet5|cnn|cnn-bn))*$ ]] ||
      { echo "bench_peers.sh: MODELS mixes conv presets with others or names an unknown one: '$models'" >&2; exit 2; }
    [ "$which" = libtorch ] || { echo "bench_peers.sh: the conv presets' only peer is libtorch" >&2; exit 2; }
    peer_mode=cnn ;;
  *) [[ $models =~ ^(logistic|hidden|hidden-relu)(,(logistic|hidden|hidden-relu))*$ ]] ||
       { echo "bench_peers.sh: MODELS must be seed MLPs or conv presets, not '$models'" >&2; exit 2; } ;;
esac
pin=()
if [ -n "${BENCH_CPUS:-}" ]; then
  pin=(taskset -c "$BENCH_CPUS")
  [[ $BENCH_CPUS =~ ^[0-9]+$ ]] && threads=1  # one CPU: a second thread would only share it
fi
peers=$root/../shared/peers
[ -x "$peers/run_peers.sh" ] || { echo "bench_peers.sh: $peers/run_peers.sh not found (../shared is missing)" >&2; exit 1; }

missing=()
needed=(libtorch-dev)
[ "$which" = both ] && needed+=(python3-torch python3-torchvision)
for p in "${needed[@]}"; do
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
run_peers() {
  "${pin[@]}" "$peers/run_peers.sh" "$data" "$epochs" "$peer_mode" "$models" | awk -v r="$1" '{ print "round=" r " " $0 }' | tee -a "$log"
}
run_mnist() {
  "${pin[@]}" "$build/bench/mnist_train_bench" "$data" "$epochs" 0 "$models" "$threads" 1 |
    grep -E "^(${models//,/|}) " |
    awk -v r="$1" '{ t = $3; sub(/threads=/, "", t); print "round=" r " mnist-" t "t " $0 }' | tee -a "$log"
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)${BENCH_CPUS:+, pinned to CPU $BENCH_CPUS}${BENCH_NICE:+, autogroup nice $BENCH_NICE}"
for ((round = 1; round <= rounds; ++round)); do
  if ((round % 2)); then run_peers "$round"; run_mnist "$round"; else run_mnist "$round"; run_peers "$round"; fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
# Per round and model: the ratios peer seconds / mnist 1-thread seconds (and 1t / 2t); then per model the median
# seconds of each and the median ratio with its range over the rounds.
awk -v model_list="${models//,/ }" '
  function median(list, n,   a, k, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; ++i) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; --j) a[j + 1] = a[j]; a[j + 1] = t }
    lo = a[1]; hi = a[n]
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function add(key, v) { vals[key] = (key in vals) ? vals[key] " " v : v }
  function sec(v) { return v ? sprintf("%9.3fs", v) : "-" }
  function ratio(x, y, f) { return x && y ? sprintf(f, x / y) : "-" }
  { r = $1; sub(/round=/, "", r); impl = $2; model = $3
    for (i = 4; i <= NF; ++i) if ($i ~ /^seconds=/) s = substr($i, 9) + 0
    if (index(" " model_list " ", " " model " ")) { t[r, impl, model] = s; if (r > last) last = r } }
  END {
    n = split(model_list, models, " ")
    printf "%-6s %-12s %10s %10s %10s %10s %12s %12s %8s\n", "round", "model", "pytorch", "libtorch", "mnist-1t",
           "mnist-2t", "libtorch/1t", "pytorch/1t", "1t/2t"
    for (r = 1; r <= last; ++r)
      for (k = 1; k <= n; ++k) {
        m = models[k]; p = t[r, "pytorch-seed", m]; l = t[r, "libtorch", m]; a = t[r, "mnist-1t", m]; b = t[r, "mnist-2t", m]
        if (p) add(m "p", p); if (l) add(m "l", l); if (a) add(m "a", a); if (b) add(m "b", b)
        if (a && l) add(m "rl", l / a); if (a && p) add(m "rp", p / a); if (a && b) add(m "rs", a / b)
        printf "%-6d %-12s %10s %10s %10s %10s %12s %12s %8s\n", r, m, sec(p), sec(l), sec(a), sec(b),
               ratio(l, a, "%.2fx"), ratio(p, a, "%.1fx"), ratio(a, b, "%.2fx")
      }
    printf "\nmedian over %d rounds [range]:\n", last
    printf "%-12s %10s %10s %10s %10s %22s %22s %20s\n", "model", "pytorch", "libtorch", "mnist-1t", "mnist-2t",
           "libtorch/mnist-1t", "pytorch/mnist-1t", "mnist 1t/2t"
    for (k = 1; k <= n; ++k) {
      m = models[k]
      mp = (m "p") in vals ? sprintf("%9.3fs", median(vals[m "p"])) : "-"
      ml = (m "l") in vals ? sprintf("%9.3fs", median(vals[m "l"])) : "-"
      ma = (m "a") in vals ? sprintf("%9.3fs", median(vals[m "a"])) : "-"
      mb = (m "b") in vals ? sprintf("%9.3fs", median(vals[m "b"])) : "-"
      rl = "-"; rp = "-"; rs = "-"
      if ((m "rl") in vals) { x = median(vals[m "rl"]); rl = sprintf("%.2fx [%.2f-%.2f]", x, lo, hi) }
      if ((m "rp") in vals) { x = median(vals[m "rp"]); rp = sprintf("%.1fx [%.1f-%.1f]", x, lo, hi) }
      if ((m "rs") in vals) { x = median(vals[m "rs"]); rs = sprintf("%.2fx [%.2f-%.2f]", x, lo, hi) }
      printf "%-12s %10s %10s %10s %10s %22s %22s %20s\n", m, mp, ml, ma, mb, rl, rp, rs
    }
  }' "$log"
