#!/usr/bin/env python3
"""A/B of kernel library builds inside one model: each round times `latency_bench` once per
library folder (the same benchmark binary, `LD_LIBRARY_PATH` pointing at the folder's
libact_kernel.so) and ONNX Runtime on the same file, so every variant and the peer meet the
same machine state. Prints each round, the median of the rounds and the median of the
per-round ratios to ONNX Runtime.

The benchmarks link libact_kernel.so through their RUNPATH, so copying a benchmark binary
does not freeze the code it runs: copy the library of each variant into its own folder
instead (docs/decisions.md, Kernel, "How to A/B a kernel change here").

usage: ab_libraries.py BUILD_DIR MODEL LIB_DIR [LIB_DIR ...] [--threads 2] [--rounds 10]
                       [--runs 40]
"""
import argparse
import os
import statistics
import sys

from compare_ort import act_median_ms, ort_median_ms


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build_dir")
    ap.add_argument("model")
    ap.add_argument("libs", nargs="+", help="folders, each holding one libact_kernel.so")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=40)
    a = ap.parse_args()
    bench = os.path.join(a.build_dir, "bin", "latency_bench")
    if not os.path.isfile(bench):
        sys.exit(f"ab_libraries: {bench} not found; build first")
    for lib in a.libs:
        if not os.path.isfile(os.path.join(lib, "libact_kernel.so")):
            sys.exit(f"ab_libraries: no libact_kernel.so in {lib}")
    times = {lib: [] for lib in a.libs}
    peer = []
    for r in range(a.rounds):
        row = []
        for lib in a.libs:
            env = dict(os.environ, LD_LIBRARY_PATH=os.path.abspath(lib))
            t = act_median_ms(bench, a.model, a.threads, a.runs, env=env)
            times[lib].append(t)
            row.append(f"{lib} {t:.3f}")
        peer.append(ort_median_ms(a.model, a.threads, a.runs))
        row.append(f"ort {peer[-1]:.3f}")
        print(f"round {r + 1}: " + "  ".join(row), flush=True)
    print("median ms:   " + "  ".join(f"{lib} {statistics.median(t):.3f}"
                                      for lib, t in times.items())
          + f"  ort {statistics.median(peer):.3f}")
    print("median ratio to ONNX Runtime per round:   "
          + "  ".join(f"{lib} {statistics.median([x / p for x, p in zip(t, peer)]):.3f}"
                      for lib, t in times.items()))


if __name__ == "__main__":
    main()
