#!/usr/bin/env bash
# The page of mnist serve in a real browser (CTest serve_browser): installs playwright-core (scripts/browser_test_deps.sh),
# trains a small digit model on the MNIST test images, then runs serve_page.cjs against `mnist serve` and
# `mnist train --serve`. Exit 77 (skipped) in the sanitizer build (chromium under the sanitized binary's environment
# is not what is tested there) and when node, npm, chromium or the MNIST files are missing.
# Usage: run_browser_tests.sh MNIST_CLI WORK_DIR plain|sanitized
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
cli=${1:?MNIST_CLI}
work=${2:?WORK_DIR}
mode=${3:-plain}
skip() { echo "serve_browser: skipped: $*"; exit 77; }
[ "$mode" = sanitized ] && skip "sanitizer build"
command -v node >/dev/null || skip "node is not installed (scripts/setup.sh installs nodejs)"
command -v npm >/dev/null || skip "npm is not installed (scripts/setup.sh installs it)"
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || skip "$chromium is missing (scripts/setup.sh installs chromium)"
mnist_dir=${MNIST_SHARED_DIR:-$root/../shared}/data/mnist
[ -f "$mnist_dir/t10k-images-idx3-ubyte.gz" ] || skip "no MNIST files in $mnist_dir"

"$root/scripts/browser_test_deps.sh" "$work"
# Only the MNIST test set exists here: its 10,000 images serve as train and test split of a digit model.
data="$work/mnist"
mkdir -p "$data"
for kind in images-idx3-ubyte labels-idx1-ubyte; do
  ln -sf "$(cd "$mnist_dir" && pwd)/t10k-$kind.gz" "$data/t10k-$kind.gz"
  ln -sf "$(cd "$mnist_dir" && pwd)/t10k-$kind.gz" "$data/train-$kind.gz"
done
"$cli" train --dataset mnist --data-dir "$data" --epochs 3 --lr 0.1 --momentum 0.9 --out "$work/run" --overwrite >/dev/null
NODE_PATH="$work/node_modules" MNIST_CLI="$cli" CHROMIUM="$chromium" MNIST_DATA="$data" WORK="$work" \
  node "$root/tests/serve/browser/serve_page.cjs"
