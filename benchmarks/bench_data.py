"""The data pipeline at CelebA's scale: caching throughput, the start of a resumed run, and the peak memory of a
64×64 training over 50,000 images against 5,000, with the time each step waited for its batch.

    python3 benchmarks/bench_data.py --work /tmp/bench-data [--count 50000] [--subset 5000] [--rounds 3]
                                     [--iters 60] [--out benchmarks/results/data-pipeline]

Run it alone on the machine (nothing else running). It makes (once, kept in --work) a folder of --count generated
CelebA-sized JPEGs (benchmarks/make_jpeg_folder.py) and a folder of the first --subset of them (hard links), then
measures, each in a fresh process:

1. first-time caching: `plan_dataset(...).open()` into an empty cache directory, at 3×64×64 on every core (images/s);
   and, for scale, what every start and resume did before the cache: `load_dataset` decoding the subset into RAM
   as float32 (images/s and peak RSS; the whole folder's figures are extrapolated, not run);
2. the start of a resumed run: `train(resume=...)` of a run over the whole folder to one more iteration, in a
   fresh process (its wall time: import, the folder listed and keyed, the cache opened, the checkpoint, one step);
3. peak RSS of `swiftgan train` at 64×64×3 (DCGAN, batch 64, --iters) over the whole folder and over the subset,
   --rounds alternating rounds each (median), with the time each step waited for its batch (the sampler's own
   measure: reading and converting a batch happens in a thread while the previous step trains).

Writes data-pipeline.md and data-pipeline.json into --out, with the processor (lscpu) beside the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def processor() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return "unknown"
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    get = lambda key: fields.get(key, "?").strip()
    return f"{get('Model name')}, family {get('CPU family')} model {get('Model')}, {os.cpu_count()} cores"


def python(code: str, env=None) -> dict:
    """Runs `code` in a fresh Python; it prints one JSON line last, returned with the process's wall time."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall"] = time.monotonic() - started
    return result


def make_folders(work: str, count: int, subset: int) -> "tuple[str, str]":
    full, part = os.path.join(work, f"jpegs-{count}"), os.path.join(work, f"jpegs-{subset}")
    if not os.path.isdir(full):
        subprocess.run([sys.executable, os.path.join(HERE, "make_jpeg_folder.py"), full, "--count", str(count)],
                       check=True)
    if not os.path.isdir(part):
        os.makedirs(part + ".partial", exist_ok=True)
        for name in sorted(os.listdir(full))[:subset]:
            os.link(os.path.join(full, name), os.path.join(part + ".partial", name))
        os.rename(part + ".partial", part)
    return full, part


