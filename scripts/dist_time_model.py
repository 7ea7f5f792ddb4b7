#!/usr/bin/env python3
"""The time model of docs/distributed.md: seconds per epoch of data-parallel training on N hosts, per model.
Per step (global batch B = 128, split across the N hosts):
  compute   = (B / N) * 3 * forward multiply-adds per image / R          (backward ~ 2x forward)
  allreduce = 2 (N-1)/N * 4 * parameters / bandwidth + 2 (N-1) * latency  (ring: 2(N-1) hops)
No overlap: this engine allreduces after the backward pass. An epoch is ceil(54,000 / B) steps.
Usage: dist_time_model.py [R multiply-adds per second per host, default 25e9 (measured: one core of this machine)]"""
import math
import sys

R = float(sys.argv[1]) if len(sys.argv) > 1 else 25e9
B, TRAIN = 128, 54000
STEPS = math.ceil(TRAIN / B)
MODELS = [  # name, parameters, forward multiply-adds per image
    ("logistic", 7_850, 7_840),
    ("hidden-relu", 25_450, 25_408),
    ("784-256-relu-128-relu-10", 235_146, 234_752),
    ("lenet5", 61_706, 416_520),
    ("cnn", 421_642, 4_241_152),
    ("cnn-bn", 421_834, 4_278_784),
]
NETWORKS = [("10 Gbit/s", 10e9 / 8, 20e-6), ("100 Gbit/s", 100e9 / 8, 5e-6)]  # bytes/s, latency per hop
NS = [1, 2, 4, 8, 16, 32, 64]


def step(n, params, macs, bandwidth, latency):
    compute = (B / n) * 3 * macs / R
    comm = 0.0 if n == 1 else 2 * (n - 1) / n * 4 * params / bandwidth + 2 * (n - 1) * latency
    return compute, comm


for net, bandwidth, latency in NETWORKS:
    print(f"\n{net}, latency {latency * 1e6:.0f} us per hop, R = {R:.3g} MAC/s per host: seconds per epoch "
          f"({STEPS} steps of {B}) at N hosts; communication share in brackets")
    print("| model | " + " | ".join(f"N={n}" for n in NS) + " | comm > compute from |")
    print("|---|" + "---:|" * len(NS) + "---:|")
    for name, params, macs in MODELS:
        cells, first = [], None
        for n in NS:
            c, a = step(n, params, macs, bandwidth, latency)
            cells.append(f"{STEPS * (c + a):.2f} ({100 * a / (c + a):.0f}%)")
        for n in range(2, 4097):
            c, a = step(n, params, macs, bandwidth, latency)
            if a > c:
                first = n
                break
        print(f"| {name} | " + " | ".join(cells) + f" | N={first} |")
