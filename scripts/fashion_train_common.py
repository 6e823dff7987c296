"""Shared pieces of the Fashion-MNIST training scripts that produce ACT's benchmark models
(scripts/train_fashion_resnet.py, scripts/train_fashion_mobilenet.py): reading Debian's IDX
files, a fixed-seed training loop on CPU, ONNX export and the .json record next to the model.

Every model here takes input "image": float32 [N, 1, 28, 28], raw pixels / 255 with no
mean/std normalization (as models/fashion_cnn.onnx), and returns "logits": [N, 10]. It is
exported in eval mode at opset 13 with a dynamic batch; PyTorch's exporter folds each
BatchNorm into the Conv before it.

Runs with Debian's /usr/bin/python3 (python3-torch); not a program of its own.
"""
import json
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F

import fashion_idx

DATA = fashion_idx.DATA
OPSET = 13


def load_split(data_dir, prefix):
    """Images as float32 [N, 1, 28, 28] in [0, 1] and labels as int64 [N], as torch tensors."""
    x, y = fashion_idx.split(prefix, data_dir)
    return torch.from_numpy(x), torch.from_numpy(y)


def seed_everything(seed, threads):
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    torch.set_num_threads(threads)


def evaluate(model, images, labels, batch=1000):
    """Top-1 accuracy of `model` in eval mode."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(images), batch):
            logits = model(images[i:i + batch])
            correct += (logits.argmax(1) == labels[i:i + batch]).sum().item()
    return correct / len(images)


def train(model, train_x, train_y, test_x, test_y, epochs, lr, batch=128, weight_decay=5e-4,
          seed=0):
    """SGD with Nesterov momentum under a one-cycle schedule, no augmentation; prints test top-1
    per epoch and returns the final one."""
    steps_per_epoch = (len(train_x) + batch - 1) // batch
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.dim() > 1 else no_decay).append(p)
    opt = torch.optim.SGD([{"params": decay, "weight_decay": weight_decay},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=lr, momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, epochs=epochs,
                                                steps_per_epoch=steps_per_epoch,
                                                pct_start=0.25)
    gen = torch.Generator().manual_seed(seed)
    model.to(memory_format=torch.channels_last)
    acc = 0.0
    for epoch in range(epochs):
        model.train()
        start = time.time()
        perm = torch.randperm(len(train_x), generator=gen)
        total = 0.0
        for s in range(steps_per_epoch):
            idx = perm[s * batch:(s + 1) * batch]
            # NHWC routes PyTorch's CPU convolutions (incl. their backward) to oneDNN: faster.
            x = train_x[idx].contiguous(memory_format=torch.channels_last)
            loss = F.cross_entropy(model(x), train_y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        acc = evaluate(model, test_x, test_y)
        print(f"epoch {epoch + 1}: loss {total / steps_per_epoch:.4f} test top-1 {acc:.4f} "
              f"({time.time() - start:.0f}s)", flush=True)
    return acc


def export(model, out_dir, stem, extra):
    """Writes OUT_DIR/STEM.onnx (eval mode, opset 13, dynamic batch) and OUT_DIR/STEM.json
    with the PyTorch top-1 and `extra`; both atomically."""
    model.eval()
    model.to(memory_format=torch.contiguous_format)
    os.makedirs(out_dir, exist_ok=True)
    onnx_path = os.path.join(out_dir, stem + ".onnx")
    tmp_path = onnx_path + ".tmp"
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), tmp_path, opset_version=OPSET,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}},
                      do_constant_folding=True)
    os.replace(tmp_path, onnx_path)
    info = {
        "model": stem + ".onnx",
        "dataset": "Fashion-MNIST (Debian dataset-fashion-mnist), t10k test set",
        "input": {"name": "image", "shape": ["N", 1, 28, 28], "dtype": "float32",
                  "preprocessing": "pixel / 255, no mean/std normalization"},
        "output": {"name": "logits", "shape": ["N", 10]},
        "opset": OPSET,
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch_version": torch.__version__,
    }
    info.update(extra)
    json_path = os.path.join(out_dir, stem + ".json")
    with open(json_path + ".tmp", "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    os.replace(json_path + ".tmp", json_path)
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes)", flush=True)
