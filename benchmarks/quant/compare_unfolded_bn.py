#!/usr/bin/env python3
"""int8 speed in ONNX Runtime of models exported with BatchNormalization left as separate
nodes: ACT's QuantPost against onnxruntime.quantization's quantize_static, with and without
its quant_pre_process step (which folds BatchNorm through ONNX Runtime's optimizer).

Models: benchmarks/make_models.py's ResNet-18 and MobileNetV2 at 224x224 (seeded random
weights, BatchNorm unfolded), written to --models when missing. Their weights are random, so
this measures speed and graph layout only, not accuracy; calibration is --calib random images
for everyone (ACT: QuantPost abs_max, batch 1; quantize_static: MinMax, QDQ, per-channel,
u8 activations, s8 weights).

Per model it prints the op types ONNX Runtime's optimized graph keeps (ORT_ENABLE_EXTENDED)
for each int8 file, and batch-1 latency: every file alone in its own process, --runs
inferences after 5 warm-up runs, the files in turn for --rounds rounds (compare_ptq.py's
latency_ms); the median of the per-round medians and the speed-up over FP32.

usage: compare_unfolded_bn.py BUILD_DIR [--models DIR] [--out DIR] [--threads 2]
                              [--runs 30] [--rounds 3] [--calib 8]
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
from onnxruntime import quantization as oq
from onnxruntime.quantization.shape_inference import quant_pre_process

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from compare_ptq import Reader, latency_ms, optimized_ops  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("--models", default="/tmp/act_models")
    ap.add_argument("--out", default="/tmp/act_unfolded_bn")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calib", type=int, default=8)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if not all(os.path.exists(os.path.join(a.models, m + ".onnx")) for m in ("resnet18", "mobilenetv2")):
        subprocess.run([sys.executable, os.path.join(HERE, "..", "make_models.py"), a.models],
                       check=True)
    images = np.random.default_rng(0).random((a.calib, 3, 224, 224), np.float32)
    calib = os.path.join(a.out, "calib.npy")
    np.save(calib, images)
    config = os.path.join(a.out, "quant_post.yaml")
    with open(config, "w") as f:
        f.write(f"QuantPost:\n  batch_size: 1\n  batch_nums: {a.calib}\n  algo: abs_max\n")
    for name in ("resnet18", "mobilenetv2"):
        fp32 = os.path.join(a.models, name + ".onnx")
        work = os.path.join(a.out, name)
        os.makedirs(work, exist_ok=True)
        subprocess.run([os.path.join(a.build, "bin", "act"), "compress", "-c", config, "-m", fp32,
                        "-d", calib, "-o", os.path.join(work, "act"), "-t", str(a.threads)],
                       check=True, capture_output=True)
        files = {"fp32": fp32, "act": os.path.join(work, "act", "model.onnx")}
        input_name = onnx.load(fp32).graph.input[0].name
        pre = os.path.join(work, "pre.onnx")
        quant_pre_process(fp32, pre)
        for tag, source in (("quantize_static", fp32), ("quantize_static_preprocessed", pre)):
            files[tag] = os.path.join(work, tag + ".onnx")
            oq.quantize_static(source, files[tag], Reader(input_name, images, batch=1),
                               quant_format=oq.QuantFormat.QDQ, per_channel=True,
                               activation_type=oq.QuantType.QUInt8,
                               weight_type=oq.QuantType.QInt8)
        lat = dict(zip(files, latency_ms(list(files.values()), a.threads, a.runs, a.rounds, 5)))
        print(f"== {name} at 224x224, batch 1, {a.threads} threads (median ms; FP32 / int8)")
        for tag, r in lat.items():
            rounds = ", ".join(f"{v:.2f}" for v in r["rounds_ms"])
            print(f"  {tag:30s} {r['median_ms']:7.2f}  x{lat['fp32']['median_ms'] / r['median_ms']:.2f}"
                  f"  (rounds: {rounds})")
        for tag in files:
            if tag != "fp32":
                print(f"  {tag}: {optimized_ops(files[tag], work, tag)}")


if __name__ == "__main__":
    main()
