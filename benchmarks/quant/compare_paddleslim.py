#!/usr/bin/env python3
"""PaddleSlim's post-training quantization (paddleslim.quant.quant_post_static) on ACT's three
Fashion-MNIST models, with the calibration samples and settings of ACT's QuantPost runs in
benchmarks/quant/compare_ptq.py, scored in ONNX Runtime (CPU) on the full 10,000-image test set
(issue 4: "PaddleSlim where it installs"; docs/benchmarks.md (f) has ACT and quantize_static).

PaddleSlim reads Paddle models only, so each ONNX model goes through x2paddle first:

  1. `x2paddle --framework onnx --model M.onnx --save_dir OUT/M/x2paddle` (PIR mode, Paddle's
     default since 3.0). Its inference model (model.json, PIR) is scored in Paddle.
  2. PaddleSlim 2.6's quant_post_static drives Paddle's legacy-IR PostTrainingQuantization
     (ProgramDesc, .pdmodel); it cannot read a PIR model.json. The x2paddle Python code is
     therefore re-exported with FLAGS_enable_pir_api=0 (paddle.jit.save -> .pdmodel). In
     Paddle 3.3.1's legacy mode paddle.matmul fails ("argument (position 1) must be Value, but
     got Variable"), so the one Gemm (x2paddle: paddle.matmul(x, W[10,K], transpose_y=True))
     is rewritten as paddle.nn.functional.linear(x, W.T[K,10]) -- Paddle's own Linear layout,
     a matmul_v2 op without transpose whose weight axis 1 is the output channel (what
     channel_wise_abs_max quantizes for matmul_v2). The re-export is scored in Paddle and, via
     paddle2onnx, in ONNX Runtime; both must equal ONNX Runtime's top-1 of the original.
  3. For each algo: quant_post_static(batch_size=32, batch_nums=10 over the first 320 training
     images in file order, weight_quantize_type='channel_wise_abs_max',
     activation_quantize_type='range_abs_max' (its default), quantizable_op_type=[conv2d,
     depthwise_conv2d, mul, matmul, matmul_v2], hist_percent=0.999 (hist only),
     onnx_format=True, fresh scope), timed around the call (load, calibration passes,
     rewriting and saving the model). The int8 model is scored in Paddle (fake-quant) and,
     after `paddle2onnx --deploy_backend onnxruntime --opset_version 13`, in ONNX Runtime; the
     op types of ONNX Runtime's optimized graph (ORT_ENABLE_EXTENDED, where the QDQ fusions
     happen) show which ops run in integer kernels.

Versions (paddle2onnx 2.x aborts on these quantized models: "Only support e4m3 or e5m2 now";
1.3.1 exports them; paddleslim 2.6.0 imports six, requests and decorator without declaring
them; its opencv-python 4.6 pin needs numpy < 2):
  paddlepaddle==3.3.1 paddleslim==2.6.0 x2paddle==1.6.0 paddle2onnx==1.3.1 onnx==1.17.0
  onnxruntime==1.32.0 numpy<2 six requests decorator

Run with the system python3: it creates the virtualenv VENV (default /tmp/paddle_venv, or
$PADDLE_VENV) with those pins if it lacks paddleslim, then re-runs itself with VENV's python,
at nice 10, one thread (OMP/MKL/OpenBLAS = 1, Paddle's math-library threads = 1, ONNX Runtime
intra-op 1). Or run it with VENV/bin/python directly.

usage: python3 benchmarks/quant/compare_paddleslim.py [--out OUT_DIR]
           [--models models/fashion_cnn.onnx ...] [--algos hist abs_max avg KL mse]
           [--venv /tmp/paddle_venv]

Writes OUT_DIR/results.json (default out/compare_paddleslim), keeps every intermediate model
under OUT_DIR/<model>/, and prints one table per model.
"""
import argparse
import collections
import contextlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SCRIPTS = os.path.join(ROOT, "scripts")
DEFAULT_VENV = os.environ.get("PADDLE_VENV", "/tmp/paddle_venv")
PINS = ["paddlepaddle==3.3.1", "paddleslim==2.6.0", "x2paddle==1.6.0", "paddle2onnx==1.3.1",
        "onnx==1.17.0", "onnxruntime==1.32.0", "numpy<2", "six", "requests", "decorator"]
