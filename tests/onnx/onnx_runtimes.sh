#!/usr/bin/env bash
# onnx_runtimes_<kind>: a model of one kind, trained briefly on Fashion-MNIST, exported with `mnist export`, checked
# by Python's onnx.checker and run in two runtimes no one here wrote, onnxruntime (npm onnxruntime-node, CPU) and
# OpenCV's dnn module; both must give `mnist predict --json`'s probabilities within 1e-5 and its predicted class on
# the first 1,000 test images (onnx_check.py compares and prints the figures).
# Exits 77 (skipped, with the reason) when the data set, Python's onnx/cv2 or node are not installed.
# Usage: onnx_runtimes.sh KIND MNIST_BINARY BUILD_DIR SOURCE_DIR [N_TRAIN]
#   KIND: a model spec or preset; N_TRAIN: training images (3000; fewer keep a conv net's epoch short)
set -euo pipefail
kind=$1 cli=$2 build=$3 src=$4 n_train=${5:-3000}
here=$(cd "$(dirname "$0")" && pwd)
skip() { echo "SKIP: $*"; exit 77; }

fashion=/usr/share/datasets/fashion-mnist
[ -f "$fashion/t10k-images-idx3-ubyte.gz" ] || skip "Fashion-MNIST is not installed (Debian's dataset-fashion-mnist)"
python=/usr/bin/python3  # Debian's, which python3-onnx and python3-opencv install into
"$python" -c 'import onnx, cv2, numpy' 2>/dev/null || skip "Python's onnx or cv2 is missing (Debian's python3-onnx python3-opencv)"
command -v node >/dev/null || skip "node is not installed (Debian's nodejs)"
ort=$("$src/scripts/onnxruntime_node.sh")
if grep -q '^MNIST_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  # The runtimes are processes of their own, not built with the sanitizers: only mnist runs instrumented.
  echo "note: sanitizer build: mnist runs under ASan+UBSan, node and Python as they are"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n_test=1000
# A small training split keeps training to about a second; the test split is the first 1,000 test images.
"$python" "$here/onnx_check.py" data "$fashion" "$work/data" "$n_train" "$n_test" "$work/batch.f32"
data=(--dataset fashion-mnist --data-dir "$work/data")

"$cli" train --model "$kind" "${data[@]}" --epochs 1 --lr 0.05 --threads 2 --out "$work/run" >"$work/train.log"
"$cli" export "$work/run/model.safetensors" -o "$work/model.onnx"
"$cli" predict "$work/run/model.safetensors" "${data[@]}" --index $(seq 0 $((n_test - 1))) --json "$work/predict.json" >/dev/null
node "$here/run_onnxruntime.js" "$ort" "$work/model.onnx" "$work/batch.f32" "$n_test" 28 28 "$work/ort"
"$python" "$here/onnx_check.py" check "$kind" "$work/model.onnx" "$work/predict.json" "$work/batch.f32" "$work/ort"
