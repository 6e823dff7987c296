"""Debian's Fashion-MNIST (dataset-fashion-mnist) for the Python scripts, tests and
benchmarks: one IDX reader, numpy only (no torch, so ONNX Runtime checks can use it too).

Images come out as ACT's models take them: float32 [N, 1, 28, 28], raw pixels / 255.
"""
import gzip
import os
import struct

import numpy as np

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """Reads a gzipped unsigned-byte IDX file; returns a uint8 array of its dims."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {int(np.prod(dims))} values, got {body.size}")
    return body.reshape(dims)


def images(path):
    """float32 [N, 1, 28, 28] in [0, 1]."""
    return (read_idx(path).astype(np.float32) / 255.0)[:, None]


def split(prefix, data_dir=DATA):
    """Images (see images()) and int64 labels [N] of "train" or "t10k"."""
    x = images(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)
    return x, y


def predictions(session, x, batch=500):
    """Top-1 classes of an ONNX Runtime session (or anything with its get_inputs/run) over the
    images x, in batches so the whole test set need not go through in one run."""
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: x[i:i + batch]})[0].argmax(1)
                           for i in range(0, len(x), batch)])
