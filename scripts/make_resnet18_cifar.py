#!/usr/bin/env python3
"""Writes the CIFAR-style ResNet-18 (32x32 input) as ONNX, random weights, BatchNorm kept.

The training benchmark (benchmarks/train/compare_torch.py --model resnet18) trains this graph
in ACT and the same architecture in PyTorch. Layout: a 3x3 stem convolution to 64 channels
(no max-pool), four stages of two BasicBlocks (64, 128, 256, 512 channels; stages 2-4 start
with stride 2 and a 1x1 projection shortcut), BatchNorm after every convolution, global average
pooling and a 10-way linear layer. The weights are about 45 MB, so the file is generated into
the build folder rather than committed.

usage: make_resnet18_cifar.py OUT.onnx [--opset 17] [--seed 0]
PyTorch comes from Debian (python3-torch).
"""
import argparse
import contextlib
import io
import sys
import warnings


def import_torch():
    """Debian's torch, also from a python3 (pyenv, venv) that lacks it. Its failed attempt to
    load a NumPy 2 from that interpreter is harmless here (no tensor goes through NumPy), so
    that noise is silenced."""
    if "/usr/lib/python3/dist-packages" not in sys.path:
        sys.path.append("/usr/lib/python3/dist-packages")
    warnings.filterwarnings("ignore", message=".*NumPy.*")
    with contextlib.redirect_stderr(io.StringIO()):
        import torch
        torch.manual_seed(0)  # the first call that touches NumPy
    return torch


def build_model():
    nn = import_torch().nn

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                              nn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + self.shortcut(x))

    class ResNet18(nn.Module):
        def __init__(self, classes=10):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64),
                                      nn.ReLU())
            layers, cin = [], 64
            for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
                layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
                cin = cout
            self.layers = nn.Sequential(*layers)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(512, classes)

        def forward(self, x):
            return self.fc(self.pool(self.layers(self.stem(x))).flatten(1))

    return ResNet18()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch = import_torch()
    torch.manual_seed(a.seed)
    model = build_model().eval()
    # The exporter merges initializers with equal values and reads them back through Identity
    # nodes; freshly initialized BatchNorms (all ones, all zeros) would then share one scale,
    # one bias and one set of statistics. Small random offsets keep every layer its own.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.add_(0.01 * torch.randn_like(m.weight))
                m.bias.add_(0.01 * torch.randn_like(m.bias))
                m.running_mean.add_(0.01 * torch.randn_like(m.running_mean))
                m.running_var.add_(0.01 * torch.rand_like(m.running_var))
    x = torch.rand(1, 3, 32, 32)
    # Constant folding would fold each BatchNorm into its convolution; ACT needs the
    # BatchNormalization nodes to train with batch statistics.
    torch.onnx.export(model, x, a.out, input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}}, opset_version=a.opset,
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    import onnx
    ops = [n.op_type for n in onnx.load(a.out, load_external_data=False).graph.node]
    bn = ops.count("BatchNormalization")
    if bn != 20 or "Identity" in ops:
        sys.exit(f"make_resnet18_cifar: expected 20 BatchNormalization nodes and no Identity, "
                 f"got {bn} and {ops.count('Identity')}")
    print(f"wrote {a.out}: {len(ops)} nodes, {bn} BatchNormalization, opset {a.opset}")


if __name__ == "__main__":
    main()
