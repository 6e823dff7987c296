#!/usr/bin/env python3
"""Scores models in ONNX Runtime (CPU) on the first N images of the real Fashion-MNIST test
set: top-1 against the labels and agreement of each model's top-1 with the first model's
(the teacher). Prints one JSON line {"MODEL": {"top1": .., "agree": ..}, ...}.
usage: ort_agree.py N TEACHER.onnx [MODEL.onnx ...]"""
import json
import os
import sys

import onnxruntime as ort

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                "scripts"))
import fashion_idx  # noqa: E402


def predict(path, x):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return fashion_idx.predictions(session, x)


def main():
    n = int(sys.argv[1])
    x, y = fashion_idx.split("t10k")
    x, y = x[:n], y[:n]
    reference = predict(sys.argv[2], x)
    out = {}
    for path in sys.argv[2:]:
        pred = predict(path, x)
        out[path] = {"top1": float((pred == y).mean()), "agree": float((pred == reference).mean())}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
