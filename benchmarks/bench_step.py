"""Time per training iteration, SwiftGAN beside PyTorch, in one run.

    python benchmarks/bench_step.py [--torch-python /opt/torchref/bin/python] [--iters 10] [--warmup 3]

Each configuration (DCGAN 32×32×1 and 64×64×3, RaSGAN, batch 64, ngf = ndf = 64, z = 100, Adam)
runs in SwiftGAN in this process and in PyTorch in a subprocess (a Python that has torch, such as
the /opt/torchref virtual environment), alternately, with the same thread count; the table reports
the median time per iteration and the ratio PyTorch / SwiftGAN (above 1: SwiftGAN is faster).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

CONFIGS = [dict(name="DCGAN-32x1", image_size=32, channels=1), dict(name="DCGAN-64x3", image_size=64, channels=3)]
COMMON = dict(batch=64, z_dim=100, ngf=64, ndf=64, loss="RaSGAN")

TORCH_WORKER = r'''
import json, sys, time, torch
sys.path.insert(0, sys.argv[1])
import swiftgan_reference as ref
cfg = json.loads(sys.argv[2]); iters, warmup = int(sys.argv[3]), int(sys.argv[4])
torch.manual_seed(0)
G = ref.DCGANGenerator(cfg["image_size"], cfg["channels"], cfg["z_dim"], cfg["ngf"])
D = ref.DCGANDiscriminator(cfg["image_size"], cfg["channels"], cfg["ndf"])
ref.dcgan_init(G); ref.dcgan_init(D)
od = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
og = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
b = cfg["batch"]
real = torch.rand(b, cfg["channels"], cfg["image_size"], cfg["image_size"]) * 2 - 1
times = []
for i in range(warmup + iters):
    t = time.perf_counter()
    ref.train_iteration(G, D, od, og, cfg["loss"], [real], [torch.randn(b, cfg["z_dim"])], torch.randn(b, cfg["z_dim"]))
    if i >= warmup:
        times.append(time.perf_counter() - t)
print(json.dumps({"times": times, "threads": torch.get_num_threads(), "version": torch.__version__}))
'''


def time_swiftgan(cfg, iters, warmup):
    import swiftgan

    gan = swiftgan.GAN(loss=cfg["loss"], image_size=cfg["image_size"], channels=cfg["channels"], z_dim=cfg["z_dim"],
                       ngf=cfg["ngf"], ndf=cfg["ndf"], seed=0)
    real = np.random.default_rng(0).uniform(-1, 1, (cfg["batch"], cfg["channels"], cfg["image_size"],
                                                     cfg["image_size"])).astype(np.float32)
    times = []
    for i in range(warmup + iters):
        t = time.perf_counter()
        gan.train_step(real)
        if i >= warmup:
            times.append(time.perf_counter() - t)
    gan.close()
    return times


def time_torch(python, cfg, iters, warmup):
    reference = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference")
    out = subprocess.run([python, "-c", TORCH_WORKER, reference, json.dumps(cfg), str(iters), str(warmup)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"the PyTorch worker failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--torch-python", default="/opt/torchref/bin/python")
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="alternations of SwiftGAN and PyTorch per config")
    args = parser.parse_args()
    print(f"{'config':<12} {'SwiftGAN ms/it':>15} {'PyTorch ms/it':>15} {'PyTorch/SwiftGAN':>17}")
    for base in CONFIGS:
        cfg = {**COMMON, **base}
        ours, theirs, info = [], [], {}
        for _ in range(args.rounds):
            ours += time_swiftgan(cfg, args.iters, args.warmup)
            info = time_torch(args.torch_python, cfg, args.iters, args.warmup)
            theirs += info["times"]
        a, b = statistics.median(ours) * 1e3, statistics.median(theirs) * 1e3
        print(f"{cfg['name']:<12} {a:>15.1f} {b:>15.1f} {b / a:>17.2f}", flush=True)
    print(f"(batch {COMMON['batch']}, RaSGAN, Adam, medians of {args.rounds}×{args.iters} iterations; "
          f"torch {info.get('version')} with {info.get('threads')} threads; SwiftGAN with OpenBLAS's threads)")


if __name__ == "__main__":
    main()
