"""One DCGAN-64 training over K MPI ranks on this machine: time per iteration, what the collectives move, scaling.

    python benchmarks/bench_distributed.py [--ranks 1 2] [--rounds 3] [--iters 4] [--batch 64] [--out DIR]

Each configuration (K ranks of 1 thread each, `mpirun --oversubscribe -np K`, the global batch split K ways) runs
in fresh processes, the K values alternating, `--rounds` times; medians are reported. Per iteration: the wall time
(rank 0; the ranks step together), the collectives each rank calls and the bytes of its own buffers they carry
(all-reduce: the buffer; all-gather: its slice), the seconds spent inside them (waiting for the slowest rank
included) and the strong-scaling efficiency T(1) / (K · T(K)) at the same global batch. The machine's processor is
printed beside the figures. Run it alone: the machine has 2 cores, and 2 ranks take both.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

CONFIG = dict(loss="RaSGAN", arch="dcgan", image_size=64, channels=3, seed=1)


def worker(batch: int, iters: int) -> None:
    """One rank of a measurement (under mpirun, or alone for K = 1): prints rank 0's figures as JSON."""
    import numpy as np

    import swiftgan as sg
    from swiftgan import distributed

    comm = distributed.MPICommunicator()
    gan = sg.GAN(**CONFIG, threads=1)
    gan.distribute(comm)
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (batch, 3, 64, 64)).astype(np.float32)
    gan.train_step(real)  # warm-up: oneDNN's primitives, the pool's buffers
    comm.comm.Barrier()
    before = (comm.collectives, comm.bytes, comm.seconds)
    times = []
    for _ in range(iters):
        started = time.perf_counter()
        gan.train_step(real)
        times.append(time.perf_counter() - started)
    collectives, moved, waited = (now - then for now, then in zip((comm.collectives, comm.bytes, comm.seconds), before))
    parameters = sum(v.size for k, v in gan.state_dict().items() if not k.endswith(("running_mean", "running_var",
                                                                                       "num_batches_tracked")))
    if comm.rank == 0:
        print(json.dumps({"ranks": comm.size, "ms": 1000 * statistics.median(times), "collectives": collectives / iters,
                          "bytes": moved / iters, "collective_ms": 1000 * waited / iters, "parameters": parameters}))


def measure(ranks: int, batch: int, iters: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    command = [sys.executable, os.path.abspath(__file__), "--worker", "--batch", str(batch), "--iters", str(iters)]
    if ranks > 1:
        command = [shutil.which("mpirun") or "mpirun", "--oversubscribe", "-np", str(ranks)] + command
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"K = {ranks} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# Links of the cost model: bandwidth in bytes/s and the latency of one message (MPI over TCP on 10 and 25 GbE,
# RDMA on 100 GbE: typical figures, not measured here).
LINKS = [("10 GbE", 1.25e9, 30e-6), ("25 GbE", 3.125e9, 20e-6), ("100 GbE (RDMA)", 12.5e9, 3e-6)]


def cost_model(rows: list, batch: int) -> list:
    """Time per iteration at K ranks, from this run's figures: compute = fixed + per-sample × samples per rank (the
    two parts solved from K = 1 and K = 2, the time inside collectives taken out), communication = the gradients'
    ring all-reduce (2 (K-1)/K × the gradient bytes over the link, plus 2 (K-1) latencies) + the other collectives,
    small and latency-bound (recursive doubling: log2 K latencies each)."""
    import math

    one = next(r for r in rows if r["ranks"] == 1)
    two = next((r for r in rows if r["ranks"] == 2), None)
    if two is None:
        return []
    compute1, compute2 = one["ms"] - one["collective_ms"], two["ms"] - two["collective_ms"]
    per_sample = (compute1 - compute2) / (batch - batch / 2)
    fixed = compute1 - per_sample * batch
    gradient_bytes = 4 * one["parameters"]
    updates = 2  # one critic and one generator update per iteration (n_critic 1), each one fused all-reduce
    small = two["collectives"] - updates
    out = [f"Cost model (compute per rank = {fixed:.0f} ms + {per_sample:.1f} ms × samples per rank on 1 thread of "
           f"this machine; {updates} fused gradient all-reduces carrying {gradient_bytes / 1e6:.1f} MB in all, "
           f"{small:.0f} small latency-bound collectives per iteration). Global batch {batch} (strong scaling; each "
           f"rank needs at least 2 samples, so K ≤ {batch // 2}) and 32 samples per rank (weak scaling: the batch "
           "grows with K):", "",
           "| K | link | batch 64: ms / iteration | speed-up over K = 1 | 32 per rank: ms / iteration | efficiency |",
           "|---|---|---|---|---|---|"]
    for k in (8, 16, 32, 64):
        for name, bandwidth, latency in LINKS:
            ring = 2 * (k - 1) / k * gradient_bytes / bandwidth + updates * 2 * (k - 1) * latency
            latency_bound = small * math.ceil(math.log2(k)) * latency
            communication = 1000 * (ring + latency_bound)
            strong = fixed + per_sample * batch / k + communication if batch // k >= 2 else None
            weak = fixed + per_sample * 32 + communication
            strong_text = f"{strong:.0f}" if strong is not None else "—"
            speed = f"{one['ms'] / strong:.1f}×" if strong is not None else "—"
            out.append(f"| {k} | {name} | {strong_text} | {speed} | {weak:.0f} | {(fixed + per_sample * 32) / weak:.2f} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iters", type=int, default=4)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--out", default=None)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.batch, args.iters)
    from bench_vs_torch import processor

    print(f"processor: {processor()}; {os.cpu_count()} cores")
    runs = {k: [] for k in args.ranks}
    for round_ in range(args.rounds):
        for k in args.ranks:
            runs[k].append(measure(k, args.batch, args.iters))
            print(f"round {round_ + 1}, K = {k}: {runs[k][-1]['ms']:.0f} ms per iteration", flush=True)
    rows = []
    base = statistics.median(r["ms"] for r in runs[args.ranks[0]])
    for k in args.ranks:
        ms = statistics.median(r["ms"] for r in runs[k])
        rows.append(dict(ranks=k, ms=ms, collectives=runs[k][0]["collectives"], bytes=runs[k][0]["bytes"],
                         collective_ms=statistics.median(r["collective_ms"] for r in runs[k]),
                         efficiency=base * args.ranks[0] / (k * ms), parameters=runs[k][0]["parameters"]))
    lines = [f"DCGAN-64×3 RaSGAN, global batch {args.batch}, 1 thread per rank, {processor()}; medians of "
             f"{args.rounds} alternating rounds of {args.iters} iterations", "",
             "| ranks K | ms / iteration | collectives / iteration (per rank) | MB moved / iteration (per rank) "
             "| ms inside collectives | scaling efficiency T(1)/(K·T(K)) |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['ranks']} | {r['ms']:.0f} | {r['collectives']:.0f} | {r['bytes'] / 1e6:.1f} | "
                     f"{r['collective_ms']:.0f} | {r['efficiency']:.2f} |")
    lines.append("")
    lines.append(f"{rows[0]['parameters']:,} parameters (G and D).")
    lines += [""] + cost_model(rows, args.batch)
    text = "\n".join(lines)
    print(text)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "bench_distributed.md"), "w") as f:
            f.write(text + "\n")
        with open(os.path.join(args.out, "bench_distributed.json"), "w") as f:
            json.dump({"processor": processor(), "rows": rows, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
