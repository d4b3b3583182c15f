"""Sample grids as PNG (Pillow), and how Jupyter shows a GAN."""
from __future__ import annotations

import math
import os
from typing import BinaryIO, Optional, Union

import numpy as np

from .gan import GAN


def make_grid(images: np.ndarray, nrow: Optional[int] = None, padding: int = 2) -> np.ndarray:
    """Tiles float images [N, C, H, W] in [-1, 1] into one uint8 image [H', W', C] (C = 1 or 3),
    `nrow` images per row (default: a square), `padding` pixels between them."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must have shape [N, 1 or 3, H, W], got {list(images.shape)}")
    n, c, h, w = images.shape
    if n == 0:
        raise ValueError("images is empty")
    nrow = nrow or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / nrow))
    grid = np.zeros((rows * (h + padding) + padding, nrow * (w + padding) + padding, c), dtype=np.uint8)
    pixels = np.clip((images + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y:y + h, x:x + w] = pixels[i]
    return grid


def write_png(grid: np.ndarray, target: Union[str, BinaryIO]) -> None:
    """Writes a uint8 image [H, W, C] (C = 1 or 3, as `make_grid` returns) as a PNG to a path or binary file."""
    from PIL import Image

    Image.fromarray(grid[:, :, 0] if grid.shape[2] == 1 else grid).save(target, format="png")


def save_grid(images: np.ndarray, path: str, nrow: Optional[int] = None, padding: int = 2) -> str:
    """Writes `make_grid(images)` as a PNG to `path` and returns the path."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_png(make_grid(images, nrow, padding), path)
    return path


def gan_picture(gan) -> Optional[bytes]:
    """How Jupyter shows a GAN (its `_repr_png_`): a grid of 64 samples from a fixed latent batch (`latents(64)`);
    for the MLP on 2-D data, a scatter plot of 2,000 such samples; None for other data, or without Pillow and
    matplotlib (Jupyter then shows the repr)."""
    import io

    buffer = io.BytesIO()
    try:
        if gan.config["arch"] == "mlp":
            if gan.sample_shape != (2,):
                return None
            from .plots import scatter_figure

            scatter_figure(gan.generate(gan.latents(2000))).savefig(buffer, format="png")
        else:
            write_png(make_grid(gan.generate(gan.latents(64)), nrow=8), buffer)
    except ImportError:
        return None
    return buffer.getvalue()


GAN._picture = gan_picture