DEFAULT_MODELS = [os.path.join(ROOT, "models", f"fashion_{m}.onnx")
                  for m in ("cnn", "resnet", "mobilenet")]
DEFAULT_ALGOS = ["hist", "abs_max", "avg", "KL", "mse"]
CALIB_BATCH, CALIB_BATCHES = 32, 10
HIST_PERCENT = 0.999
QUANT_OPS = ["conv2d", "depthwise_conv2d", "mul", "matmul", "matmul_v2"]
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "CPU_NUM": "1"}


# ---------------------------------------------------------------- venv bootstrap (system python)

def venv_python(venv):
    return os.path.join(venv, "bin", "python")


def in_venv(venv):
    return os.path.realpath(sys.prefix) == os.path.realpath(venv)


def ensure_venv_and_reexec(venv):
    """Creates VENV with PINS when it cannot import paddleslim, then execs this script in it."""
    py = venv_python(venv)
    ok = os.path.exists(py) and subprocess.run(
        [py, "-c", "import paddle, paddleslim, x2paddle, paddle2onnx, onnxruntime"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(os.environ, **ONE_THREAD)).returncode == 0
    if not ok:
        t = time.time()
        if not os.path.exists(py):
            subprocess.check_call([sys.executable, "-m", "venv", venv])
        subprocess.check_call([py, "-m", "pip", "install", "-q", "--upgrade", "pip"])
        subprocess.check_call([py, "-m", "pip", "install", "-q"] + PINS)
        print(f"created {venv} in {time.time() - t:.0f} s", flush=True)
    os.execve(py, [py, os.path.abspath(__file__)] + sys.argv[1:],
              dict(os.environ, **ONE_THREAD, PADDLE_VENV=venv))


# ---------------------------------------------------------------- helpers

def pkg_versions():
    from importlib import metadata
    out = {"python": sys.version.split()[0]}
    for p in ["paddlepaddle", "paddleslim", "x2paddle", "paddle2onnx", "onnx", "onnxruntime",
              "numpy", "protobuf", "opencv-python"]:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def venv_bin(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def run_logged(cmd, log, env=None):
    with open(log, "w") as f:
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    if r.returncode != 0:
        with open(log) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}); log {log}:\n{tail}")


def ort_session(path, level=None, optimized=None):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = level or ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    if optimized:
        so.optimized_model_filepath = optimized
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def ort_top1(path, x, y):
    import fashion_idx
    return float((fashion_idx.predictions(ort_session(path), x) == y).mean())


def ort_logits(path, x):
    s = ort_session(path)
    return s.run(None, {s.get_inputs()[0].name: x})[0]


def op_counts(path):
    import onnx
    return dict(sorted(collections.Counter(n.op_type for n in onnx.load(path).graph.node).items()))


def ort_optimized_ops(path):
    import onnxruntime as ort
    out = path[:-len(".onnx")] + ".ort_opt.onnx"
    ort_session(path, ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, out)
    return op_counts(out)


def paddle2onnx(model_dir, onnx_path, log):
    run_logged([venv_bin("paddle2onnx"), "--model_dir", model_dir,
                "--model_filename", "model.pdmodel", "--params_filename", "model.pdiparams",
                "--save_file", onnx_path, "--opset_version", "13",
                "--deploy_backend", "onnxruntime", "--enable_onnx_checker", "True"], log)


# ---------------------------------------------------------------- PIR check (subprocess)

