#!/usr/bin/python3
"""Trains a small ResNet-style Fashion-MNIST model for ACT's quantization benchmark
(benchmarks/quant/compare_ptq.py).

Architecture (about 0.31M parameters, about 10M multiply-adds per image): a 3x3 stem conv
1->32 with BatchNorm and ReLU at 28x28 and a 2x2 max pool, then three BasicBlocks (two 3x3
convs with BatchNorm, a residual Add, ReLU after the Add) at 32 channels 14x14, 64 channels
7x7 (stride 2) and 128 channels 4x4 (stride 2); the strided blocks' shortcut is a 1x1 conv with
BatchNorm. Global average pool and a linear layer to 10 logits.

Writes models/fashion_resnet.onnx (input "image": float32 [N, 1, 28, 28], raw pixels / 255;
output "logits": [N, 10]; opset 13, BatchNorm folded, dynamic batch) and
models/fashion_resnet.json with the PyTorch top-1 on the full 10,000-image test set.
scripts/check_with_ort.py --model models/fashion_resnet.onnx then adds ONNX Runtime's.

Data: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/*.gz). CPU, 2 threads,
fixed seeds (reruns give the same model up to nondeterminism in PyTorch's CPU kernels).

One epoch of SGD at batch 64 (938 steps) is the default: on the shared 2-core machine a
step costs about 0.25 s of CPU, and the run had a fraction of a core (see
docs/benchmarks.md (f)); --threads 1 was faster than 2 there, because PyTorch's OpenMP threads
wait on each other when the cores are oversubscribed.

Usage: /usr/bin/python3 scripts/train_fashion_resnet.py [--epochs 1] [--threads 2] [--batch 64]
       [--lr 0.05] [--data DIR] [--out DIR]
"""
import argparse
import os
import sys

import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_train_common as common  # noqa: E402


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.shortcut is None else self.shortcut(x)))


class FashionResNet(nn.Module):
    def __init__(self, widths=(32, 64, 128)):
        super().__init__()
        self.stem = nn.Conv2d(1, widths[0], 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(widths[0])
        blocks, cin = [], widths[0]
        for i, w in enumerate(widths):
            blocks.append(BasicBlock(cin, w, 1 if i == 0 else 2))
            cin = w
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.stem(x))), 2)   # 32x14x14
        x = self.blocks(x)                                     # 128x4x4
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)             # exports as GlobalAveragePool
        return self.fc(x)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=common.DATA)
    ap.add_argument("--out", default=os.path.join(here, "..", "models"))
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    common.seed_everything(0, args.threads)
    train_x, train_y = common.load_split(args.data, "train")
    test_x, test_y = common.load_split(args.data, "t10k")
    model = FashionResNet()
    print(f"FashionResNet: {sum(p.numel() for p in model.parameters())} parameters", flush=True)
    top1 = common.train(model, train_x, train_y, test_x, test_y, args.epochs, args.lr,
                        batch=args.batch)
    common.export(model, args.out, "fashion_resnet",
                  {"epochs": args.epochs, "seed": 0, "threads": args.threads,
                   "optimizer": "SGD nesterov 0.9, one-cycle",
                   "max_lr": args.lr, "batch": args.batch, "augmentation": "none",
                   "test_samples": int(len(test_x)), "torch_top1": round(top1, 6)})
    print(f"torch top-1 {top1:.4f}")


if __name__ == "__main__":
    main()
