#!/usr/bin/env python3
"""Quantization-aware training against the float model and against ACT's post-training
quantization, all scored by ONNX Runtime (CPU) on the full 10,000-image Fashion-MNIST test set.

For each model (default: models/fashion_cnn.onnx, fashion_resnet.onnx, fashion_mobilenet.onnx):
  (a) FP32 top-1;
  (b) PTQ: `act compress --config configs/<model>_quant_post.yaml` (QuantPost, hist on 320
      training images), the int8 file's top-1;
  (c) QAT: `act compress --config configs/<model>_qat.yaml` (QuantAware, a short fine-tune on
      the training set: train_iter steps of batch 32), the int8 file's top-1, next to ACT's own
      scores of the same weights (the fake-quant training graph at its last evaluation, and
      ACT's executor on the exported file) and the wall time of the act process;
  plus the op types ONNX Runtime's optimized graph keeps (ORT_ENABLE_EXTENDED), so one sees
  that the QAT file runs in integer kernels end to end.
Prints one line per model and writes every number to OUT_DIR/results.json.

usage: compare_qat.py BUILD_DIR [--out OUT_DIR] [--models fashion_cnn ...] [--threads 2]
                      [--train-iter N]   (overrides the configs' TrainConfig.train_iter)
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import fashion_idx  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_ptq import session, top1  # noqa: E402  (ONNX Runtime sessions and scoring)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_MODELS = ["fashion_cnn", "fashion_resnet", "fashion_mobilenet"]
# The bundled CNN's PTQ config predates the per-model names.
PTQ_CONFIG = {"fashion_cnn": "fashion_quant_post.yaml"}


def ort_ops(path, out):
    session(path, 1, ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, out)
    return dict(sorted(collections.Counter(n.op_type for n in onnx.load(out).graph.node).items()))


def act_compress(build, config, out_dir, threads, train_iter=None):
    if train_iter is not None:  # a copy of the config with another budget, next to the original
        with open(config) as f:
            text = f.read()
        lines = [f"  train_iter: {train_iter}" if line.startswith("  train_iter:") else line
                 for line in text.splitlines()]
        patched = os.path.join(os.path.dirname(config), "." + os.path.basename(config))
        with open(patched, "w") as f:
            f.write("\n".join(lines) + "\n")
        config = patched
    cmd = [os.path.join(build, "bin", "act"), "compress", "--config", config, "--save-dir",
           out_dir, "--threads", str(threads)]
    t0 = time.perf_counter()
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True)
    finally:
        if train_iter is not None:
            os.remove(config)
    wall = time.perf_counter() - t0
    with open(os.path.join(out_dir, "report.json")) as f:
        report = json.load(f)
    return {"path": os.path.join(out_dir, "model.onnx"), "process_s": round(wall, 1),
            "act_top1": report["final_metric"],
            "act_simulated_top1": report["stages"][-1].get("best_metric"),
            "steps": report["stages"][-1].get("steps")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "compare_qat"))
    ap.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-iter", type=int)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    x, y = fashion_idx.split("t10k")
    results = {}
    print(f"{'model':18} {'FP32':>7} {'PTQ':>7} {'QAT':>7} {'QAT-FP32':>9} "
          f"{'QAT sim':>8} {'QAT act':>8} {'QAT s':>6}")
    for name in args.models:
        model = os.path.join(ROOT, "models", name + ".onnx")
        work = os.path.join(args.out, name)
        os.makedirs(work, exist_ok=True)
        r = {"fp32": top1(model, x, y, args.threads)}
        ptq = act_compress(args.build, os.path.join(ROOT, "configs",
                                                    PTQ_CONFIG.get(name, name + "_quant_post.yaml")),
                           os.path.join(work, "ptq"), args.threads)
        ptq["ort_top1"] = top1(ptq["path"], x, y, args.threads)
        qat = act_compress(args.build, os.path.join(ROOT, "configs", name + "_qat.yaml"),
                           os.path.join(work, "qat"), args.threads, args.train_iter)
        qat["ort_top1"] = top1(qat["path"], x, y, args.threads)
        qat["ort_ops"] = ort_ops(qat["path"], os.path.join(work, "qat.ort_opt.onnx"))
        r["ptq"], r["qat"] = ptq, qat
        results[name] = r
        print(f"{name:18} {r['fp32']:7.4f} {ptq['ort_top1']:7.4f} {qat['ort_top1']:7.4f} "
              f"{100 * (qat['ort_top1'] - r['fp32']):+8.2f}p {qat['act_simulated_top1']:8.4f} "
              f"{qat['act_top1']:8.4f} {qat['process_s']:6.0f}", flush=True)
        print(f"{'':18} QAT file in ONNX Runtime: {qat['ort_ops']}", flush=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
