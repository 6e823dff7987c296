#!/usr/bin/env python3
"""Checks models/fashion_cnn.onnx with ONNX Runtime and records its top-1 in fashion_cnn.json.

Runs with the interpreter that has onnxruntime + onnx + numpy (the pyenv python3 here), not
necessarily the one that trained the model. Input is pixels / 255, as the model expects.

Usage: python3 scripts/check_with_ort.py [--model models/fashion_cnn.onnx] [--data DIR]
"""
import argparse
import json
import os

import numpy as np
import onnx
import onnxruntime as ort

import fashion_idx


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(here, "..", "models", "fashion_cnn.onnx"))
    ap.add_argument("--data", default=fashion_idx.DATA)
    args = ap.parse_args()

    onnx.checker.check_model(onnx.load(args.model))
    x, y = fashion_idx.split("t10k", args.data)

    sess = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    logits = np.concatenate([sess.run(["logits"], {"image": x[i:i + 1000]})[0]
                             for i in range(0, len(x), 1000)])
    top1 = float((logits.argmax(1) == y).mean())
    top5 = float((np.argsort(-logits, axis=1)[:, :5] == y[:, None]).any(1).mean())

    json_path = os.path.splitext(args.model)[0] + ".json"
    with open(json_path) as f:
        info = json.load(f)
    info["ort_top1"] = round(top1, 6)
    info["ort_top5"] = round(top5, 6)
    info["ort_version"] = ort.__version__
    with open(json_path + ".tmp", "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    os.replace(json_path + ".tmp", json_path)
    print(f"onnxruntime top-1 {top1:.4f} top-5 {top5:.4f} (torch top-1 {info['torch_top1']:.4f})")
    if abs(top1 - info["torch_top1"]) > 0.0005:
        raise SystemExit("ONNX Runtime and PyTorch disagree on top-1 by more than 0.05 points")


if __name__ == "__main__":
    main()
