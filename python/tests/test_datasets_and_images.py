"""IDX reading, sample grids and the demo, on files the tests write themselves."""
import gzip
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from swiftgan import load_idx_images, make_grid, save_grid
from swiftgan.datasets import FASHION_MNIST_DIR


def write_idx(path, pixels, compress=False):
    n, h, w = pixels.shape
    data = bytes([0, 0, 0x08, 3]) + b"".join(int(v).to_bytes(4, "big") for v in (n, h, w)) + pixels.tobytes()
    with (gzip.open if compress else open)(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_images_are_scaled_to_minus_one_one(tmp_path, compress):
    pixels = np.array([[[0, 255], [127, 64]], [[1, 2], [3, 4]]], dtype=np.uint8)
    path = str(tmp_path / ("x.idx.gz" if compress else "x.idx"))
    write_idx(path, pixels, compress)
    images = load_idx_images(path)
    assert images.shape == (2, 1, 2, 2) and images.dtype == np.float32
    np.testing.assert_allclose(images[0, 0], pixels[0] / 127.5 - 1)


def test_truncated_and_foreign_idx_files_are_clear_errors(tmp_path):
    path = str(tmp_path / "short.idx")
    write_idx(path, np.zeros((3, 4, 4), np.uint8))
    with open(path, "r+b") as f:
        f.truncate(30)
    with pytest.raises(ValueError, match=r"truncated: header says 3×4×4 bytes, file holds 14"):
        load_idx_images(path)
    other = str(tmp_path / "labels.idx")
    with open(other, "wb") as f:
        f.write(bytes([0, 0, 0x08, 1]) + (5).to_bytes(4, "big") + bytes(5) + bytes(8))
    with pytest.raises(ValueError, match="expected 3-D unsigned-byte IDX images, got type 0x08 with 1 dims"):
        load_idx_images(other)


def test_grid_tiles_images_with_padding(tmp_path):
    images = np.full((5, 3, 4, 4), -1, np.float32)
    images[4] = 1
    grid = make_grid(images, nrow=3, padding=1)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1, 3) and grid.dtype == np.uint8
    assert grid[6:10, 6:10].min() == 255 and grid[1:5, 1:5].max() == 0
    path = save_grid(images[:, :1], str(tmp_path / "g.png"))
    assert Image.open(path).size == (3 * 6 + 2, 2 * 6 + 2)
    with pytest.raises(ValueError, match=r"images must have shape \[N, 1 or 3, H, W\], got \[2, 2, 4, 4\]"):
        make_grid(np.zeros((2, 2, 4, 4)))


@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST_DIR), reason="Debian's dataset-fashion-mnist is not installed")
def test_demo_trains_on_fashion_mnist_and_writes_a_grid(tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run([sys.executable, "-m", "swiftgan.demo", "--out", str(out), "--iters", "3", "--batch", "8"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Fashion-MNIST: 60000 images of (1, 32, 32)" in result.stdout
    assert Image.open(out / "samples.png").size == (8 * 34 + 2, 8 * 34 + 2)
    assert (out / "checkpoint" / "weights.safetensors").exists()
