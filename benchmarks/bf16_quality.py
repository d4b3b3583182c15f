"""Does precision="bf16" train as well as float32? FID at the end of seeded runs of both, on real Fashion-MNIST.

    python benchmarks/bf16_quality.py --out /tmp/bf16-quality [--losses RaSGAN RaLSGAN-GP] [--seeds 3]
        [--iters 600] [--eval-n 2000]

A `swiftgan study` of every loss in both precisions (the runs `LOSS-fp32` and `LOSS-bf16`, seeds 1..S, DCGAN
32×32×1, batch 64, the shipped Fashion-MNIST feature network), evaluated once, at the end. Then, per loss, the
seeds' final FIDs of the two precisions side by side, the difference of their means, and the permutation test of
`swiftgan compare` (`compare.permutation_p`: are both precisions' FIDs one distribution?), beside the seed-to-seed
spread of float32 itself. Written to `--out`/bf16_quality.md and .json; rerunning continues the study.
"""
import argparse
import csv
import json
import os
import statistics
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="the study folder")
    parser.add_argument("--losses", nargs="+", default=["RaSGAN", "RaLSGAN-GP"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--iters", type=int, default=600)
    parser.add_argument("--eval-n", type=int, default=2000)
    args = parser.parse_args()

    from swiftgan.compare import permutation_p
    from swiftgan.study import study

    runs = {f"{loss}-{precision}": {"loss": loss, "precision": precision}
            for loss in args.losses for precision in ("fp32", "bf16")}
    study(args.out, runs, seeds=args.seeds, iters=args.iters, eval_every=args.iters, eval_n=args.eval_n,
          dataset="fashion-mnist", image_size=32, batch_size=64)

    last = {}  # (run, seed) -> FID at the last evaluation
    with open(os.path.join(args.out, "runs.csv")) as f:
        for row in csv.DictReader(f):
            if row["fid"] and not row["diverged_at"]:
                last[(row["loss"], int(row["seed"]))] = (int(row["iteration"]), float(row["fid"]))
    lines = [f"# bfloat16 against float32: FID after {args.iters} iterations, {args.seeds} seeds, real Fashion-MNIST",
             "", "| loss | seed | FID fp32 | FID bf16 |", "|---|---|---|---|"]
    report = {"iters": args.iters, "seeds": args.seeds, "eval_n": args.eval_n, "losses": {}}
    for loss in args.losses:
        fids = {p: [last[(f"{loss}-{p}", s)][1] for s in range(1, args.seeds + 1) if (f"{loss}-{p}", s) in last]
                for p in ("fp32", "bf16")}
        for s in range(1, args.seeds + 1):
            cells = [f"{last[(f'{loss}-{p}', s)][1]:.2f}" if (f"{loss}-{p}", s) in last else "diverged or missing"
                     for p in ("fp32", "bf16")]
            lines.append(f"| {loss} | {s} | {cells[0]} | {cells[1]} |")
        entry = {"fid": fids}
        if min(len(v) for v in fids.values()) >= 2:
            entry.update(mean={p: statistics.mean(v) for p, v in fids.items()},
                         std={p: statistics.stdev(v) for p, v in fids.items()},
                         difference=statistics.mean(fids["bf16"]) - statistics.mean(fids["fp32"]),
                         p=permutation_p(fids["bf16"], fids["fp32"]))
        report["losses"][loss] = entry
    lines += ["", "| loss | FID fp32 mean ± std | FID bf16 mean ± std | bf16 − fp32 | permutation p |",
              "|---|---|---|---|---|"]
    for loss, e in report["losses"].items():
        if "p" in e:
            lines.append(f"| {loss} | {e['mean']['fp32']:.2f} ± {e['std']['fp32']:.2f} | "
                         f"{e['mean']['bf16']:.2f} ± {e['std']['bf16']:.2f} | {e['difference']:+.2f} | {e['p']:.3g} |")
        else:
            lines.append(f"| {loss} | fewer than 2 seeds finished in a precision | | | |")
    lines += ["", "FID of the last evaluation of each run (the shipped Fashion-MNIST feature network, "
                  f"{args.eval_n} samples against {args.eval_n} images); the permutation test is exact over the "
                  "splits of the pooled seeds (with 3 seeds a side its smallest p is 0.1)."]
    with open(os.path.join(args.out, "bf16_quality.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, "bf16_quality.json"), "w") as f:
        json.dump(report, f, indent=2)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
