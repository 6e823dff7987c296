#!/usr/bin/env python3
"""Writes the benchmark models: ResNet-18 and MobileNetV2 (ImageNet layouts, 1000 classes),
with seeded random weights and BatchNorm kept as separate nodes, as exporters emit them.

The graphs are built with onnx.helper so the benchmarks need no training framework; the
architectures follow the published ones (He et al. 2015; Sandler et al. 2018).

usage: make_models.py OUT_DIR [--size 224]
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Builder:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, base):
        self.count += 1
        return f"{base}_{self.count}"

    def weight(self, base, shape, fan_in):
        n = self.name(base)
        w = self.rng.normal(0, np.sqrt(2.0 / fan_in), size=shape).astype(np.float32)
        self.inits.append(numpy_helper.from_array(w, n))
        return n

    def const(self, base, arr):
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(arr.astype(np.float32), n))
        return n

    def conv_bn(self, x, cin, cout, k, stride, group=1, relu=None):
        w = self.weight("conv_w", [cout, cin // group, k, k], cin // group * k * k)
        y = self.name("conv")
        self.nodes.append(helper.make_node("Conv", [x, w], [y], name=y, kernel_shape=[k, k],
                                           strides=[stride, stride], pads=[k // 2] * 4, group=group))
        scale = self.const("bn_scale", self.rng.uniform(0.5, 1.5, cout))
        bias = self.const("bn_bias", self.rng.normal(0, 0.1, cout))
        mean = self.const("bn_mean", self.rng.normal(0, 0.1, cout))
        var = self.const("bn_var", self.rng.uniform(0.5, 1.5, cout))
        z = self.name("bn")
        self.nodes.append(helper.make_node("BatchNormalization", [y, scale, bias, mean, var], [z], name=z))
        if relu == "relu":
            r = self.name("relu")
            self.nodes.append(helper.make_node("Relu", [z], [r], name=r))
            return r
        if relu == "relu6":
            r = self.name("clip")
            lo, hi = self.const("zero", np.array(0.0)), self.const("six", np.array(6.0))
            self.nodes.append(helper.make_node("Clip", [z, lo, hi], [r], name=r))
            return r
        return z

    def add(self, a, b, relu):
        s = self.name("add")
        self.nodes.append(helper.make_node("Add", [a, b], [s], name=s))
        if not relu:
            return s
        r = self.name("relu")
        self.nodes.append(helper.make_node("Relu", [s], [r], name=r))
        return r

    def head(self, x, channels, classes):
        p, f, o = self.name("gap"), self.name("flatten"), "logits"
        self.nodes.append(helper.make_node("GlobalAveragePool", [x], [p], name=p))
        self.nodes.append(helper.make_node("Flatten", [p], [f], name=f))
        w = self.weight("fc_w", [classes, channels], channels)
        b = self.const("fc_b", np.zeros(classes))
        self.nodes.append(helper.make_node("Gemm", [f, w, b], [o], name="fc", transB=1))
        return o

    def model(self, name, size, out):
        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, size, size])],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, 1000])], self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="act-benchmarks")
        m.ir_version = 8
        onnx.checker.check_model(m)
        return m


def resnet18(size):
    b = Builder(18)
    x = b.conv_bn("image", 3, 64, 7, 2, relu="relu")
    p = b.name("maxpool")
    b.nodes.append(helper.make_node("MaxPool", [x], [p], name=p, kernel_shape=[3, 3], strides=[2, 2],
                                    pads=[1, 1, 1, 1]))
    x, cin = p, 64
    for cout, stride in [(64, 1), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1)]:
        y = b.conv_bn(x, cin, cout, 3, stride, relu="relu")
        y = b.conv_bn(y, cout, cout, 3, 1)
        short = x if (stride == 1 and cin == cout) else b.conv_bn(x, cin, cout, 1, stride)
        x, cin = b.add(y, short, relu=True), cout
    return b.model("resnet18", size, b.head(x, 512, 1000))


def mobilenetv2(size):
    b = Builder(2)
    x = b.conv_bn("image", 3, 32, 3, 2, relu="relu6")
    cin = 32
    # (expansion, channels, repeats, first stride)
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            y = x if t == 1 else b.conv_bn(x, cin, hidden, 1, 1, relu="relu6")
            y = b.conv_bn(y, hidden, hidden, 3, stride, group=hidden, relu="relu6")
            y = b.conv_bn(y, hidden, c, 1, 1)
            x = b.add(y, x, relu=False) if (stride == 1 and cin == c) else y
            cin = c
    x = b.conv_bn(x, cin, 1280, 1, 1, relu="relu6")
    return b.model("mobilenetv2", size, b.head(x, 1280, 1000))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--size", type=int, default=224)
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    for fn in (resnet18, mobilenetv2):
        m = fn(a.size)
        path = os.path.join(a.out_dir, f"{m.graph.name}.onnx")
        onnx.save(m, path)
        print(path)


if __name__ == "__main__":
    main()
