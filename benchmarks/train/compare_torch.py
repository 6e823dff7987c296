#!/usr/bin/env python3
"""Training throughput: ACT's TrainStep against PyTorch (CPU) on the bundled Fashion-MNIST CNN
architecture, same batch, same threads, same run, random data, SGD with momentum. Prints
samples/s of each and the ratio ACT/PyTorch (above 1.0: ACT is faster).

PyTorch comes from Debian (python3-torch); the script installs it with apt-get when missing.
usage: compare_torch.py BUILD_DIR [--threads 2] [--batch 64] [--steps 30] [--rounds 3]
"""
import argparse
import os
import re
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def ensure_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        print("compare_torch: installing Debian's python3-torch", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                        "python3-torch"], check=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        sys.path.append("/usr/lib/python3/dist-packages")


def torch_samples_per_s(threads, batch, steps, warmup=5):
    import torch
    import torch.nn as nn
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    # The exported graph of models/fashion_cnn.onnx (BatchNorm folded into the convolutions).
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(64, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.rand(batch, 1, 28, 28)
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


def act_samples_per_s(build, threads, batch, steps):
    out = subprocess.run([os.path.join(build, "bin", "train_bench"),
                          os.path.join(ROOT, "models", "fashion_cnn.onnx"), "image", "logits",
                          "--batch", str(batch), "--steps", str(steps), "--threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout
    return float(re.search(r"samples_per_s=([0-9.]+)", out).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    ensure_torch()
    acts, torches, version = [], [], ""
    for _ in range(a.rounds):  # alternate so machine noise hits both
        acts.append(act_samples_per_s(a.build, a.threads, a.batch, a.steps))
        t, version = torch_samples_per_s(a.threads, a.batch, a.steps)
        torches.append(t)
    acts.sort()
    torches.sort()
    act_m, torch_m = acts[len(acts) // 2], torches[len(torches) // 2]
    print(f"pytorch {version}, threads={a.threads}, batch={a.batch}, steps={a.steps}, rounds={a.rounds}")
    print(f"{'model':<14}{'ACT samples/s':>15}{'PyTorch samples/s':>19}{'ACT/PyTorch':>13}")
    print(f"{'fashion_cnn':<14}{act_m:>15.1f}{torch_m:>19.1f}{act_m / torch_m:>13.3f}")


if __name__ == "__main__":
    main()
