#!/usr/bin/python3
"""Trains the small Fashion-MNIST CNN that ACT ships as its default model.

Produces models/fashion_cnn.onnx (input "image": float32 [N, 1, 28, 28] in [0, 1], i.e. raw
pixels / 255 with no mean/std normalization; output "logits": [N, 10]) and
models/fashion_cnn.json with the PyTorch top-1 accuracy on the full 10,000-image test set.
scripts/check_with_ort.py then adds ONNX Runtime's top-1 on the exported file.

Data: Debian's dataset-fashion-mnist package (/usr/share/datasets/fashion-mnist/*.gz).
Runs on CPU with 2 threads in a few minutes; seeds are fixed, so reruns give the same model
up to nondeterminism in PyTorch's CPU kernels.

Usage: /usr/bin/python3 scripts/train_fashion_cnn.py [--epochs 5] [--data DIR] [--out DIR]
"""
import argparse
import json
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import fashion_train_common as common


class FashionCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(64)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)   # 16x14x14
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)   # 32x7x7
        x = F.relu(self.bn3(self.conv3(x)))                     # 64x7x7
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)              # exports as GlobalAveragePool
        return self.fc(x)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=common.DATA)
    ap.add_argument("--out", default=os.path.join(here, "..", "models"))
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    common.seed_everything(0, args.threads)
    train_x, train_y = common.load_split(args.data, "train")
    test_x, test_y = common.load_split(args.data, "t10k")
    print(f"train {tuple(train_x.shape)} test {tuple(test_x.shape)}", flush=True)

    model = FashionCnn()
    batch = 128
    steps_per_epoch = (len(train_x) + batch - 1) // batch
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch)
    gen = torch.Generator().manual_seed(0)
    for epoch in range(args.epochs):
        model.train()
        start = time.time()
        perm = torch.randperm(len(train_x), generator=gen)
        total = 0.0
        for s in range(steps_per_epoch):
            idx = perm[s * batch:(s + 1) * batch]
            loss = F.cross_entropy(model(train_x[idx]), train_y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        acc = common.evaluate(model, test_x, test_y)
        print(f"epoch {epoch + 1}: loss {total / steps_per_epoch:.4f} test top-1 {acc:.4f} "
              f"({time.time() - start:.0f}s)", flush=True)

    model.eval()
    top1 = common.evaluate(model, test_x, test_y)
    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "fashion_cnn.onnx")
    tmp_path = onnx_path + ".tmp"
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), tmp_path, opset_version=13,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}},
                      do_constant_folding=True)
    os.replace(tmp_path, onnx_path)

    info = {
        "model": "fashion_cnn.onnx",
        "dataset": "Fashion-MNIST (Debian dataset-fashion-mnist), t10k test set",
        "input": {"name": "image", "shape": ["N", 1, 28, 28], "dtype": "float32",
                  "preprocessing": "pixel / 255, no mean/std normalization"},
        "output": {"name": "logits", "shape": ["N", 10]},
        "opset": 13,
        "epochs": args.epochs,
        "seed": 0,
        "test_samples": int(len(test_x)),
        "torch_top1": round(top1, 6),
        "torch_version": torch.__version__,
    }
    json_path = os.path.join(args.out, "fashion_cnn.json")
    with open(json_path + ".tmp", "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    os.replace(json_path + ".tmp", json_path)
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes), torch top-1 {top1:.4f}")


if __name__ == "__main__":
    main()
