"""Datasets as float32 [N, C, H, W] in [-1, 1]."""
from __future__ import annotations

import gzip
import os

import numpy as np

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


def load_idx_images(path: str) -> np.ndarray:
    """Reads an MNIST-format IDX image file (gzipped or not): uint8 [N, H, W] → float32 [N, 1, H, W] in [-1, 1].

    Raises:
        FileNotFoundError: when `path` does not exist.
        ValueError: when the file is not an IDX file of unsigned bytes with 3 dimensions, or is truncated.
    """
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 16 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    if data[2] != 0x08 or data[3] != 3:
        raise ValueError(f"{path}: expected 3-D unsigned-byte IDX images, got type 0x{data[2]:02x} with {data[3]} dims")
    n, h, w = (int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(3))
    if len(data) - 16 < n * h * w:
        raise ValueError(f"{path}: truncated: header says {n}×{h}×{w} bytes, file holds {len(data) - 16}")
    pixels = np.frombuffer(data, dtype=np.uint8, count=n * h * w, offset=16).reshape(n, 1, h, w)
    return pixels.astype(np.float32) / 127.5 - 1.0


def fashion_mnist(split: str = "train") -> np.ndarray:
    """The real Fashion-MNIST from Debian's dataset-fashion-mnist package."""
    name = {"train": "train-images-idx3-ubyte.gz", "test": "t10k-images-idx3-ubyte.gz"}[split]
    path = os.path.join(FASHION_MNIST_DIR, name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: install Debian's package with "
                                "`apt-get install dataset-fashion-mnist`")
    return load_idx_images(path)
