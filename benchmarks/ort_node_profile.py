#!/usr/bin/env python3
"""ONNX Runtime's own per-node times for one model at batch 1: the median over --runs
inferences of each node's kernel time from SessionOptions.enable_profiling (after the graph
optimizations, so the nodes are the fused ones ONNX Runtime runs), in graph order, and their
sum. The profiler adds a little to every node, so compare rows with rows, not with a
latency benchmark's totals.

usage: ort_node_profile.py MODEL.onnx [--threads 1] [--runs 30]
"""
import argparse
import collections
import json
import os
import statistics

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=30)
    a = ap.parse_args()
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.enable_profiling = True
    so.log_severity_level = 3
    s = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    i = s.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in i.shape]
    feed = {i.name: np.random.default_rng(1).random(shape, np.float32)}
    for _ in range(a.runs):
        s.run(None, feed)
    trace = s.end_profiling()
    with open(trace) as f:
        events = json.load(f)
    os.remove(trace)
    times = collections.defaultdict(list)  # node -> [us], insertion (graph) order
    ops = {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            node = e["name"][: -len("_kernel_time")]
            times[node].append(e["dur"])
            ops[node] = e["args"].get("op_name", "")
    total = 0.0
    for node, t in times.items():
        ms = statistics.median(t) / 1000.0
        total += ms
        print(f"{node:60s} {ops[node]:26s} {ms:.3f} ms")
    print(f"{'sum of the nodes':60s} {'':26s} {total:.3f} ms")


if __name__ == "__main__":
    main()