CACHE = """
import json, resource, time
from swiftgan.datacache import plan_dataset
started = time.monotonic()
plan = plan_dataset({folder!r}, image_size=64, channels=3, cache_dir={cache!r})
listed = time.monotonic() - started
cache = plan.open(progress=False)
print(json.dumps({{"images": len(cache), "listed": listed, "seconds": time.monotonic() - started,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

LOAD = """
import json, resource, time
from swiftgan.datasets import load_dataset
started = time.monotonic()
images = load_dataset({folder!r}, image_size=64, channels=3)
print(json.dumps({{"images": len(images), "seconds": time.monotonic() - started,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

TRAIN = """
import contextlib, io, json, resource, sys, time
import swiftgan
out, err = io.StringIO(), io.StringIO()
started = time.monotonic()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    run = swiftgan.train({out!r}, {resume}dataset={folder!r}, image_size=64, channels=3, batch_size=64, iters={iters},
                         sample_every=10**6, save_every=10**6, morph=False, tensorboard=False, cache_dir={cache!r},
                         threads=2, progress=True)
wall = time.monotonic() - started
waited = [float(m) for m in __import__("re").findall(r"waited ([0-9.]+) ms per batch", out.getvalue())]
times = run.metrics["time"]
print(json.dumps({{"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "wall": wall,
                  "waited_ms": waited[-1] if waited else None, "iterations": int(run.iteration),
                  "step_s": float((times[-1] - times[0]) / max(len(times) - 1, 1)) if len(times) > 1 else None}}))
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", required=True, help="where the generated folders, caches and runs go")
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--subset", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iters", type=int, default=60)
    parser.add_argument("--out", default=os.path.join(HERE, "results", "data-pipeline"))
    args = parser.parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    full, part = make_folders(args.work, args.count, args.subset)
    cache = os.path.join(args.work, "cache")
    shutil.rmtree(cache, ignore_errors=True)
    figures: dict = {"processor": processor(), "count": args.count, "subset": args.subset}

    print("1. caching", file=sys.stderr)
    built = python(CACHE.format(folder=full, cache=cache))
    figures["caching"] = {**built, "images_per_s": built["images"] / built["seconds"]}
    again = python(CACHE.format(folder=full, cache=cache))
    figures["cache_reopened"] = again
    python(CACHE.format(folder=part, cache=cache))
    old = python(LOAD.format(folder=part))
    figures["load_dataset_subset"] = {**old, "images_per_s": old["images"] / old["seconds"],
                                      "extrapolated_full_s": old["seconds"] * args.count / old["images"],
                                      "extrapolated_full_float32_gb": args.count * 3 * 64 * 64 * 4 / 2**30}

    print("2. resume", file=sys.stderr)
    run = os.path.join(args.work, "resumed-run")
    shutil.rmtree(run, ignore_errors=True)
    python(TRAIN.format(out=run, resume="", folder=full, iters=5, cache=cache))
    resumed = python(TRAIN.format(out=None, resume=f"resume={run!r}, ", folder=full, iters=6, cache=cache))
    figures["resume"] = resumed

    print("3. training memory", file=sys.stderr)
    rows = {"full": [], "subset": []}
    for round_ in range(args.rounds):
        for name, folder in (("full", full), ("subset", part)) if round_ % 2 == 0 else (("subset", part), ("full", full)):
            out = os.path.join(args.work, f"run-{name}")
            shutil.rmtree(out, ignore_errors=True)
            rows[name].append(python(TRAIN.format(out=out, resume="", folder=folder, iters=args.iters, cache=cache)))
            print(f"  {name}: {rows[name][-1]}", file=sys.stderr)
    median = lambda name, key: statistics.median(r[key] for r in rows[name])
    figures["training"] = {name: {"rounds": rows[name], "rss_mb": median(name, "rss_mb"),
                                  "waited_ms": median(name, "waited_ms"), "step_s": median(name, "step_s")}
                           for name in rows}
    ratio = figures["training"]["full"]["rss_mb"] / figures["training"]["subset"]["rss_mb"]
    figures["training"]["rss_full_over_subset"] = ratio

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "data-pipeline.json"), "w") as f:
        json.dump(figures, f, indent=2)
    t, c, o = figures["training"], figures["caching"], figures["load_dataset_subset"]
    lines = [f"# The data pipeline at {args.count:,} CelebA-sized JPEGs (178×218), 64×64×3", "",
             f"Processor: {figures['processor']}.", "",
             "| measure | figure |", "|---|---|",
             f"| first-time caching of {args.count:,} images (decode, resize, crop; every core) | "
             f"{c['seconds']:.1f} s, {c['images_per_s']:.0f} images/s, peak RSS {c['rss_mb']:.0f} MB |",
             f"| the cache opened again (listing and keying the folder) | {again['seconds']:.2f} s |",
             f"| before the cache: `load_dataset` of {args.subset:,} into RAM as float32 | {o['seconds']:.1f} s, "
             f"{o['images_per_s']:.0f} images/s, peak RSS {o['rss_mb']:.0f} MB; for {args.count:,}: "
             f"≈ {o['extrapolated_full_s']:.0f} s and {o['extrapolated_full_float32_gb']:.1f} GB at every start |",
             f"| `train(resume=...)` of a run over {args.count:,} images to one more iteration, in a fresh process "
             f"(import, listing and keying the folder, opening the cache, the checkpoint, one step of "
             f"≈ {t['full']['step_s']:.1f} s, the run's plots) | {resumed['wall']:.1f} s |",
             f"| peak RSS, {args.iters} iterations of DCGAN 64×64×3, batch 64: {args.count:,} images | "
             f"{t['full']['rss_mb']:.0f} MB (median of {args.rounds}) |",
             f"| the same over {args.subset:,} images | {t['subset']['rss_mb']:.0f} MB |",
             f"| ratio | {ratio:.3f} |",
             f"| waited for data per step ({args.count:,} / {args.subset:,}) | {t['full']['waited_ms']:.2f} / "
             f"{t['subset']['waited_ms']:.2f} ms, against a step of {t['full']['step_s'] * 1000:.0f} ms |"]
    with open(os.path.join(args.out, "data-pipeline.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
