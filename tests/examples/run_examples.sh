#!/usr/bin/env bash
# Runs an example program on a subset of Fashion-MNIST (2,000 training images, one epoch) and checks that it prints
# the tutorial's sequence of results and writes its figures; also that bad options fail with a one-line error.
# Usage: run_examples.sh tutorial|custom_mlp PROGRAM      (exit 77 = skipped: Fashion-MNIST is not installed)
set -euo pipefail
which=$1 program=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/mnist-examples.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$work"  # whatever the programs write by default lands here

# Bad options: exit 2 and a message naming the flag; a missing data directory: exit 1 naming it.
expect_error() {  # expect_error CODE TEXT ARGS...
  local code=$1 text=$2; shift 2
  local rc=0
  "$program" "$@" >"$work/out" 2>"$work/err" || rc=$?
  [ "$rc" -eq "$code" ] || fail "$which $*: exit $rc, expected $code (stderr: $(cat "$work/err"))"
  grep -qF -- "$text" "$work/err" || fail "$which $*: stderr '$(cat "$work/err")' does not mention '$text'"
  [ "$(wc -l <"$work/err")" -eq 1 ] || fail "$which $*: error is not one line: $(cat "$work/err")"
}
expect_error 2 "--bogus" --bogus
expect_error 2 "--epochs" --epochs abc
expect_error 2 "--limit" --limit
expect_error 2 "unknown dataset 'nope'" --dataset nope
expect_error 1 "$work/missing" --data-dir "$work/missing"

data=${MNIST_FASHION_DIR:-/usr/share/datasets/fashion-mnist}
if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
  echo "SKIP: Fashion-MNIST not found at $data (Debian package dataset-fashion-mnist)"
  exit 77
fi

out=$work/figures
expect_line() {  # expect_line REGEX: some line of the output matches
  grep -qE -- "$1" "$work/stdout" || fail "$which: no line matching '$1' in:
$(cat "$work/stdout")"
}
expect_png() {
  [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$1 is not a PNG"
}

case "$which" in
tutorial)
  "$program" --dataset fashion-mnist --data-dir "$data" --limit 2000 --epochs 1 --out "$out" >"$work/stdout" ||
    fail "tutorial exited $?"
  # The tutorial's sequence, in order: data sets, image 0, its tensor shape, the split, the loaders, three models.
  expected=(
    "^Dataset FashionMNIST$" "Number of datapoints: 60000" "Number of datapoints: 10000"
    "^len\(dataset\) = 60000, len\(test_dataset\) = 10000$"
    "^Label: 9 \(Ankle boot\)$" "^\[1, 28, 28\] 9$" "^min 0.0000, max 1.0000$"
    "^len\(train_ds\) = 1800, len\(val_ds\) = 200$" "^train batches 15, val batches 2 \(batch size 128\)$"
  )
  for model in logistic hidden hidden-relu; do
    expected+=("^== Model '$model'$" "^first batch: outputs \[128, 10\], loss 2\.[0-9]+, accuracy 0\.[0-9]+ \(untrained\)$"
               "^Epoch \[1/1\], loss: [0-9.]+, val_loss: [0-9.]+, val_acc: 0\.[0-9]+$" "^output shape: \[1, 10\]$"
               "^probabilities:( [01]\.[0-9]{4}){10}$" "^Label: [0-9] \(.+\), Predicted: [0-9] \(.+\)$")
  done
  expected+=("^final validation accuracy after 1 epochs:$" "^  hidden-relu +0\.[0-9]{4}$")
  line=0
  for re in "${expected[@]}"; do
    found=$(tail -n +"$((line + 1))" "$work/stdout" | grep -nE -m1 -- "$re" | cut -d: -f1 || true)
    [ -n "$found" ] || fail "tutorial: no line matching '$re' after line $line in:
$(cat "$work/stdout")"
    line=$((line + found))
  done
  # Probabilities sum to 1 (to the 4 printed decimals), and training did something on 1,800 images.
  awk '/^probabilities:/ { s = 0; for (i = 2; i <= NF; ++i) s += $i; if (s < 0.998 || s > 1.002) exit 1 }' \
    "$work/stdout" || fail "tutorial: probabilities do not sum to 1"
  awk '/^  (logistic|hidden|hidden-relu) / { if ($2 < 0.25) exit 1 }' "$work/stdout" ||
    fail "tutorial: a model's validation accuracy is below 0.25 after one epoch (chance is 0.1)"
  for png in image0 relu {logistic,hidden,hidden-relu}-{loss,accuracy,val0}; do expect_png "$out/$png.png"; done
  ;;
custom_mlp)
  "$program" --dataset fashion-mnist --data-dir "$data" --limit 2000 --epochs 1 --out "$out" >"$work/stdout" ||
    fail "custom_mlp exited $?"
  expect_line "^model 784-256-relu-128-relu-10: 235146 parameters; train 1800, val 200, test 2000 images$"
  expect_line "^epoch 1/1  loss [0-9.]+  val_loss [0-9.]+  val_acc 0\.[0-9]+"
  expect_line "^test: loss [0-9.]+, accuracy 0\.[5-9][0-9]* \([0-9]+/2000\)$"
  expect_line "^  Ankle boot +0\.[0-9]{4}$"
  expect_png "$out/confusion.png"
  [ -s "$out/model.safetensors" ] || fail "custom_mlp: no checkpoint written"
  ;;
*)
  fail "unknown example '$which'"
  ;;
esac
echo "OK: $which"
cat "$work/stdout"
