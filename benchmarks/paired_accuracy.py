#!/usr/bin/env python3
"""Are two models' Fashion-MNIST test accuracies really different? A paired comparison.

The accuracy floors of issues 4 and 5 compare models whose top-1 differ by a few hundredths
of a point, that is a few of the 10,000 test images. Both models see the same images, so the
question is answered by the images on which they disagree: b = first model right and second
wrong, c = the reverse. Under "equally accurate" each disagreement goes either way with
probability 1/2, and McNemar's exact test gives the two-sided p-value of the observed split.
The script also prints the 95% interval of the accuracy difference (normal approximation of
the paired difference).

Every model is scored by ONNX Runtime (CPU) on the full test set
(/usr/share/datasets/fashion-mnist, Debian's dataset-fashion-mnist). The first model is the
reference; each other one is compared with it.

usage: paired_accuracy.py REFERENCE.onnx OTHER.onnx [OTHER.onnx ...] [--threads 2]
"""
import argparse
import math
import os
import sys

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import fashion_idx  # noqa: E402


def correct(path, x, y, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3  # no warnings about exporters' unused initializers
    session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return fashion_idx.predictions(session, x) == y


def mcnemar_exact(b, c):
    """Two-sided exact p-value of b successes in b + c fair coin flips."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    # Integer division of Python's exact integers: 2.0**n overflows a float past n = 1023.
    tail = sum(math.comb(n, i) for i in range(k + 1)) / (1 << n)
    return min(1.0, 2.0 * tail)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    if len(a.models) < 2:
        ap.error("give a reference model and at least one other")
    x, y = fashion_idx.split("t10k")
    n = len(y)
    ref = correct(a.models[0], x, y, a.threads)
    print(f"reference {a.models[0]}: top-1 {100 * ref.mean():.2f}% on {n} test images")
    print(f"{'model':60s} {'top-1':>7s} {'diff':>7s} {'b':>4s} {'c':>4s} {'p':>6s}  95% interval")
    for path in a.models[1:]:
        other = correct(path, x, y, a.threads)
        b = int(np.sum(ref & ~other))  # reference right, other wrong
        c = int(np.sum(~ref & other))
        diff = (c - b) / n  # other minus reference
        var = ((b + c) - (b - c) ** 2 / n) / n**2
        half = 1.96 * math.sqrt(max(var, 0.0))
        print(f"{path[-60:]:60s} {100 * other.mean():6.2f}% {100 * diff:+6.2f}p {b:4d} {c:4d} "
              f"{mcnemar_exact(b, c):6.3f}  [{100 * (diff - half):+.2f}, {100 * (diff + half):+.2f}]p")


if __name__ == "__main__":
    main()
