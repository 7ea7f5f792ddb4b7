#!/usr/bin/env bash
# Thread scaling on a machine of dedicated cores (the device machine: 16 cores, bare, no packages), in one call.
#   scripts/device_scaling.sh pack [DATA_DIR=/usr/share/datasets/fashion-mnist]
#       here, after building: packs the two benchmarks, their libraries and the training files into .device/
#       (ignored by git) with ../shared/tools/device-pack.sh
#   then with the device tool: run, carry [".device"], command
#       bash .device/run.sh bash scripts/device_scaling.sh run
#       which writes $OUT/scaling.txt: each preset at 1, 2, 4 and 8 threads (best of REPEATS, the threads a step
#       used, same bits), then 1 against 2 threads in pairs. About 5 minutes on 16 cores; MLP_EPOCHS, CONV_EPOCHS,
#       REPEATS and THREADS shorten or widen it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-}" in
  pack)
    data=${2:-/usr/share/datasets/fashion-mnist}
    cd "$root"
    for p in build/bench/mnist_train_bench build/bench/mnist_thread_scaling_bench; do
      [ -x "$p" ] || { echo "device_scaling.sh: $p is not built (cmake --build build first)" >&2; exit 1; }
    done
    "$root/../shared/tools/device-pack.sh" .device build/bench/mnist_train_bench build/bench/mnist_thread_scaling_bench \
      --data "$data"
    ;;
  run)
    : "${DATA:?device_scaling.sh run: DATA is not set (run it through .device/run.sh)}"
    out=${OUT:-/tmp/out}
    mkdir -p "$out"
    threads=${THREADS:-1,2,4,8}
    {
      echo "# $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
      echo "# MLPs, ${MLP_EPOCHS:-10} epochs, best of ${REPEATS:-3}"
      mnist_train_bench "$DATA" "${MLP_EPOCHS:-10}" 0 logistic,hidden,hidden-relu "$threads" "${REPEATS:-3}"
      echo "# conv presets, ${CONV_EPOCHS:-1} epoch(s), best of 1"
      mnist_train_bench "$DATA" "${CONV_EPOCHS:-1}" 0 lenet5,cnn,cnn-bn "$threads" 1
      echo "# 1 against 2 threads, paired"
      mnist_thread_scaling_bench "$DATA" logistic,hidden,hidden-relu 5
    } 2>&1 | tee "$out/scaling.txt"
    ;;
  *)
    echo "usage: scripts/device_scaling.sh pack [DATA_DIR] | run (on the device, through .device/run.sh)" >&2
    exit 2
    ;;
esac
