"""Writes .npy/.npz fixtures for dataset_npy_test.cc into the folder given as argv[1].

Values follow formulas the C++ test recomputes (no stored checksums): for dtype d and shape s,
a[i] = (i * 7 + 3) % 100 - 50 (signed), % 200 (u1), and that value / 8 for floats.
"""
import os
import sys

import numpy as np
from numpy.lib import format as npformat

out = sys.argv[1]


def values(dtype, shape):
    i = np.arange(int(np.prod(shape)), dtype=np.int64)
    if dtype == np.uint8:
        v = (i * 7 + 3) % 200
    else:
        v = (i * 7 + 3) % 100 - 50
    if np.dtype(dtype).kind == "f":
        return (v / 8.0).astype(dtype).reshape(shape)
    return v.astype(dtype).reshape(shape)


for name, dtype in [("f4", np.float32), ("f8", np.float64), ("u1", np.uint8), ("i1", np.int8),
                    ("i4", np.int32), ("i8", np.int64)]:
    np.save(os.path.join(out, f"{name}.npy"), values(dtype, (3, 2, 5)))

for version in [(1, 0), (2, 0), (3, 0)]:
    with open(os.path.join(out, f"v{version[0]}.npy"), "wb") as f:
        npformat.write_array(f, values(np.float32, (4, 3)), version=version)

np.save(os.path.join(out, "fortran.npy"), np.asfortranarray(values(np.float32, (4, 3))))
np.save(os.path.join(out, "bigendian.npy"), values(np.float32, (4,)).astype(">f4"))

images = values(np.uint8, (6, 1, 4, 4))
labels = np.arange(6, dtype=np.int64) % 3
np.savez(os.path.join(out, "stored.npz"), x=images, y=labels)
np.savez_compressed(os.path.join(out, "deflated.npz"), images=images, labels=labels)
np.savez_compressed(os.path.join(out, "named.npz"), pics=images, cls=labels.astype(np.int32))
