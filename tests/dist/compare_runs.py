#!/usr/bin/env python3
"""Compares two training runs' directories: the largest absolute difference in history.json (every epoch's
train_loss, val_loss, val_accuracy, and the test accuracy) and in model.safetensors (every parameter).
Usage: compare_runs.py RUN_A RUN_B [--bound B] [--identical]
  --bound B     exit 1 when a difference exceeds B
  --identical   exit 1 unless the parameters are the same bytes and the histories the same numbers
Prints: history <max diff> parameters <max diff> (<n> parameters)"""
import json
import os
import struct
import sys
from array import array


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        values = array("f")
        values.frombytes(data[base + begin : base + end])
        tensors[name] = values
    return tensors


def history_numbers(path):
    with open(path) as f:
        h = json.load(f)
    out = []
    for e in h["epochs"]:
        out += [e["train_loss"], e["val_loss"], e["val_accuracy"], e["val_accuracy_exact"]]
    out.append(h["test_accuracy"] if h["test_accuracy"] is not None else float("nan"))
    return out, h


def main():
    args = sys.argv[1:]
    bound = None
    identical = "--identical" in args
    if "--bound" in args:
        bound = float(args[args.index("--bound") + 1])
    a, b = args[0], args[1]
    ha, ja = history_numbers(os.path.join(a, "history.json"))
    hb, jb = history_numbers(os.path.join(b, "history.json"))
    if len(ha) != len(hb):
        print(f"history: {len(ha)} numbers in {a}, {len(hb)} in {b}")
        return 1
    dh = max(abs(x - y) for x, y in zip(ha, hb))
    pa = read_safetensors(os.path.join(a, "model.safetensors"))
    pb = read_safetensors(os.path.join(b, "model.safetensors"))
    if sorted(pa) != sorted(pb):
        print("parameters: different tensors")
        return 1
    dp, count, same_bytes = 0.0, 0, True
    for name in pa:
        same_bytes &= pa[name].tobytes() == pb[name].tobytes()
        count += len(pa[name])
        dp = max([dp] + [abs(x - y) for x, y in zip(pa[name], pb[name])])
    print(f"history {dh:.3g} parameters {dp:.3g} ({count} parameters; world_size {ja.get('world_size')} vs "
          f"{jb.get('world_size')})")
    if identical and not (same_bytes and ha == hb):
        print("not identical")
        return 1
    if bound is not None and max(dh, dp) > bound:
        print(f"a difference exceeds the bound {bound}")
        return 1
    return 0


sys.exit(main())
