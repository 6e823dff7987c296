#!/usr/bin/env python3
"""Post-training int8 quantization: ACT's QuantPost against onnxruntime.quantization's
quantize_static, on real Fashion-MNIST, with the same calibration samples, scored and timed in
ONNX Runtime (CPU).

For each model (default: the bundled models/fashion_cnn.onnx and the ResNet-style and
MobileNetV2-style models of scripts/train_fashion_resnet.py and train_fashion_mobilenet.py):

  (a) FP32 top-1 in ONNX Runtime on the full 10,000-image test set;
  (b) ACT: `act compress` with a QuantPost section (channel_wise_abs_max weights,
      quantize_op_types conv2d, depthwise_conv2d, mul; batch_size 32 x batch_nums 10) once per
      algo (hist, abs_max, avg); ONNX Runtime's top-1 of each int8 file;
  (c) quantize_static (QDQ, per_channel=True) with a CalibrationDataReader over the same
      samples, for each calibration method (MinMax, Percentile, Entropy), activation/weight
      types QUInt8/QInt8 and QInt8/QInt8, reduce_range off and on; ONNX Runtime's top-1 of each;
  (d) latency at batch 1, --threads intra-op threads, of the FP32 file, ACT's int8 file (the
      algo of --latency-algo), quantize_static's most accurate file, and the same settings with
      op_types_to_quantize=[Conv, Gemm] (what ACT quantizes; separates the cost of the graph
      layout from that of calibration), and, when the most accurate file has s8 activations,
      the most accurate one with u8 activations: each file in its own process, --runs
      inferences after 50 warm-up runs, the files in turn, once per round; the median over
      --rounds per-round medians is reported;
  (e) calibration wall time: ACT's calibration passes (`calibration_seconds` in the QuantPost
      report of OUT/report.json; the whole stage, which also plans, writes Q/DQ and validates,
      is printed beside it), quantize_static's wall time around the call, and, as the
      reference, plain forward passes over the same samples in the same batches: ACT's executor
      (`act eval --limit 320 --batch-size 32`, its model time) and ONNX Runtime (session.run
      over the ten batches, session creation excluded).

Calibration samples: the first 320 training images in file order (ACT's QuantPost takes the
first batch_size * batch_nums samples of --data; the reader here takes the same 320).
It also writes, for each int8 file, the op types of ONNX Runtime's optimized graph
(ORT_ENABLE_EXTENDED, where the QDQ fusions happen) so one can see which ops stayed float.

PaddleSlim's quant_post_static runs in its own script, benchmarks/quant/compare_paddleslim.py
(its own virtualenv, x2paddle to read the ONNX files; docs/benchmarks.md (f), "PaddleSlim").

Prints one table per model and writes all numbers to OUT_DIR/results.json.
Runs with the Python that has onnxruntime, onnx and numpy (scripts/python-requirements.txt).

usage: compare_ptq.py BUILD_DIR [--out OUT_DIR] [--models a.onnx b.onnx ...] [--threads 2]
                      [--runs 200] [--rounds 3] [--algos hist abs_max avg]
                      [--ort-methods MinMax Percentile Entropy] [--latency-algo hist]
"""
import argparse
import collections
import contextlib
import io
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime import quantization as oq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import fashion_idx  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = fashion_idx.DATA
TRAIN_IMAGES = os.path.join(DATA, "train-images-idx3-ubyte.gz")
TEST_IMAGES = os.path.join(DATA, "t10k-images-idx3-ubyte.gz")
CALIB_BATCH, CALIB_BATCHES = 32, 10
DEFAULT_MODELS = ["fashion_cnn", "fashion_resnet", "fashion_mobilenet"]


def session(path, threads, level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL, optimized=None):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = level
    so.log_severity_level = 3  # no warnings about initializers the optimizer dropped
    if optimized:
        so.optimized_model_filepath = optimized
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def top1(path, x, y, threads):
    return float((fashion_idx.predictions(session(path, threads), x) == y).mean())


def optimized_ops(path, work, tag):
    """Op-type counts of ONNX Runtime's graph after its QDQ fusions (extended level); the
    optimized graph is kept as WORK/TAG.ort_opt.onnx."""
    out = os.path.join(work, tag + ".ort_opt.onnx")
    session(path, 1, ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, out)
    return dict(sorted(collections.Counter(n.op_type for n in onnx.load(out).graph.node).items()))