def pir_top1(model_prefix):
    """Top-1 of x2paddle's own (PIR, model.json) inference model in Paddle; run in a separate
    process with FLAGS_enable_pir_api=1 (the main process runs in legacy-IR mode)."""
    import numpy as np
    import paddle
    import fashion_idx
    paddle.base.core.set_num_threads(1)
    paddle.enable_static()
    exe = paddle.static.Executor(paddle.CPUPlace())
    prog, feeds, fetches = paddle.static.load_inference_model(model_prefix, exe)
    x, y = fashion_idx.split("t10k")
    pred = np.concatenate([
        np.asarray(exe.run(prog, feed={feeds[0]: x[i:i + 500]}, fetch_list=fetches)[0]).argmax(1)
        for i in range(0, len(x), 500)])
    print(json.dumps({"top1": float((pred == y).mean())}))


# ---------------------------------------------------------------- legacy-IR part

def legacy_export(x2p_dir, out_dir):
    """Re-exports x2paddle's generated Python model as a legacy-IR .pdmodel (see docstring 2).
    Returns the list of rewritten matmul weights."""
    import numpy as np
    import paddle
    paddle.disable_static()
    src = open(os.path.join(x2p_dir, "x2paddle_code.py")).read()
    params = paddle.load(os.path.join(x2p_dir, "model.pdparams"))
    pat = r"paddle\.matmul\(x=(\w+), y=(\w+), transpose_y=True\)"
    rewritten = []
    for m in re.finditer(pat, src):
        w = m.group(2)
        decl = re.search(r"self\.%s = self\.create_parameter\(shape=\[(\d+), (\d+)\]" % w, src)
        if decl is None:
            raise RuntimeError(f"matmul weight {w} is not a parameter of the x2paddle model")
        src = src.replace(decl.group(0), "self.%s = self.create_parameter(shape=[%s, %s]"
                          % (w, decl.group(2), decl.group(1)))
        params[w] = np.ascontiguousarray(np.asarray(params[w]).T)
        rewritten.append(w)
    src = re.sub(pat, r"paddle.nn.functional.linear(x=\1, weight=\2)", src)
    if "paddle.matmul(" in src:
        raise RuntimeError("x2paddle code has a paddle.matmul this script does not rewrite")
    code = os.path.join(x2p_dir, "x2paddle_code_legacy.py")
    with open(code, "w") as f:
        f.write(src)
    spec = importlib.util.spec_from_file_location("x2paddle_code_legacy", code)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model = mod.ONNXModel()
    model.set_dict(params, use_structured_name=True)
    model.eval()
    static = paddle.jit.to_static(
        model, input_spec=[paddle.static.InputSpec([-1, 1, 28, 28], "float32", "image")],
        full_graph=True)
    paddle.jit.save(static, os.path.join(out_dir, "model"))
    paddle.enable_static()
    return rewritten


def paddle_eval(model_dir, x, y):
    """Top-1 of a legacy-IR inference model in Paddle's executor, and its op types."""
    import numpy as np
    import paddle
    scope = paddle.static.Scope()
    exe = paddle.static.Executor(paddle.CPUPlace())
    with paddle.static.scope_guard(scope):
        prog, feeds, fetches = paddle.static.load_inference_model(
            os.path.join(model_dir, "model"), exe)
        pred = np.concatenate([
            exe.run(prog, feed={feeds[0]: x[i:i + 500]}, fetch_list=fetches)[0].argmax(1)
            for i in range(0, len(x), 500)])
    ops = collections.Counter(op.type for op in prog.global_block().ops
                              if op.type not in ("feed", "fetch"))
    return float((pred == y).mean()), dict(sorted(ops.items()))


