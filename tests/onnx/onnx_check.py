#!/usr/bin/python3
"""Checks an exported ONNX file with tools no one here wrote: Python's onnx.checker (Debian python3-onnx, with
full_check: shape inference too), OpenCV's dnn module (Debian python3-opencv) and the outputs of onnxruntime
(written by run_onnxruntime.js), against `mnist predict --json` on the same images.

  onnx_check.py data SRC_DIR DEST_DIR N_TRAIN N_TEST BATCH.f32
      A small data directory (the first N_TRAIN training images, the first N_TEST test images, uncompressed IDX)
      from SRC_DIR's gzip'd Fashion-MNIST files, and the test images as one float32 batch [N_TEST, 1, 28, 28],
      pixels / 255 (the graph's input).
  onnx_check.py check KIND MODEL.onnx PREDICT.json BATCH.f32 ORT_PREFIX
      Checks the file, runs it in OpenCV, and compares both runtimes' probabilities with predict's: within 1e-5 and
      the same predicted class for every image. Prints one line of figures per runtime; exits 1 on any mismatch.
"""
import gzip
import json
import os
import struct
import sys

import numpy as np

TOLERANCE = 1e-5

# Graphs OpenCV 4.6's dnn cannot run, by model kind, with the operator and the reason (printed instead of failing).
OPENCV_LIMITS = {}


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write_idx(path, array):
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 0x08, array.ndim]))
        f.write(struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def make_data(src, dest, n_train, n_test, batch_file):
    os.makedirs(dest, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = read_idx(os.path.join(src, split + "-images-idx3-ubyte.gz"))[:n]
        labels = read_idx(os.path.join(src, split + "-labels-idx1-ubyte.gz"))[:n]
        write_idx(os.path.join(dest, split + "-images-idx3-ubyte"), images)
        write_idx(os.path.join(dest, split + "-labels-idx1-ubyte"), labels)
        if split == "t10k":
            # float32 division, as mnist computes it: static_cast<float>(v) / 255.0f.
            batch = images.astype(np.float32) / np.float32(255)
            batch.reshape(n, 1, images.shape[1], images.shape[2]).tofile(batch_file)


def compare(name, probs, expected, expected_labels):
    """Max |difference| and the count of agreeing labels; prints the line of figures."""
    if probs.shape != expected.shape:
        print(f"FAIL {name}: probabilities of shape {probs.shape}, expected {expected.shape}")
        return False
    diff = float(np.max(np.abs(probs.astype(np.float64) - expected)))
    labels = np.argmax(probs, axis=1)
    same = int(np.sum(labels == expected_labels))
    ok = diff <= TOLERANCE and same == len(expected_labels)
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {len(expected_labels)} images, max |probability difference| "
          f"{diff:.3g} (tolerance {TOLERANCE:g}), same predicted class for {same}/{len(expected_labels)}")
    return ok


def check(kind, model_path, predict_json, batch_file, ort_prefix):
    import onnx

    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)  # raises on an invalid graph
    meta = {p.key: p.value for p in model.metadata_props}
    ok = True
    for key in ("spec", "dataset", "classes", "input_shape", "pixel_scaling"):
        if key not in meta:
            print(f"FAIL onnx: metadata_props has no {key!r}")
            ok = False
    opset = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    print(f"ok   onnx {onnx.__version__} checker (full_check): opset {opset[0]}, spec {meta.get('spec')!r}, "
          f"dataset {meta.get('dataset')!r}, {len(json.loads(meta.get('classes', '[]')))} class names")

    with open(predict_json) as f:
        predictions = json.load(f)
    expected = np.array([p["probabilities"] for p in predictions], dtype=np.float64)
    expected_labels = np.array([p["predicted"] for p in predictions])
    n, classes = expected.shape
    shape = json.loads(meta["input_shape"])  # [1, H, W]
    batch = np.fromfile(batch_file, dtype=np.float32).reshape(n, 1, shape[1], shape[2])
    if n < 1000:
        print(f"FAIL: only {n} images compared; at least 1000 are needed")
        ok = False

    ort_probs = np.fromfile(ort_prefix + ".probabilities.f32", dtype=np.float32)
    ok &= compare("onnxruntime", ort_probs.reshape(-1, classes), expected, expected_labels)

    import cv2

    if kind in OPENCV_LIMITS:
        print(f"skip OpenCV {cv2.__version__} dnn: {OPENCV_LIMITS[kind]}")
    else:
        try:
            net = cv2.dnn.readNetFromONNX(model_path)
            net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
            net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
            net.setInput(batch, "input")
            logits, probs = net.forward(["logits", "probabilities"])
        except cv2.error as e:
            print(f"FAIL OpenCV {cv2.__version__} dnn cannot run the graph: {str(e).strip().splitlines()[-1]}")
            return False
        ok &= compare(f"OpenCV {cv2.__version__} dnn", probs, expected, expected_labels)
    return ok


def main(argv):
    if len(argv) >= 2 and argv[1] == "data" and len(argv) == 7:
        make_data(argv[2], argv[3], int(argv[4]), int(argv[5]), argv[6])
        return 0
    if len(argv) >= 2 and argv[1] == "check" and len(argv) == 7:
        return 0 if check(*argv[2:7]) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
