#!/usr/bin/env python3
"""Why compare_ptq.py times every file in its own process: batch-1 ONNX Runtime latency of the
same files measured three ways in one process, with all sessions open at once:

  block   one session at a time: 50 warm-up runs, then --runs timed, the next session after;
  turns   the sessions take turns one inference each (compare_ptq.py's method until session
          10), pool threads allowed to spin (ONNX Runtime's default);
  nospin  turns, with session.intra_op.allow_spinning = 0.

With two intra-op threads per session on two cores, the idle sessions' spinning threads slow
whichever session runs, and the FP32 file, which uses its pool most, most of all
(docs/benchmarks.md (f), "Padded stems, and latency measured one process per file").

usage: latency_methods.py FILE.onnx [FILE.onnx ...] [--threads 2] [--runs 300] [--rounds 5]
"""
import argparse
import os
import statistics
import time

import numpy as np
import onnxruntime as ort


def sessions(paths, threads, spin):
    out = []
    for p in paths:
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.log_severity_level = 3
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        s = ort.InferenceSession(p, so, providers=["CPUExecutionProvider"])
        i = s.get_inputs()[0]
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        out.append((s, {i.name: np.random.default_rng(1).random(shape, np.float32)}))
    return out


def timed(s, feed):
    t0 = time.perf_counter()
    s.run(None, feed)
    return (time.perf_counter() - t0) * 1e3


def measure(paths, method, threads, runs, rounds):
    ss = sessions(paths, threads, spin=method != "nospin")
    per_round = [[] for _ in paths]
    for _ in range(rounds):
        if method == "block":
            for k, (s, f) in enumerate(ss):
                for _ in range(50):
                    s.run(None, f)
                per_round[k].append(statistics.median(timed(s, f) for _ in range(runs)))
        else:
            times = [[] for _ in paths]
            for _ in range(runs):
                for k, (s, f) in enumerate(ss):
                    times[k].append(timed(s, f))
            for k in range(len(paths)):
                per_round[k].append(statistics.median(times[k]))
    return [statistics.median(r) for r in per_round], per_round


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    for method in ("block", "turns", "nospin"):
        medians, rounds = measure(a.files, method, a.threads, a.runs, a.rounds)
        for path, m, r in zip(a.files, medians, rounds):
            print(f"{method:7s} {m:.4f} ms  (rounds {' '.join(f'{v:.3f}' for v in r)})  {path}")


if __name__ == "__main__":
    main()
