"""Every loss on the ring of 8 Gaussians, over several data seeds: an uncurated table of modes covered and the
share of samples within 3σ of a mode, with the settings of python/tests/test_toy.py.

    python benchmarks/toy_ring.py [--seeds 0 1 2] [--iters 2000] [--losses RaSGAN WGAN ...] [--workers 2]
                                  [--set z_dim=4 lr_d=1e-4 betas=[0.5,0.999] ...] [--engine pytorch]

Each (loss, seed) trains in its own process with one thread. `--engine pytorch` (run with a Python that
has torch and swiftgan) trains the PyTorch twin instead, through reference/toy.py with the options SwiftGAN
resolves, one torch thread per process: the same table for the reference implementation. Outcomes near the test's threshold move
with the data seed and with float rounding (thread count, OpenBLAS kernel), which is what this table shows.
"""
import argparse
import concurrent.futures
import json
import multiprocessing
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))


def main():
    from swiftgan.toy import settings_for, toy_losses as all_losses

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--losses", nargs="+", default=None)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--engine", choices=["swiftgan", "pytorch"], default="swiftgan")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override a GAN option for every loss (values in JSON: 4, 1e-4, [0.5,0.999], true)")
    args = parser.parse_args()
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value)
        if isinstance(overrides[key], list):
            overrides[key] = tuple(overrides[key])
    losses = args.losses or all_losses()

    if args.engine == "pytorch":
        from toy import train_on_ring  # reference/toy.py: the PyTorch twin
    else:
        from swiftgan.toy import train_on_ring
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    os.environ["OMP_NUM_THREADS"] = "1"  # one thread per worker: SwiftGAN's default and torch's intra-op threads
    start = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=args.workers, mp_context=context) as pool:
        futures = {(loss, seed): pool.submit(train_on_ring, loss, iterations=args.iters, data_seed=seed,
                                             **{**settings_for(loss), **overrides})
                   for loss in losses for seed in args.seeds}
        results = {key: future.result() for key, future in futures.items()}
    print(f"{'loss':<16}" + "".join(f"  seed {s:<9}" for s in args.seeds) + "  passes")
    for loss in losses:
        cells, passes = [], 0
        for seed in args.seeds:
            r = results[(loss, seed)]
            ok = r["modes_covered"] >= 6 and r["high_quality"] >= 0.5
            passes += ok
            cells.append(f"  {r['modes_covered']}/8 {r['high_quality']:.2f}{' ' if ok else '*'}   ")
        print(f"{loss:<16}" + "".join(cells) + f"  {passes}/{len(args.seeds)}")
    print(f"(modes covered / share within 3σ; * misses the test's bar of 6 modes and 0.5; {overrides or ''} "
          f"{args.iters} iterations; {args.engine}; {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
