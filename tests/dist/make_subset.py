#!/usr/bin/env python3
"""Writes a small Fashion-MNIST data directory for the distributed-training tests: the first TRAIN test-set images
as its train split and the next TEST as its test split (the four IDX files, uncompressed).
Usage: make_subset.py SOURCE_DIR OUT_DIR [TRAIN [TEST]]"""
import gzip
import os
import struct
import sys


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    return shape, data[4 + 4 * dims :]


def write_idx(path, code, shape, payload):
    with open(path, "wb") as f:
        f.write(bytes([0, 0, code, len(shape)]) + struct.pack(">" + "I" * len(shape), *shape) + payload)


def main():
    src, out = sys.argv[1], sys.argv[2]
    n_train = int(sys.argv[3]) if len(sys.argv) > 3 else 3000
    n_test = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    (n, rows, cols), pixels = read_idx(os.path.join(src, "t10k-images-idx3-ubyte.gz"))
    _, labels = read_idx(os.path.join(src, "t10k-labels-idx1-ubyte.gz"))
    assert n_train + n_test <= n
    size = rows * cols
    os.makedirs(out, exist_ok=True)
    for name, begin, count in (("train", 0, n_train), ("t10k", n_train, n_test)):
        write_idx(os.path.join(out, f"{name}-images-idx3-ubyte"), 8, (count, rows, cols),
                  pixels[begin * size : (begin + count) * size])
        write_idx(os.path.join(out, f"{name}-labels-idx1-ubyte"), 8, (count,), labels[begin : begin + count])


main()
