#!/usr/bin/env python3
"""Training throughput: ACT's TrainStep against PyTorch (CPU), same architecture, same batch,
same threads, same run, random data, SGD with momentum. Prints samples/s of each and the ratio
ACT/PyTorch (above 1.0: ACT is faster).

Models (--model):
  fashion_cnn  the bundled Fashion-MNIST CNN (models/fashion_cnn.onnx, BatchNorm folded as
               exported); batch 64 by default.
  resnet18     the CIFAR-style ResNet-18 at 32x32 (scripts/make_resnet18_cifar.py, generated
               into BUILD_DIR/models on first use), BatchNorm with batch statistics on both
               sides (PyTorch's model.train(), ACT's TrainStepOptions::batch_statistics);
               batch 32 by default.

PyTorch comes from Debian (python3-torch); the script installs it with apt-get when missing.
usage: compare_torch.py BUILD_DIR [--model fashion_cnn|resnet18] [--threads 2] [--batch N]
                        [--steps N] [--rounds 3]
"""
import argparse
import importlib.util
import os
import re
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def ensure_torch():
    """PyTorch and the onnx module (for the ResNet-18 export) from Debian, when missing.
    libonnx-testdata leaves an empty `onnx` namespace package behind, so test for onnx.load."""
    missing = []
    try:
        import torch  # noqa: F401
    except ImportError:
        missing.append("python3-torch")
    try:
        import onnx
        if not hasattr(onnx, "load"):
            raise ImportError
    except ImportError:
        missing.append("python3-onnx")
    if missing:
        print("compare_torch: installing Debian's " + ", ".join(missing), file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing,
                       check=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        sys.path.append("/usr/lib/python3/dist-packages")


def resnet_script():
    spec = importlib.util.spec_from_file_location(
        "make_resnet18_cifar", os.path.join(ROOT, "scripts", "make_resnet18_cifar.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def resnet_onnx(build):
    path = os.path.join(os.path.abspath(build), "models", "resnet18_cifar.onnx")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_resnet18_cifar.py"),
                        path], check=True)
    return path


# name: (ONNX path from the build dir, input, logits, input shape without batch,
#        default batch, BatchNorm batch statistics)
MODELS = {
    "fashion_cnn": (lambda build: os.path.join(ROOT, "models", "fashion_cnn.onnx"), "image",
                    "logits", (1, 28, 28), 64, False),
    "resnet18": (resnet_onnx, "image", "logits", (3, 32, 32), 32, True),
}


def torch_model(name):
    import torch.nn as nn
    if name == "resnet18":
        return resnet_script().build_model().train()  # BatchNorm on batch statistics
    # The exported graph of models/fashion_cnn.onnx (BatchNorm folded into the convolutions).
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(64, 10))


def torch_samples_per_s(name, threads, batch, steps, warmup):
    import torch
    import torch.nn as nn
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = torch_model(name)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.rand(batch, *MODELS[name][3])
    y = torch.arange(batch) % 10
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - t0), torch.__version__


def act_samples_per_s(name, build, threads, batch, steps, warmup):
    path_of, image, logits, _, _, batch_statistics = MODELS[name]
    out = subprocess.run([os.path.join(build, "bin", "train_bench"), path_of(build), image,
                          logits, "--batch", str(batch), "--steps", str(steps), "--warmup",
                          str(warmup), "--threads", str(threads), "--batch-statistics",
                          str(int(batch_statistics))],
                         check=True, capture_output=True, text=True).stdout
    return float(re.search(r"samples_per_s=([0-9.]+)", out).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--model", choices=sorted(MODELS), default="fashion_cnn")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=0, help="0: the model's default")
    ap.add_argument("--steps", type=int, default=0, help="0: 30 (fashion_cnn), 10 (resnet18)")
    ap.add_argument("--warmup", type=int, default=0, help="0: 5 (fashion_cnn), 2 (resnet18)")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    big = a.model == "resnet18"
    a.batch = a.batch or MODELS[a.model][4]
    a.steps = a.steps or (10 if big else 30)
    a.warmup = a.warmup or (2 if big else 5)
    ensure_torch()
    acts, torches, version = [], [], ""
    for _ in range(a.rounds):  # alternate so machine noise hits both
        acts.append(act_samples_per_s(a.model, a.build, a.threads, a.batch, a.steps, a.warmup))
        t, version = torch_samples_per_s(a.model, a.threads, a.batch, a.steps, a.warmup)
        torches.append(t)
    acts.sort()
    torches.sort()
    act_m, torch_m = acts[len(acts) // 2], torches[len(torches) // 2]
    print(f"pytorch {version}, threads={a.threads}, batch={a.batch}, steps={a.steps}, rounds={a.rounds}")
    print("ACT rounds: " + " ".join(f"{v:.1f}" for v in acts) +
          "; PyTorch rounds: " + " ".join(f"{v:.1f}" for v in torches))
    print(f"{'model':<14}{'ACT samples/s':>15}{'PyTorch samples/s':>19}{'ACT/PyTorch':>13}")
    print(f"{a.model:<14}{act_m:>15.1f}{torch_m:>19.1f}{act_m / torch_m:>13.3f}")


if __name__ == "__main__":
    main()
