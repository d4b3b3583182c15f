"""A folder of generated CelebA-sized JPEGs (178×218 RGB, as img_align_celeba), for the data-pipeline benchmark.

    python3 benchmarks/make_jpeg_folder.py /tmp/celeba-like --count 50000 [--seed 0] [--workers 2]

Each image is a smooth random scene (a background gradient, a few ellipses, mild noise) saved at JPEG quality 90,
so files have the size and decoding cost of real photographs (≈ 8-15 kB) rather than of noise (≈ 100 kB) or of
flat colour (≈ 2 kB). Files are named 000001.jpg, ... as CelebA's; an existing folder is refused.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys

import numpy as np

WIDTH, HEIGHT = 178, 218


def make_image(index: int, seed: int) -> "np.ndarray":
    rng = np.random.default_rng([seed, index])
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    top, bottom = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    image = top + (bottom - top) * (y / HEIGHT)[..., None]
    for _ in range(rng.integers(3, 7)):
        cy, cx = rng.uniform(0, HEIGHT), rng.uniform(0, WIDTH)
        ry, rx = rng.uniform(15, 80), rng.uniform(15, 60)
        inside = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 < 1
        image[inside] = 0.5 * image[inside] + 0.5 * rng.uniform(0, 255, 3)
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_range(task) -> int:
    from PIL import Image

    folder, start, stop, seed = task
    for index in range(start, stop):
        Image.fromarray(make_image(index, seed)).save(os.path.join(folder, f"{index + 1:06d}.jpg"), quality=90)
    return stop - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--count", type=int, default=50000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    if os.path.exists(args.folder):
        print(f"{args.folder} exists: give a new folder", file=sys.stderr)
        return 2
    os.makedirs(args.folder)
    tasks = [(args.folder, start, min(start + 500, args.count), args.seed) for start in range(0, args.count, 500)]
    done = 0
    with multiprocessing.Pool(args.workers) as pool:
        for written in pool.imap_unordered(write_range, tasks):
            done += written
            print(f"\r{done:,}/{args.count:,} images", end="", file=sys.stderr)
    print(file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