def quantize(fp32_dir, out_dir, algo, calib):
    import paddle
    from paddleslim.quant import quant_post_static

    def loader():
        for i in range(CALIB_BATCHES):
            yield {"image": calib[i * CALIB_BATCH:(i + 1) * CALIB_BATCH]}

    scope = paddle.static.Scope()
    exe = paddle.static.Executor(paddle.CPUPlace())
    kw = dict(hist_percent=HIST_PERCENT) if algo == "hist" else {}
    t = time.perf_counter()
    # scope_guard too: PostTrainingQuantization loads the parameters into the current global
    # scope but runs the program in `scope`
    with paddle.static.scope_guard(scope), contextlib.redirect_stdout(sys.stderr):
        quant_post_static(
            exe, fp32_dir, out_dir, data_loader=loader, model_filename="model.pdmodel",
            params_filename="model.pdiparams", batch_size=CALIB_BATCH, batch_nums=CALIB_BATCHES,
            scope=scope, algo=algo, quantizable_op_type=QUANT_OPS,
            weight_quantize_type="channel_wise_abs_max",
            activation_quantize_type="range_abs_max", onnx_format=True, **kw)
    return time.perf_counter() - t


def bench_model(path, out, algos, test_x, test_y, calib):
    import numpy as np
    stem = os.path.splitext(os.path.basename(path))[0]
    work = os.path.join(out, stem)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    res = {"model": path, "algos": {}}

    # FP32: ONNX Runtime on the original
    res["fp32_ort_original"] = ort_top1(path, test_x, test_y)

    # 1. x2paddle (PIR mode, in a subprocess)
    x2p = os.path.join(work, "x2paddle")
    pir_env = dict(os.environ, FLAGS_enable_pir_api="1")
    t = time.perf_counter()
    run_logged([venv_bin("x2paddle"), "--framework", "onnx", "--model", path, "--save_dir", x2p],
               os.path.join(work, "x2paddle.log"), env=pir_env)
    res["x2paddle_seconds"] = time.perf_counter() - t
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--_pir-top1",
                        os.path.join(x2p, "inference_model", "model")],
                       capture_output=True, text=True, env=pir_env)
    if r.returncode != 0:
        raise RuntimeError(f"PIR check failed:\n{r.stderr[-3000:]}")
    res["fp32_paddle_x2paddle_pir"] = json.loads(r.stdout.strip().splitlines()[-1])["top1"]

    # 2. legacy-IR re-export, scored in Paddle and (paddle2onnx) in ONNX Runtime
    fp32 = os.path.join(work, "fp32_legacy")
    res["rewritten_matmul_weights"] = legacy_export(x2p, fp32)
    res["fp32_paddle_legacy"], res["fp32_paddle_ops"] = paddle_eval(fp32, test_x, test_y)
    fp32_onnx = os.path.join(work, "fp32_legacy.onnx")
    paddle2onnx(fp32, fp32_onnx, os.path.join(work, "fp32_paddle2onnx.log"))
    res["fp32_ort_roundtrip"] = ort_top1(fp32_onnx, test_x, test_y)
    a, b = ort_logits(path, test_x[:1000]), ort_logits(fp32_onnx, test_x[:1000])
    res["fp32_roundtrip_max_abs_logit_diff_1000"] = float(np.abs(a - b).max())

    # 3. quant_post_static per algo
    for algo in algos:
        q = os.path.join(work, f"int8_{algo}")
        entry = {}
        res["algos"][algo] = entry
        try:
            entry["calibration_seconds"] = quantize(fp32, q, algo, calib)
        except Exception as e:  # report and go on with the next algo
            entry["error"] = f"quant_post_static: {type(e).__name__}: {e}"[:2000]
            print(f"  {stem} {algo}: {entry['error']}", flush=True)
            continue
        entry["paddle_top1"], entry["paddle_ops"] = paddle_eval(q, test_x, test_y)
        qonnx = os.path.join(work, f"int8_{algo}.onnx")
        try:
            paddle2onnx(q, qonnx, os.path.join(work, f"int8_{algo}_paddle2onnx.log"))
        except Exception as e:
            entry["error"] = f"paddle2onnx: {e}"[:2000]
            print(f"  {stem} {algo}: {entry['error']}", flush=True)
            continue
        entry["onnx_file"] = qonnx
        entry["onnx_bytes"] = os.path.getsize(qonnx)
        entry["ort_top1"] = ort_top1(qonnx, test_x, test_y)
        entry["onnx_ops"] = op_counts(qonnx)
        entry["ort_optimized_ops"] = ort_optimized_ops(qonnx)
        print(f"  {stem} {algo}: ORT {100 * entry['ort_top1']:.2f}%  Paddle "
              f"{100 * entry['paddle_top1']:.2f}%  calibration "
              f"{entry['calibration_seconds']:.1f} s", flush=True)
    res["fp32_onnx_bytes"] = os.path.getsize(path)
    return stem, res


