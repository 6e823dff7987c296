#!/usr/bin/python3
"""Trains a small MobileNetV2-style Fashion-MNIST model for ACT's quantization benchmark
(benchmarks/quant/compare_ptq.py).

Architecture (about 0.18M parameters, about 6M multiply-adds per image): a 3x3 stride-2 stem
conv 1->16 with BatchNorm and ReLU6 (14x14), then MobileNetV2 inverted residual blocks (1x1
expand conv + BatchNorm + ReLU6, 3x3 depthwise conv + BatchNorm + ReLU6, 1x1 linear projection
+ BatchNorm, residual Add when the shape is kept): 16->24, 24->24 at 14x14, 24->48 stride 2,
48->48 at 7x7, 48->96 stride 2, 96->96 at 4x4, all with expansion 4; a 1x1 conv to 256
channels with ReLU6, global average pool and a linear layer to 10 logits. ReLU6 exports as
Clip(0, 6).

Writes models/fashion_mobilenet.onnx (input "image": float32 [N, 1, 28, 28], raw pixels / 255;
output "logits": [N, 10]; opset 13, BatchNorm folded, dynamic batch) and
models/fashion_mobilenet.json with the PyTorch top-1 on the full 10,000-image test set.
scripts/check_with_ort.py --model models/fashion_mobilenet.onnx then adds ONNX Runtime's.

Data: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/*.gz). CPU, 2 threads,
fixed seeds (reruns give the same model up to nondeterminism in PyTorch's CPU kernels).

One epoch of SGD at batch 64 (938 steps) is the default: on the shared 2-core machine a
step costs about 0.25 s of CPU, and the run had a fraction of a core (see
docs/benchmarks.md (f)); --threads 1 was faster than 2 there, because PyTorch's OpenMP threads
wait on each other when the cores are oversubscribed.

Usage: /usr/bin/python3 scripts/train_fashion_mobilenet.py [--epochs 1] [--threads 2]
       [--batch 64] [--lr 0.05] [--data DIR] [--out DIR]
"""
import argparse
import os
import sys

import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_train_common as common  # noqa: E402


def conv_bn(cin, cout, k, stride=1, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.residual = stride == 1 and cin == cout
        self.body = nn.Sequential(conv_bn(cin, hidden, 1),
                                  conv_bn(hidden, hidden, 3, stride, groups=hidden),
                                  conv_bn(hidden, cout, 1, act=False))

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class FashionMobileNet(nn.Module):
    # (output channels, stride) per block; expansion 4 throughout.
    BLOCKS = ((24, 1), (24, 1), (48, 2), (48, 1), (96, 2), (96, 1))

    def __init__(self, expand=4, last=256):
        super().__init__()
        layers, cin = [conv_bn(1, 16, 3, stride=2)], 16
        for cout, stride in self.BLOCKS:
            layers.append(InvertedResidual(cin, cout, stride, expand))
            cin = cout
        layers.append(conv_bn(cin, last, 1))
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(last, 10)

    def forward(self, x):
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)   # exports as GlobalAveragePool
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
    model = FashionMobileNet()
    print(f"FashionMobileNet: {sum(p.numel() for p in model.parameters())} parameters",
          flush=True)
    top1 = common.train(model, train_x, train_y, test_x, test_y, args.epochs, args.lr,
                        batch=args.batch, weight_decay=4e-5)
    common.export(model, args.out, "fashion_mobilenet",
                  {"epochs": args.epochs, "seed": 0, "threads": args.threads,
                   "optimizer": "SGD nesterov 0.9, one-cycle",
                   "max_lr": args.lr, "batch": args.batch, "augmentation": "none",
                   "test_samples": int(len(test_x)), "torch_top1": round(top1, 6)})
    print(f"torch top-1 {top1:.4f}")


if __name__ == "__main__":
    main()
