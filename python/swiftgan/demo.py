"""Trains a small RaSGAN on the real Fashion-MNIST and writes a sample grid.

    python -m swiftgan.demo [--out runs/demo] [--iters 400] [--batch 64] [--seed 1]

Fashion-MNIST comes from Debian's dataset-fashion-mnist package; its 28×28 images are resized to
32×32 and drawn in seeded epochs by `BatchSampler`. The run folder receives `samples.png` (64 samples from a
fixed latent batch), `real.png` (64 training images, for comparison) and a checkpoint.
"""
import argparse
import os
import sys
import time

import numpy as np

from .datasets import BatchSampler, load_dataset
from .gan import GAN
from .images import save_grid


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m swiftgan.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/demo", help="run folder (default runs/demo)")
    parser.add_argument("--iters", type=int, default=400, help="training iterations (default 400)")
    parser.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.iters < 1 or args.batch < 2:
        parser.error("--iters must be ≥ 1 and --batch ≥ 2")

    images = load_dataset("fashion-mnist", image_size=32, channels=1)
    print(f"Fashion-MNIST: {len(images)} images of {images.shape[1:]}", flush=True)
    sampler = BatchSampler(images, args.batch, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    gan = GAN(loss="RaSGAN", image_size=32, channels=1, z_dim=64, ngf=32, ndf=32, lr_d=2e-4, lr_g=2e-4,
              betas=(0.5, 0.999), seed=args.seed)
    fixed_z = rng.standard_normal((64, 64)).astype(np.float32)
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    for it in range(1, args.iters + 1):
        stats = gan.train_step(sampler.next())
        if it % 25 == 0 or it == args.iters:
            rate = it / (time.perf_counter() - start)
            print(f"[{it:>5}/{args.iters}] {rate:5.1f} it/s  d_loss {stats['d_loss']:.3f}  g_loss {stats['g_loss']:.3f}  "
                  f"D(x_r) {stats['d_real']:+.2f}  D(x_f) {stats['d_fake']:+.2f}", flush=True)
    samples = save_grid(gan.generate(fixed_z), os.path.join(args.out, "samples.png"), nrow=8)
    save_grid(images[rng.integers(0, len(images), 64)], os.path.join(args.out, "real.png"), nrow=8)
    gan.save(os.path.join(args.out, "checkpoint"))
    print(f"wrote {samples}, {os.path.join(args.out, 'real.png')} and {os.path.join(args.out, 'checkpoint')}")
    gan.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