def print_table(stem, res):
    base = res["fp32_ort_original"]
    print(f"\n{stem}: FP32 ORT original {100 * base:.2f}%, x2paddle PIR in Paddle "
          f"{100 * res['fp32_paddle_x2paddle_pir']:.2f}%, legacy re-export in Paddle "
          f"{100 * res['fp32_paddle_legacy']:.2f}% / in ORT {100 * res['fp32_ort_roundtrip']:.2f}%")
    print(f"  {'algo':8} {'ORT top-1':>10} {'drop':>6} {'Paddle top-1':>13} {'calib s':>8} "
          f"{'int8 bytes':>10}  integer kernels in ORT")
    for algo, e in res["algos"].items():
        if "ort_top1" not in e:
            print(f"  {algo:8} {e.get('error', '?')[:100]}")
            continue
        ints = {k: v for k, v in e["ort_optimized_ops"].items()
                if k.startswith("QLinear") or "Integer" in k}
        print(f"  {algo:8} {100 * e['ort_top1']:9.2f}% {100 * (base - e['ort_top1']):6.2f} "
              f"{100 * e['paddle_top1']:12.2f}% {e['calibration_seconds']:8.1f} "
              f"{e['onnx_bytes']:10d}  {ints}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "compare_paddleslim"))
    ap.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    ap.add_argument("--algos", nargs="+", default=DEFAULT_ALGOS)
    ap.add_argument("--venv", default=DEFAULT_VENV)
    ap.add_argument("--_pir-top1", dest="pir_top1", help=argparse.SUPPRESS)
    a = ap.parse_args()

    sys.path.insert(0, SCRIPTS)
    if a.pir_top1:
        pir_top1(a.pir_top1)
        return
    if not in_venv(a.venv):
        ensure_venv_and_reexec(a.venv)  # does not return

    with contextlib.suppress(OSError):
        os.nice(10)
    os.environ.update(ONE_THREAD)
    os.environ["FLAGS_enable_pir_api"] = "0"  # before paddle is imported: legacy IR
    import paddle
    import fashion_idx
    paddle.base.core.set_num_threads(1)
    paddle.enable_static()

    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    train_x, _ = fashion_idx.split("train")
    calib = train_x[:CALIB_BATCH * CALIB_BATCHES].copy()  # the first 320 in file order
    test_x, test_y = fashion_idx.split("t10k")
    results = {"versions": pkg_versions(), "command": " ".join(sys.argv),
               "calibration": f"first {len(calib)} training images, batch_size {CALIB_BATCH}, "
                              f"batch_nums {CALIB_BATCHES}",
               "quantizable_op_type": QUANT_OPS, "hist_percent": HIST_PERCENT,
               "weight_quantize_type": "channel_wise_abs_max",
               "activation_quantize_type": "range_abs_max", "onnx_format": True,
               "models": {}}
    print(json.dumps(results["versions"]), flush=True)
    for path in a.models:
        stem, res = bench_model(os.path.abspath(path), out, a.algos, test_x, test_y, calib)
        results["models"][stem] = res
        with open(os.path.join(out, "results.json"), "w") as f:
            json.dump(results, f, indent=1)
    for stem, res in results["models"].items():
        print_table(stem, res)
    print(f"\nresults: {os.path.join(out, 'results.json')}")


if __name__ == "__main__":
    main()
