#!/usr/bin/env bash
# The installed package, as a user gets it: `cmake --install` of this build into a temporary prefix, then
#   consumer  an out-of-tree project with find_package(mnist REQUIRED) + target_link_libraries(app mnist::mnist)
#             builds the README's example (examples/readme_example.cpp) and runs it; the same file is compiled
#             with `pkg-config --cflags --libs mnist` and run; the installed CLI runs.
#   headers   every installed public header compiles on its own against the prefix, includes nothing but the
#             standard library and other mnist/ headers (no src/, fmt, nlohmann, cblas, plplot, png, jpeg, curl,
#             zlib, CLI11), the installed set is exactly include/mnist, and <mnist/mnist.hpp> includes all of it.
# Usage: package_test.sh consumer|headers BUILD_DIR SOURCE_DIR CXX
# The example trains on Fashion-MNIST when /usr/share/datasets/fashion-mnist (or $MNIST_FASHION_DIR) holds it,
# else on a small synthetic set written here; MNIST_PACKAGE_EPOCHS (default 10, the README's run: ~5 s) sets its epochs.
set -euo pipefail
mode=$1 build=$2 source=$3 cxx=$4

work=$(mktemp -d "${TMPDIR:-/tmp}/mnist-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log"; fail "cmake --install"; }
libdir=$(dirname "$(find "$prefix" -name 'libmnist.so' -print -quit)")
[ -n "$libdir" ] && [ -d "$libdir" ] || fail "libmnist.so not installed"
for f in include/mnist/mnist.hpp bin/mnist; do [ -e "$prefix/$f" ] || fail "$f not installed"; done
[ -f "$libdir/cmake/mnist/mnistConfig.cmake" ] || fail "mnistConfig.cmake not installed under $libdir/cmake/mnist"
[ -f "$libdir/pkgconfig/mnist.pc" ] || fail "mnist.pc not installed under $libdir/pkgconfig"

