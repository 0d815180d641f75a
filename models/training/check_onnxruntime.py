#!/usr/bin/env python3
"""Optional: scores each model's parity-sample.csv with the real ONNX Runtime for Python.

Not needed to train (Debian packages no onnxruntime); use it with any Python that has
`onnxruntime` and `numpy` installed:

    python3 models/training/check_onnxruntime.py models/artifacts/gbdt models/artifacts/mlp

Exits non-zero when any probability differs from scikit-learn's by more than --tolerance.
"""
import argparse
import csv
import json
import os
import sys

import numpy as np
import onnxruntime as ort


def check_folder(folder):
    with open(os.path.join(folder, "descriptor.json")) as f:
        desc = json.load(f)
    with open(os.path.join(folder, "parity-sample.csv"), newline="") as f:
        rows = list(csv.reader(f))
    x = np.array([[float(v) for v in r[:-1]] for r in rows[1:]], dtype=np.float64).astype(np.float32)
    expected = np.array([float(r[-1]) for r in rows[1:]])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(os.path.join(folder, desc["model_file"]), opts,
                                   providers=["CPUExecutionProvider"])
    [out] = session.run([desc["output_name"]], {desc["input_name"]: x})
    if out.shape != (len(x), 1) or out.dtype != np.float32:
        raise ValueError(f"{folder}: output {out.dtype}{out.shape}, expected float32{(len(x), 1)}")
    # Batch of one must give the same numbers as the whole batch.
    single = np.array([session.run(None, {desc["input_name"]: x[i:i + 1]})[0][0, 0]
                       for i in range(len(x))])
    return float(np.max(np.abs(out[:, 0] - expected))), float(np.max(np.abs(single - out[:, 0])))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--tolerance", type=float, default=1e-5)
    args = ap.parse_args()
    ok = True
    for folder in args.folders:
        diff, batch_diff = check_folder(folder)
        ok &= diff <= args.tolerance
        print(f"{folder}: onnxruntime {ort.__version__}, max |ort - sklearn| = {diff:.3g}, "
              f"max |batch - single row| = {batch_diff:.3g} "
              f"({'ok' if diff <= args.tolerance else 'FAIL'})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
