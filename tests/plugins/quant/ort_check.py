#!/usr/bin/env python3
"""Runs a model in ONNX Runtime (CPU, extended graph optimizations) on the real Fashion-MNIST
test set and prints one JSON line: top-1 accuracy and the op types of ONNX Runtime's
optimized graph (so a test can check that every quantized Conv/Gemm became an integer kernel).
usage: ort_check.py MODEL.onnx OPTIMIZED_OUT.onnx"""
import collections
import json
import os
import sys

import onnx
import onnxruntime as ort

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                "scripts"))
import fashion_idx  # noqa: E402


def main():
    model, optimized = sys.argv[1], sys.argv[2]
    x, y = fashion_idx.split("t10k")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = optimized
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    pred = fashion_idx.predictions(session, x)
    ops = collections.Counter(n.op_type for n in onnx.load(optimized).graph.node)
    print(json.dumps({"top1": float((pred == y).mean()), "ops": ops}))


if __name__ == "__main__":
    main()