class Reader(oq.CalibrationDataReader):
    """The calibration images in batches of `batch` (CALIB_BATCH), under the model's input
    name."""

    def __init__(self, name, images, batch=CALIB_BATCH):
        self.batches = [images[i:i + batch] for i in range(0, len(images), batch)]
        self.name = name
        self.rewind()

    def get_next(self):
        batch = next(self.it, None)
        return None if batch is None else {self.name: batch}

    def rewind(self):
        self.it = iter(self.batches)


def act_quant(build, model, algo, work, threads):
    """Runs `act compress` with one QuantPost algo; returns its output and timings."""
    out_dir = os.path.join(work, f"act_{algo}")
    config = os.path.join(work, f"act_{algo}.yaml")
    with open(config, "w") as f:
        f.write(f"""# written by benchmarks/quant/compare_ptq.py
Global:
  batch_size: {CALIB_BATCH}
QuantPost:
  algo: {algo}
  hist_percent: 0.999
  batch_size: {CALIB_BATCH}
  batch_nums: {CALIB_BATCHES}
  weight_quantize_type: channel_wise_abs_max
  quantize_op_types: [conv2d, depthwise_conv2d, mul]
""")
    cmd = [os.path.join(build, "bin", "act"), "compress", "--config", config, "--model", model,
           "--data", TRAIN_IMAGES, "--eval-data", TEST_IMAGES, "--save-dir", out_dir,
           "--threads", str(threads)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    with open(os.path.join(out_dir, "report.json")) as f:
        report = json.load(f)
    stage = report["stages"][-1]
    plugin = stage["strategies"][0]["report"]
    return {"path": os.path.join(out_dir, "model.onnx"), "stage_s": stage["seconds"],
            # The calibration passes alone (reported since 2026-12-04); older builds: the stage.
            "calib_s": plugin.get("calibration_seconds", stage["seconds"]),
            "process_s": wall, "act_top1": report["final_metric"],
            "report": stage["strategies"][0]["report"]}


def act_forward_s(build, model, threads):
    """ACT's executor over the 320 calibration samples in batches of 32 (model time)."""
    out = subprocess.run([os.path.join(build, "bin", "act"), "eval", model, "--data",
                          TRAIN_IMAGES, "--limit", str(CALIB_BATCH * CALIB_BATCHES),
                          "--batch-size", str(CALIB_BATCH), "--threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout
    m = re.search(r"model time ([0-9.]+) s, ([0-9.]+) s with data loading", out)
    return float(m.group(1)), float(m.group(2))


def ort_forward_s(model, calib, threads):
    s = session(model, threads)
    name = s.get_inputs()[0].name
    s.run(None, {name: calib[:CALIB_BATCH]})  # first run allocates; not counted
    t0 = time.perf_counter()
    for i in range(0, len(calib), CALIB_BATCH):
        s.run(None, {name: calib[i:i + CALIB_BATCH]})
    return time.perf_counter() - t0


def ort_quant(model, calib, work, method, act_type, rr, op_types=None):
    name = f"ort_{method}_{'u8' if act_type == oq.QuantType.QUInt8 else 's8'}s8" + \
        ("_rr" if rr else "") + ("_" + "".join(op_types).lower() if op_types else "")
    out = os.path.join(work, name + ".onnx")
    input_name = onnx.load(model).graph.input[0].name
    reader = Reader(input_name, calib)
    with contextlib.redirect_stdout(io.StringIO()):  # its progress prints
        t0 = time.perf_counter()
        oq.quantize_static(model, out, reader, quant_format=oq.QuantFormat.QDQ,
                           per_channel=True, reduce_range=rr, activation_type=act_type,
                           weight_type=oq.QuantType.QInt8, op_types_to_quantize=op_types,
                           calibrate_method=getattr(oq.CalibrationMethod, method))
        secs = time.perf_counter() - t0
    return name, out, secs


def time_one(path, threads, runs, warmup=50):
    """Prints the median batch-1 latency (ms) of `runs` inferences after `warmup` runs; the
    body of one latency_ms() child process."""
    s = session(path, threads)
    i = s.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in i.shape]  # batch 1
    feed = {i.name: np.random.default_rng(1).random(shape, np.float32)}
    for _ in range(warmup):
        s.run(None, feed)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        s.run(None, feed)
        times.append((time.perf_counter() - t0) * 1e3)
    print(statistics.median(times))


def latency_ms(paths, threads, runs, rounds, warmup=50):
    """Batch-1 medians (ms) per path. Every path runs alone in its own process, once per
    round, the paths in turn: a deployment has one session, and sessions sharing a process
    share its two cores with each other's spinning pool threads. (Until session 10 the
    sessions took turns one inference each in this process; that slowed the FP32 file at two
    threads most, 0.118 -> 0.193 ms for the ResNet-style model, and made int8 look up to 1.3x
    faster than it is: docs/benchmarks.md (f), "Padded stems".)"""
    here = os.path.dirname(os.path.abspath(__file__))
    per_round = [[] for _ in paths]
    for _ in range(rounds):
        for k, p in enumerate(paths):
            code = (f"import sys; sys.path.insert(0, {here!r}); import compare_ptq; "
                    f"compare_ptq.time_one({p!r}, {threads}, {runs}, {warmup})")
            out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                 text=True).stdout
            per_round[k].append(float(out.strip().splitlines()[-1]))
    return [{"median_ms": statistics.median(r), "rounds_ms": r} for r in per_round]


def bench_model(a, model, test_x, test_y, calib):
    stem = os.path.basename(model)[:-5]
    work = os.path.join(a.out, stem)
    os.makedirs(work, exist_ok=True)
    res = {"model": model, "fp32_top1": top1(model, test_x, test_y, a.threads)}
    res["fp32_ops"] = optimized_ops(model, work, "fp32")
    res["forward_act_s"], res["forward_act_with_loading_s"] = act_forward_s(a.build, model,
                                                                            a.threads)
    res["forward_ort_s"] = ort_forward_s(model, calib, a.threads)
    res["act"] = {}
    for algo in a.algos:
        r = act_quant(a.build, model, algo, work, a.threads)
        r["top1"] = top1(r["path"], test_x, test_y, a.threads)
        r["ops"] = optimized_ops(r["path"], work, "act_" + algo)
        res["act"][algo] = r
        print(f"  {stem} ACT {algo}: {r['top1']:.4f} (calibration {r['calib_s']:.2f} s, "
              f"stage {r['stage_s']:.2f} s)", flush=True)
    res["ort"] = {}
    combos = [(t, rr) for t in (oq.QuantType.QUInt8, oq.QuantType.QInt8) for rr in (False, True)]
    for method in a.ort_methods:
        for act_type, rr in combos:
            name, path, secs = ort_quant(model, calib, work, method, act_type, rr)
            r = {"path": path, "seconds": secs, "top1": top1(path, test_x, test_y, a.threads)}
            res["ort"][name] = r
            print(f"  {stem} {name}: {r['top1']:.4f} ({secs:.2f} s)", flush=True)
    best_ort = max(res["ort"], key=lambda k: (res["ort"][k]["top1"], -len(k)))
    res["ort"][best_ort]["ops"] = optimized_ops(res["ort"][best_ort]["path"], work, best_ort)
    # The same quantize_static settings restricted to the ops ACT quantizes (Conv, Gemm):
    # separates what the graph layout costs from what calibration costs.
    best = res["ort"][best_ort]
    method, types = best_ort.split("_")[1:3]
    name, path, secs = ort_quant(model, calib, work, method,
                                 oq.QuantType.QUInt8 if types == "u8s8" else oq.QuantType.QInt8,
                                 best_ort.endswith("_rr"), ["Conv", "Gemm"])
    res["ort_same_ops"] = {"name": name, "path": path, "seconds": secs,
                           "top1": top1(path, test_x, test_y, a.threads),
                           "ops": optimized_ops(path, work, name)}
    # The most accurate file with u8 activations, when the most accurate one has s8: ONNX
    # Runtime fuses s8 tensors that feed an Add differently (see docs/benchmarks.md (f)).
    paths = {"fp32": model, "act_" + a.latency_algo: res["act"][a.latency_algo]["path"],
             best_ort: best["path"], name: path}
    if types != "u8s8":
        best_u8 = max((k for k in res["ort"] if "_u8s8" in k),
                      key=lambda k: (res["ort"][k]["top1"], -len(k)))
        res["ort"][best_u8]["ops"] = optimized_ops(res["ort"][best_u8]["path"], work, best_u8)
        paths[best_u8] = res["ort"][best_u8]["path"]
        res["best_ort_u8"] = best_u8
    lat = latency_ms(list(paths.values()), a.threads, a.runs, a.rounds)
    res["latency"] = dict(zip(paths, lat))
    res["best_ort"] = best_ort
    return res


def print_table(stem, res, latency_algo):
    fp = res["fp32_top1"]
    fwd_act, fwd_ort = res["forward_act_s"], res["forward_ort_s"]
    print(f"\n== {stem}: FP32 top-1 {100 * fp:.2f}% (ONNX Runtime, 10,000 test images)")
    print(f"plain forward over the 320 calibration samples: ACT {fwd_act:.3f} s, "
          f"ONNX Runtime {fwd_ort:.3f} s")
    print(f"{'method':<30}{'top-1 %':>9}{'drop':>7}{'calib s':>9}{'/ fwd':>8}")
    for algo, r in res["act"].items():
        print(f"{'ACT ' + algo:<30}{100 * r['top1']:>9.2f}{100 * (fp - r['top1']):>7.2f}"
              f"{r['calib_s']:>9.2f}{r['calib_s'] / fwd_act:>8.2f}")
    for name, r in res["ort"].items():
        print(f"{name:<30}{100 * r['top1']:>9.2f}{100 * (fp - r['top1']):>7.2f}"
              f"{r['seconds']:>9.2f}{r['seconds'] / fwd_ort:>8.2f}")
    lat = res["latency"]
    base = lat["fp32"]["median_ms"]
    print("batch-1 latency (median ms; FP32 / int8 = speed-up):")
    for k, v in lat.items():
        rounds = ", ".join(f"{m:.3f}" for m in v["rounds_ms"])
        print(f"  {k:<30}{v['median_ms']:>8.3f}  x{base / v['median_ms']:.2f}  (rounds: {rounds})")
    print("ops after ONNX Runtime's optimizations:")
    print(f"  ACT {latency_algo}: {res['act'][latency_algo]['ops']}")
    print(f"  {res['best_ort']}: {res['ort'][res['best_ort']]['ops']}")
    r = res["ort_same_ops"]
    print(f"  {r['name']} (top-1 {100 * r['top1']:.2f}%, {r['seconds']:.2f} s): {r['ops']}")
    if "best_ort_u8" in res:
        print(f"  {res['best_ort_u8']}: {res['ort'][res['best_ort_u8']]['ops']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build")
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "compare_ptq"))
    ap.add_argument("--models", nargs="+",
                    default=[os.path.join(ROOT, "models", m + ".onnx") for m in DEFAULT_MODELS])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--algos", nargs="+", default=["hist", "abs_max", "avg"])
    ap.add_argument("--ort-methods", nargs="+", default=["MinMax", "Percentile", "Entropy"])
    ap.add_argument("--latency-algo", default="hist")
    a = ap.parse_args()
    logging.getLogger().setLevel(logging.ERROR)  # quantize_static's pre-processing advice
    a.build = os.path.abspath(a.build)
    a.out = os.path.abspath(a.out)
    os.makedirs(a.out, exist_ok=True)

    test_x, test_y = fashion_idx.split("t10k")
    calib = fashion_idx.images(TRAIN_IMAGES)[:CALIB_BATCH * CALIB_BATCHES]
    print(f"onnxruntime {ort.__version__}, threads={a.threads}, runs={a.runs}, "
          f"rounds={a.rounds}, calibration: first {len(calib)} training images")
    results = {"onnxruntime": ort.__version__, "threads": a.threads, "models": {}}
    for model in a.models:
        stem = os.path.basename(model)[:-5]
        results["models"][stem] = bench_model(a, os.path.abspath(model), test_x, test_y, calib)
        print_table(stem, results["models"][stem], a.latency_algo)
        with open(os.path.join(a.out, "results.json"), "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
