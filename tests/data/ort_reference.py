"""Writes ONNX Runtime's outputs for a model over an IDX test set, for eval_fashion_test.cc.

Usage: python3 ort_reference.py MODEL IMAGES_IDX_GZ OUT.npy [LIMIT]
Input is pixels / 255 as [N, 1, 28, 28] float32 (what `act eval` feeds without --mean/--std).
Exits 3 if onnxruntime cannot be imported, so the test can skip.
"""
import gzip
import struct
import sys

import numpy as np

try:
    import onnxruntime as ort
except ImportError:
    sys.exit(3)

model, images, out = sys.argv[1:4]
limit = int(sys.argv[4]) if len(sys.argv) > 4 else -1
with gzip.open(images, "rb") as f:
    data = f.read()
_, _, ndim = struct.unpack(">HBB", data[:4])
dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
x = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
if limit >= 0:
    x = x[:limit]
x = (x.astype(np.float32) / np.float32(255.0))[:, None, :, :]
sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
name = sess.get_inputs()[0].name
y = np.concatenate([sess.run(None, {name: x[i:i + 500]})[0] for i in range(0, len(x), 500)])
np.save(out, y.astype(np.float32))
