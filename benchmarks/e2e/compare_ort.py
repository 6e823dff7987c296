#!/usr/bin/env python3
"""End-to-end FP32 latency: ACT's executor against ONNX Runtime on the same files, same thread
count, same run, batch 1. Prints one row per model and the ratio ACT/ORT (below 1.0: ACT is
faster). Alternates the two runtimes over several rounds so machine noise hits both.

usage: compare_ort.py BUILD_DIR [--threads 2] [--runs 50] [--rounds 3] [--models DIR]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))


def ort_median_ms(path, threads, runs, warmup=10):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    feeds = {}
    rng = np.random.default_rng(1)
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        feeds[i.name] = rng.random(shape, dtype=np.float32)
    for _ in range(warmup):
        sess.run(None, feeds)
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        ms.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(ms))


def act_median_ms(bench, path, threads, runs, env=None):
    """latency_bench's median; env (e.g. an LD_LIBRARY_PATH) for the process, default ours."""
    out = subprocess.run([bench, path, "--threads", str(threads), "--runs", str(runs)],
                         check=True, capture_output=True, text=True, env=env).stdout
    return float(re.search(r"median_ms=([0-9.]+)", out).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", default=None, help="folder of .onnx files (default: generate)")
    a = ap.parse_args()
    bench = os.path.join(a.build_dir, "bin", "latency_bench")
    models_dir = a.models or tempfile.mkdtemp(prefix="act-bench-")
    if a.models is None:
        subprocess.run([sys.executable, os.path.join(HERE, "..", "make_models.py"), models_dir],
                       check=True, capture_output=True)
    print(f"onnxruntime {ort.__version__}, threads={a.threads}, runs={a.runs}, rounds={a.rounds}")
    print(f"{'model':<16}{'ACT ms':>10}{'ORT ms':>10}{'ACT/ORT':>10}")
    for name in sorted(f for f in os.listdir(models_dir) if f.endswith(".onnx")):
        path = os.path.join(models_dir, name)
        act_ms, ort_ms = [], []
        for _ in range(a.rounds):
            act_ms.append(act_median_ms(bench, path, a.threads, a.runs))
            ort_ms.append(ort_median_ms(path, a.threads, a.runs))
        am, om = min(act_ms), min(ort_ms)
        print(f"{name[:-5]:<16}{am:>10.3f}{om:>10.3f}{am / om:>10.3f}")


if __name__ == "__main__":
    main()