case "$mode" in
headers)
  # Same set of headers as the source tree's include/mnist.
  diff <(cd "$source/include/mnist" && ls) <(cd "$prefix/include/mnist" && ls) || fail "installed headers differ"
  check_header() {  # check_header HEADER: prints what is wrong with it, nothing when it is fine
    local header=$1 name bad
    name=mnist/$(basename "$header")
    # Only <standard> headers (no '.' or '/') and mnist/ headers may be included.
    bad=$(grep -E '^[[:space:]]*#[[:space:]]*include' "$header" |
          grep -vE '#[[:space:]]*include[[:space:]]*[<"]mnist/[a-z_]+\.hpp[">]' |
          grep -vE '#[[:space:]]*include[[:space:]]*<[a-z_]+>' || true)
    [ -z "$bad" ] || echo "FAIL: $name includes a non-public header: $bad"
    # Self-contained: compiles alone (twice, for the include guard), the prefix the only non-system directory.
    local tu=$work/$(basename "$header" .hpp).cpp
    printf '#include <%s>\n#include <%s>\nint main() { return 0; }\n' "$name" "$name" >"$tu"
    "$cxx" -std=c++20 -Wall -Wextra -Wpedantic -Wconversion -Werror -fsyntax-only -I"$prefix/include" "$tu" \
      >"$tu.log" 2>&1 || { echo "FAIL: $name does not compile on its own:"; head -20 "$tu.log"; }
    # The umbrella header includes every public header.
    if [ "$name" != mnist/mnist.hpp ] && ! grep -q "#include \"$name\"" "$prefix/include/mnist/mnist.hpp"; then
      echo "FAIL: mnist/mnist.hpp does not include $name"
    fi
  }
  export -f check_header
  export work prefix cxx
  problems=$(printf '%s\n' "$prefix"/include/mnist/*.hpp | xargs -P "$(nproc)" -I{} bash -c 'check_header "$1"' _ {})
  [ -z "$problems" ] || { echo "$problems" >&2; exit 1; }
  echo "OK: $(ls "$prefix"/include/mnist/*.hpp | wc -l) public headers are self-contained and include no private dependency"
  ;;

consumer)
  # The data the example trains on (it reads data/fashion-mnist/ relative to its working directory first, then
  # Debian's /usr/share/datasets/fashion-mnist/).
  run=$work/run
  mkdir -p "$run"
  real=${MNIST_FASHION_DIR:-/usr/share/datasets/fashion-mnist}
  if [ -f "$real/train-images-idx3-ubyte.gz" ] && [ -f "$real/train-labels-idx1-ubyte.gz" ]; then
    mkdir -p "$run/data" && ln -s "$real" "$run/data/fashion-mnist"
    data=real
  else
    # 1,000 synthetic 28x28 images whose class is the row of a bright bar: learnable in one epoch.
    mkdir -p "$run/data/fashion-mnist"
    python3 - "$run/data/fashion-mnist" <<'EOF'
import gzip, struct, sys, random
out = sys.argv[1]; random.seed(0)
def write(name, magic_dims, payload):
    with gzip.open(f"{out}/{name}", "wb") as f:
        f.write(struct.pack(">I", magic_dims[0]) + b"".join(struct.pack(">I", d) for d in magic_dims[1:]) + payload)
for split, n in (("train", 1000), ("t10k", 200)):
    labels = bytes(random.randrange(10) for _ in range(n))
    images = bytearray()
    for y in labels:
        img = bytearray(random.randrange(40) for _ in range(784))
        for c in range(28): img[(2 + 2 * y) * 28 + c] = 255
        images += img
    write(f"{split}-labels-idx1-ubyte.gz", (0x801, n), labels)
    write(f"{split}-images-idx3-ubyte.gz", (0x803, n, 28, 28), bytes(images))
EOF
    data=synthetic
  fi
  epochs=${MNIST_PACKAGE_EPOCHS:-10}
  # A sanitized build (MNIST_SANITIZE) installs a library that needs the sanitizer runtimes: its consumers must be
  # built with the same flags, and one epoch is enough under the sanitizers' slowdown.
  san_flags=()
  if grep -q '^MNIST_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
    san_flags=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
    epochs=${MNIST_PACKAGE_EPOCHS:-1}
  fi

  # 1. CMake: find_package + mnist::mnist. No CMAKE_CXX_STANDARD here: the package must bring C++20 itself.
  mkdir -p "$work/consumer"
  cp "$source/examples/readme_example.cpp" "$work/consumer/main.cpp"
  cat >"$work/consumer/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.20)
project(consumer LANGUAGES CXX)
find_package(mnist 0.1 REQUIRED)
add_executable(app main.cpp)
target_link_libraries(app mnist::mnist)
EOF
  cmake -S "$work/consumer" -B "$work/consumer/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="${san_flags[*]}" >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; fail "consumer configure"; }
  cmake --build "$work/consumer/build" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "consumer build"; }
  out=$(cd "$run" && "$work/consumer/build/app" "$epochs") || fail "consumer (CMake) run: $out"
  echo "cmake consumer ($data data, $epochs epoch(s)): $out"
  acc=$(sed -n 's/^validation accuracy: \([0-9.]*\)$/\1/p' <<<"$out")
  [ -n "$acc" ] || fail "no 'validation accuracy: X' line in: $out"
  # The ReLU model reaches 0.80 after one epoch on Fashion-MNIST and 0.86 after ten (PyTorch: 0.864); the synthetic
  # bars are learnt almost perfectly.
  min=0.7
  [ "$data" = real ] && [ "$epochs" -ge 10 ] && min=0.85
  awk -v a="$acc" -v m="$min" 'BEGIN { exit !(a > m) }' || fail "validation accuracy $acc is not above $min"

  # 2. pkg-config: the same program built from the .pc file alone.
  export PKG_CONFIG_PATH=$libdir/pkgconfig
  flags=$(pkg-config --cflags --libs mnist) || fail "pkg-config --cflags --libs mnist"
  # shellcheck disable=SC2086
  "$cxx" -O2 "${san_flags[@]}" "$source/examples/readme_example.cpp" -o "$work/app-pc" $flags || fail "build with pkg-config flags: $flags"
  # One epoch is enough to show it runs and learns (0.80 on Fashion-MNIST).
  out_pc=$(cd "$run" && LD_LIBRARY_PATH=$libdir "$work/app-pc" 1) || fail "consumer (pkg-config) run: $out_pc"
  echo "pkg-config consumer (1 epoch): $out_pc  (flags: $flags)"
  acc_pc=$(sed -n 's/^validation accuracy: \([0-9.]*\)$/\1/p' <<<"$out_pc")
  awk -v a="${acc_pc:-0}" 'BEGIN { exit !(a > 0.7) }' || fail "pkg-config build: accuracy '${acc_pc}' is not above 0.7"

  # 3. The installed CLI finds the installed library (RPATH $ORIGIN/../lib).
  "$prefix/bin/mnist" --help >/dev/null || fail "installed CLI does not run"
  echo "OK: installed package works from CMake and pkg-config; installed CLI runs"
  ;;
*)
  fail "unknown mode '$mode' (consumer or headers)"
  ;;
esac
