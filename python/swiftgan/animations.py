"""Latent morphing and training-evolution animations, written as GIF (Pillow) or MP4 (ffmpeg) by imageio."""
from __future__ import annotations

import os
import re
from typing import List, Sequence

import numpy as np

from .images import make_grid

MIN_FRAME_SIZE = 256  # small grids are enlarged (nearest neighbour, integer factor) to at least this many pixels


def interpolate(a: np.ndarray, b: np.ndarray, t: float, method: str = "slerp") -> np.ndarray:
    """Points between latents `a` and `b` ([N, z_dim], row by row) at fraction `t` ∈ [0, 1].

    "linear": (1 − t)·a + t·b. "slerp": the spherical interpolation
    sin((1 − t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b, with Ω the angle between a and b, which keeps a
    Gaussian latent at the norm the generator was trained on (linear where Ω is nearly 0).
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if method == "linear":
        return ((1 - t) * a + t * b).astype(np.float32)
    if method != "slerp":
        raise ValueError(f"method must be 'slerp' or 'linear', got {method!r}")
    unit_a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    unit_b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
    omega = np.arccos(np.clip(np.sum(unit_a * unit_b, axis=-1, keepdims=True), -1, 1))
    sine = np.sin(omega)
    nearly_parallel = sine < 1e-6
    safe = np.where(nearly_parallel, 1.0, sine)
    spherical = (np.sin((1 - t) * omega) / safe) * a + (np.sin(t * omega) / safe) * b
    return np.where(nearly_parallel, (1 - t) * a + t * b, spherical).astype(np.float32)


def enlarge(frame: np.ndarray, min_size: int = MIN_FRAME_SIZE) -> np.ndarray:
    """`frame` [H, W, C] uint8 repeated by the smallest integer factor that makes its shorter side ≥ `min_size`."""
    factor = max(1, -(-min_size // min(frame.shape[:2])))
    return frame.repeat(factor, axis=0).repeat(factor, axis=1) if factor > 1 else frame


def morph_frames(gan, points: int = 4, steps: int = 24, n: int = 16, method: str = "slerp", seed: int = 0,
                 nrow: int | None = None) -> List[np.ndarray]:
    """Frames uint8 [H, W, C] of `n` morphs side by side in a grid: each walks through `points` latent points
    (drawn from the GAN's latent distribution with `seed`) and back to the first, `steps` frames per leg, so
    that the animation loops seamlessly."""
    for name, value, least in (("points", points, 2), ("steps", steps, 1), ("n", n, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{name} must be an int ≥ {least}, got {value!r}")
    if len(gan.sample_shape) != 3:
        raise ValueError("morphing needs an image GAN (this one generates points, not images)")
    keys = gan.latents(points * n, seed).reshape(points, n, gan.z_dim)
    frames = []
    for leg in range(points):
        a, b = keys[leg], keys[(leg + 1) % points]
        for step in range(steps):
            images = gan.generate(interpolate(a, b, step / steps, method))
            frames.append(enlarge(make_grid(images, nrow=nrow)))
    return frames


def save_animation(frames: Sequence[np.ndarray], path: str, fps: float = 12) -> str:
    """Writes frames uint8 [H, W, C] (C = 1 or 3) as an animation: `.gif` (looping) or `.mp4` (H.264 through
    imageio-ffmpeg; frames padded to even sizes). Returns the path.

    Raises:
        ValueError: for another extension, no frames or a non-positive fps.
    """
    import imageio.v2 as imageio

    if not frames:
        raise ValueError("no frames to write")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    extension = os.path.splitext(path)[1].lower()
    if extension not in (".gif", ".mp4"):
        raise ValueError(f"{path}: an animation is written as .gif or .mp4, got {extension or 'no extension'!r}")
    frames = [f[:, :, 0] if f.ndim == 3 and f.shape[2] == 1 else f for f in frames]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".partial" + extension  # complete or absent: a killed write leaves no broken file at `path`
    if extension == ".gif":
        imageio.mimsave(tmp, frames, format="GIF", duration=1000.0 / fps, loop=0)
    else:
        h, w = frames[0].shape[:2]
        padded = [np.pad(f if f.ndim == 3 else np.repeat(f[:, :, None], 3, axis=2),
                         ((0, (-h) % 16), (0, (-w) % 16), (0, 0))) for f in frames]
        with imageio.get_writer(tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264", quality=8,
                                pixelformat="yuv420p", macro_block_size=16) as writer:
            for frame in padded:
                writer.append_data(frame)
    os.replace(tmp, path)
    return path


def morph(gan, path: str, points: int = 4, steps: int = 24, n: int = 16, method: str = "slerp", seed: int = 0,
          fps: float = 12) -> str:
    """Writes `morph_frames(gan, points, steps, n, method, seed)` to `path` (.gif or .mp4); returns the path."""
    return save_animation(morph_frames(gan, points, steps, n, method, seed), path, fps)


_GRID_NAME = re.compile(r"^iter_(\d+)\.png$")


def sample_grids(folder: str) -> List[tuple]:
    """The sample grids `iter_NNNNNN.png` in `folder` as (iteration, path), by iteration."""
    if not os.path.isdir(folder):
        return []
    found = [(int(m.group(1)), os.path.join(folder, name)) for name in os.listdir(folder)
             if (m := _GRID_NAME.match(name))]
    return sorted(found)


def evolution(folder: str, path: str, fps: float = 4) -> str:
    """Writes the sample grids of `folder` (one fixed latent batch across training) as an animation."""
    from PIL import Image

    grids = sample_grids(folder)
    if not grids:
        raise ValueError(f"no sample grids (iter_NNNNNN.png) in {folder}")
    frames = []
    for _, grid_path in grids:
        with Image.open(grid_path) as image:
            frames.append(enlarge(np.asarray(image.convert("RGB"))))
    return save_animation(frames, path, fps)
