"""SwiftGAN beside PyTorch on the CPU, in one run: training steps, sampling, import time and peak memory.

    python benchmarks/bench_vs_torch.py --torch-python /opt/torchref/bin/python [--rounds 3] [--iters 8]
        [--threads N] [--profile] [--only NAME ...] [--out benchmarks/results]

Every measurement runs in a fresh process of its own (so that peak RSS is the engine's alone), SwiftGAN's
and PyTorch's alternating, `--rounds` times, with the same thread count (default: the cores available).
PyTorch is written as a user writes it: the `torch.nn` DCGAN pair of `reference/` (the official relativistic
GAN code's networks), `loss.backward()`, `torch.optim.Adam`; the D step on `G(z).detach()`, the G step on a
fresh batch, RaSGAN's losses as the paper's code writes them, WGAN-GP's penalty through
`torch.autograd.grad(..., create_graph=True)`. SwiftGAN is `swiftgan.GAN(...).train_step(real)`.

For each training configuration it reports the median milliseconds per iteration of each engine, their
ratio (above 1: SwiftGAN is faster), the peak RSS of each and their ratio, SwiftGAN's achieved GFLOP/s
(an analytic count of its convolutions' multiply-adds, element-wise work left out) as a fraction of the
machine's FP32 peak (`--peak-gflops`) and of a large sgemm's rate measured in this run (PyTorch's 4096²
`torch.mm`, the fastest GEMM on the machine).
Then sampling 10,000 images (SwiftGAN's `sample`, PyTorch's generator under `torch.no_grad()` in eval
mode, in batches of 500 as a user fills an FID folder) and `import swiftgan` against `import torch`.

`--profile` (or SWIFTGAN_PROFILE=1) also prints each kernel kind's share of SwiftGAN's step
(`swiftgan.profile()`), with Python and the ABI as the rest of the wall time. The tables are printed
and written as Markdown and JSON to `--out`.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "..", "reference")

TRAINING = [
    dict(name="DCGAN-32x1 RaSGAN b64", image_size=32, channels=1, loss="RaSGAN", batch=64),
    dict(name="DCGAN-32x1 RaSGAN-GP b64", image_size=32, channels=1, loss="RaSGAN-GP", batch=64),
    dict(name="DCGAN-64x3 RaSGAN b64", image_size=64, channels=3, loss="RaSGAN", batch=64),
    dict(name="DCGAN-64x3 RaSGAN-GP b64", image_size=64, channels=3, loss="RaSGAN-GP", batch=64),
    dict(name="DCGAN-64x3 RaSGAN b16", image_size=64, channels=3, loss="RaSGAN", batch=16),
]
SAMPLING = dict(name="sample 10,000 DCGAN-64x3", image_size=64, channels=3, n=10000, chunk=500)
COMMON = dict(z_dim=100, ngf=64, ndf=64, lr=2e-4, betas=(0.5, 0.999))


# MARK: - Workers (each runs in its own process)

def _peak_rss_mb():
    """This process's peak resident set (VmHWM; getrusage's ru_maxrss would also count the parent's
    resident set at the fork that started it)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def worker_import(engine):
    start = time.perf_counter()
    if engine == "torch":
        import torch  # noqa: F401
    else:
        import swiftgan  # noqa: F401
    return {"seconds": time.perf_counter() - start}


def worker_swiftgan_train(cfg, iters, warmup, threads, profile):
    import numpy as np
    import swiftgan

    gan = swiftgan.GAN(loss=cfg["loss"], image_size=cfg["image_size"], channels=cfg["channels"], z_dim=cfg["z_dim"],
                       ngf=cfg["ngf"], ndf=cfg["ndf"], lr_d=cfg["lr"], lr_g=cfg["lr"], betas=tuple(cfg["betas"]),
                       seed=0, threads=threads)
    real = np.random.default_rng(0).uniform(-1, 1, (cfg["batch"], cfg["channels"], cfg["image_size"],
                                                     cfg["image_size"])).astype(np.float32)
    times = []
    for i in range(warmup + iters):
        if i == warmup and profile:
            swiftgan.profile(enable=True, reset=True)
        start = time.perf_counter()
        gan.train_step(real)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    out = {"times": times, "threads": gan.threads}
    if profile:
        out["profile"] = swiftgan.profile(enable=False)
    return out


def worker_torch_train(cfg, iters, warmup, threads):
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, REFERENCE)
    import swiftgan_reference as ref

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    G = ref.DCGANGenerator(cfg["image_size"], cfg["channels"], cfg["z_dim"], cfg["ngf"])
    D = ref.DCGANDiscriminator(cfg["image_size"], cfg["channels"], cfg["ndf"])
    ref.dcgan_init(G)
    ref.dcgan_init(D)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg["lr"], betas=tuple(cfg["betas"]))
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg["lr"], betas=tuple(cfg["betas"]))
    b = cfg["batch"]
    real = torch.rand(b, cfg["channels"], cfg["image_size"], cfg["image_size"]) * 2 - 1
    ones, zeros = torch.ones(b), torch.zeros(b)
    penalty = cfg["loss"].endswith("-GP")

    def step():
        opt_d.zero_grad()
        fake = G(torch.randn(b, cfg["z_dim"])).detach()
        c_r, c_f = D(real), D(fake)
        loss_d = (F.binary_cross_entropy_with_logits(c_r - c_f.mean(), ones)
                  + F.binary_cross_entropy_with_logits(c_f - c_r.mean(), zeros)) / 2
        if penalty:
            u = torch.rand(b, 1, 1, 1)
            mixed = (u * real + (1 - u) * fake).requires_grad_(True)
            grad, = torch.autograd.grad(D(mixed).sum(), mixed, create_graph=True)
            loss_d = loss_d + 10 * ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        fake = G(torch.randn(b, cfg["z_dim"]))
        c_r, c_f = D(real), D(fake)
        loss_g = (F.binary_cross_entropy_with_logits(c_r - c_f.mean(), zeros)
                  + F.binary_cross_entropy_with_logits(c_f - c_r.mean(), ones)) / 2
        loss_g.backward()
        opt_g.step()

    times = []
    for i in range(warmup + iters):
        start = time.perf_counter()
        step()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return {"times": times, "threads": torch.get_num_threads(), "version": torch.__version__}


def worker_swiftgan_sample(cfg, rounds_inside, threads):
    import swiftgan

    gan = swiftgan.GAN(loss="RaSGAN", image_size=cfg["image_size"], channels=cfg["channels"], z_dim=cfg["z_dim"],
                       ngf=cfg["ngf"], ndf=cfg["ndf"], seed=0, threads=threads)
    assert gan.sample(cfg["chunk"]).shape == (cfg["chunk"], cfg["channels"], cfg["image_size"], cfg["image_size"])
    times = []
    for _ in range(rounds_inside):  # as the PyTorch worker: one array of samples alive at a time
        start = time.perf_counter()
        gan.sample(cfg["n"])
        times.append(time.perf_counter() - start)
    return {"times": times, "threads": gan.threads}


def worker_torch_sample(cfg, rounds_inside, threads):
    import numpy as np
    import torch

    sys.path.insert(0, REFERENCE)
    import swiftgan_reference as ref

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    G = ref.DCGANGenerator(cfg["image_size"], cfg["channels"], cfg["z_dim"], cfg["ngf"])
    ref.dcgan_init(G)
    G.eval()

    def sample():
        out = np.empty((cfg["n"], cfg["channels"], cfg["image_size"], cfg["image_size"]), dtype=np.float32)
        with torch.no_grad():
            for start in range(0, cfg["n"], cfg["chunk"]):
                n = min(cfg["chunk"], cfg["n"] - start)
                out[start:start + n] = G(torch.randn(n, cfg["z_dim"])).numpy()
        return out

    with torch.no_grad():
        G(torch.randn(cfg["chunk"], cfg["z_dim"]))
    times = []
    for _ in range(rounds_inside):
        start = time.perf_counter()
        sample()
        times.append(time.perf_counter() - start)
    return {"times": times, "threads": torch.get_num_threads(), "version": torch.__version__}


def run_worker(args):
    spec = json.loads(args.worker)
    kind, engine = spec["kind"], spec["engine"]
    if kind == "import":
        out = worker_import(engine)
    elif kind == "sgemm":
        out = worker_torch_sgemm(spec["threads"])
    elif kind == "train":
        out = (worker_torch_train(spec["cfg"], spec["iters"], spec["warmup"], spec["threads"]) if engine == "torch"
               else worker_swiftgan_train(spec["cfg"], spec["iters"], spec["warmup"], spec["threads"], spec["profile"]))
    else:
        out = (worker_torch_sample if engine == "torch" else worker_swiftgan_sample)(spec["cfg"], spec["iters"],
                                                                                     spec["threads"])
    out["rss_mb"] = _peak_rss_mb()
    print(json.dumps(out))


# MARK: - The driver

def spawn(python, spec):
    """Runs one worker in a fresh process; returns its JSON result."""
    command = [python, os.path.abspath(__file__), "--worker", json.dumps(spec)]
    env = dict(os.environ)
    if spec["engine"] == "torch":
        env.pop("SWIFTGAN_PROFILE", None)
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"the {spec['engine']} worker for {spec.get('cfg', {}).get('name', spec['kind'])} failed:\n"
                 f"{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def conv_macs(size, channels, out_channels, kernel, out_size, batch):
    return batch * out_channels * out_size * out_size * channels * kernel * kernel


def dcgan_layers(cfg):
    """Multiply-adds of one forward pass of each DCGAN layer, as (D layers, G layers), first to last."""
    s, b, c, ndf, ngf, z = cfg["image_size"], cfg["batch"], cfg["channels"], cfg["ndf"], cfg["ngf"], cfg["z_dim"]
    d, size, width = [conv_macs(s, c, ndf, 4, s // 2, b)], s // 2, ndf
    while size > 4:
        d.append(conv_macs(size, width, width * 2, 4, size // 2, b))
        size, width = size // 2, width * 2
    d.append(conv_macs(4, width, 1, 4, 1, b))
    # The generator's transposed convolutions cost the convolutions they are adjoint to.
    mult = s // 8
    g, size = [conv_macs(4, ngf * mult, z, 4, 1, b)], 4
    while mult > 1:
        g.append(conv_macs(size * 2, ngf * mult // 2, ngf * mult, 4, size, b))
        size, mult = size * 2, mult // 2
    g.append(conv_macs(s, c, ngf, 4, s // 2, b))
    return d, g


def step_flops(cfg):
    """The convolutions' FLOPs (2 per multiply-add) of one SwiftGAN iteration (n_critic 1).

    D step: G forward; D forward on the real and the fake batch; D's weight gradients for both, and its
    input gradients for both except through the first layer. G step: G forward; D forward on both; D's input
    gradients for the fake batch through every layer; G's weight gradients and its input gradients except
    through the first layer. A gradient penalty adds D's forward on the mixed batch, its input gradient
    through every layer, and their differentiation: two passes per layer for the input-gradient graph and
    two for the forward one (none for the first layer's input)."""
    d, g = dcgan_layers(cfg)
    D, G = sum(d), sum(g)
    macs = G + 2 * D + 2 * D + 2 * (D - d[0])  # D step
    macs += G + 2 * D + D + G + (G - g[0])  # G step
    if cfg["loss"].endswith("-GP"):
        macs += D + D + 2 * D + 2 * D - d[0]
    return 2 * macs


def worker_torch_sgemm(threads):
    """A large float32 matrix product's rate in PyTorch (its AVX-512 GEMM), in GFLOP/s: the best of 3."""
    import torch

    torch.set_num_threads(threads)
    n = 4096
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return {"gflops": 2 * n ** 3 / best / 1e9}


def median_ms(results):
    return statistics.median(t for r in results for t in r["times"]) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--torch-python", default="/opt/torchref/bin/python", help="a Python that has torch")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of SwiftGAN and PyTorch per measurement")
    parser.add_argument("--iters", type=int, default=8, help="timed iterations per round (after --warmup)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--peak-gflops", type=float, default=237.0,
                        help="the machine's FP32 peak (default: PERFORMANCE.md's 2 AVX-512 cores)")
    parser.add_argument("--profile", action="store_true", help="print each kernel kind's share of SwiftGAN's step")
    parser.add_argument("--only", nargs="*", help="measure only the configurations whose name contains one of these")
    parser.add_argument("--out", default=os.path.join(HERE, "results"), help="folder for bench_vs_torch.md/.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args)
        return
    profile = args.profile or os.environ.get("SWIFTGAN_PROFILE", "0") not in ("", "0")
    ours_python = sys.executable

    def wanted(name):
        return not args.only or any(part in name for part in args.only)

    sgemm = spawn(args.torch_python, dict(kind="sgemm", engine="torch", threads=args.threads))["gflops"]
    rows, records, profiles = [], [], {}
    print(f"threads {args.threads}; a 4096² sgemm runs at {sgemm:.0f} GFLOP/s (PyTorch); "
          f"FP32 peak taken as {args.peak_gflops:.0f} GFLOP/s", flush=True)
    header = (f"| configuration | SwiftGAN ms | PyTorch ms | speed (PyTorch/SwiftGAN) | to 1.5× | SwiftGAN MB | "
              f"PyTorch MB | RSS ratio | SwiftGAN GFLOP/s | of peak | of sgemm |")
    rule = "|" + "---|" * (header.count("|") - 1)
    print(header + "\n" + rule, flush=True)
    torch_version = None
    for base in TRAINING:
        cfg = {**COMMON, **base}
        if not wanted(cfg["name"]):
            continue
        ours, theirs = [], []
        for _ in range(args.rounds):
            spec = dict(kind="train", cfg=cfg, iters=args.iters, warmup=args.warmup, threads=args.threads, profile=profile)
            ours.append(spawn(ours_python, {**spec, "engine": "swiftgan"}))
            theirs.append(spawn(args.torch_python, {**spec, "engine": "torch"}))
        a, b = median_ms(ours), median_ms(theirs)
        torch_version = theirs[0].get("version")
        rss_a, rss_b = max(r["rss_mb"] for r in ours), max(r["rss_mb"] for r in theirs)
        gflops = step_flops(cfg) / (a / 1e3) / 1e9
        record = dict(name=cfg["name"], swiftgan_ms=a, torch_ms=b, speed=b / a, swiftgan_rss_mb=rss_a,
                      torch_rss_mb=rss_b, rss_ratio=rss_a / rss_b, swiftgan_gflops=gflops,
                      of_peak=gflops / args.peak_gflops, of_sgemm=gflops / sgemm, step_gflop=step_flops(cfg) / 1e9)
        records.append(record)
        row = (f"| {cfg['name']} | {a:.1f} | {b:.1f} | **{b / a:.2f}×** | {1.5 * a / b:.2f}× faster needed"
               if b / a < 1.5 else f"| {cfg['name']} | {a:.1f} | {b:.1f} | **{b / a:.2f}×** | reached")
        row += (f" | {rss_a:.0f} | {rss_b:.0f} | {rss_a / rss_b:.3f} | {gflops:.0f} | {gflops / args.peak_gflops:.0%} | "
                f"{gflops / sgemm:.0%} |")
        rows.append(row)
        print(row, flush=True)
        if profile:
            profiles[cfg["name"]] = _profile_shares(ours)
    sampling_note = ""
    if wanted(SAMPLING["name"]):
        cfg = {**COMMON, **SAMPLING}
        ours, theirs = [], []
        for _ in range(args.rounds):
            spec = dict(kind="sample", cfg=cfg, iters=2, threads=args.threads)
            ours.append(spawn(ours_python, {**spec, "engine": "swiftgan"}))
            theirs.append(spawn(args.torch_python, {**spec, "engine": "torch"}))
        a, b = median_ms(ours), median_ms(theirs)
        rss_a, rss_b = max(r["rss_mb"] for r in ours), max(r["rss_mb"] for r in theirs)
        # Both engines hold the samples themselves: no engine's peak can go below them.
        result_mb = cfg["n"] * cfg["channels"] * cfg["image_size"] ** 2 * 4 / 2 ** 20
        beyond = dict(result_mb=result_mb, swiftgan_beyond_result_mb=rss_a - result_mb,
                      torch_beyond_result_mb=rss_b - result_mb, beyond_result_ratio=(rss_a - result_mb) / (rss_b - result_mb))
        records.append(dict(name=cfg["name"], swiftgan_ms=a, torch_ms=b, speed=b / a, swiftgan_rss_mb=rss_a,
                            torch_rss_mb=rss_b, rss_ratio=rss_a / rss_b, **beyond))
        sampling_note = (f"Sampling: both engines hold the {cfg['n']:,} samples ({result_mb:.0f} MB of float32); beyond "
                         f"them SwiftGAN's peak is {rss_a - result_mb:.0f} MB and PyTorch's {rss_b - result_mb:.0f} MB "
                         f"(ratio {beyond['beyond_result_ratio']:.2f}).")
        row = (f"| {cfg['name']} | {a:.0f} | {b:.0f} | **{b / a:.2f}×** | | {rss_a:.0f} | {rss_b:.0f} | "
               f"{rss_a / rss_b:.3f} | | | |")
        rows.append(row)
        print(row, flush=True)
    if wanted("import"):
        ours, theirs = [], []
        for _ in range(max(args.rounds, 5)):
            ours.append(spawn(ours_python, dict(kind="import", engine="swiftgan")))
            theirs.append(spawn(args.torch_python, dict(kind="import", engine="torch")))
        a = statistics.median(r["seconds"] for r in ours) * 1e3
        b = statistics.median(r["seconds"] for r in theirs) * 1e3
        records.append(dict(name="import", swiftgan_ms=a, torch_ms=b, speed=b / a,
                            swiftgan_rss_mb=max(r["rss_mb"] for r in ours), torch_rss_mb=max(r["rss_mb"] for r in theirs)))
        row = (f"| `import swiftgan` / `import torch` | {a:.0f} | {b:.0f} | **{b / a:.1f}×** | | "
               f"{records[-1]['swiftgan_rss_mb']:.0f} | {records[-1]['torch_rss_mb']:.0f} | "
               f"{records[-1]['swiftgan_rss_mb'] / records[-1]['torch_rss_mb']:.3f} | | | |")
        rows.append(row)
        print(row, flush=True)
    note = (f"torch {torch_version}; {args.threads} threads each; medians of {args.rounds} alternating rounds × {args.iters} iterations "
            f"(sampling: 2 per round; import: {max(args.rounds, 5)} processes); peak RSS of each engine's process; "
            f"GFLOP/s from an analytic count of SwiftGAN's convolution FLOPs; sgemm {sgemm:.0f} GFLOP/s; "
            f"{platform.processor() or platform.machine()}" + (f"\n\n{sampling_note}" if sampling_note else ""))
    print(note)
    if profiles:
        print("\nSwiftGAN's step by kernel kind (share of the wall time):")
        kinds = list(next(iter(profiles.values())))
        print("| configuration | " + " | ".join(kinds) + " |")
        for name, shares in profiles.items():
            print(f"| {name} | " + " | ".join(f"{shares[k]:.0%}" for k in kinds) + " |")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "bench_vs_torch.json"), "w") as f:
        json.dump(dict(threads=args.threads, sgemm_gflops=sgemm, peak_gflops=args.peak_gflops, rounds=args.rounds,
                       iters=args.iters, results=records, profiles=profiles, note=note), f, indent=2)
    with open(os.path.join(args.out, "bench_vs_torch.md"), "w") as f:
        f.write(header + "\n" + rule + "\n" + "\n".join(rows) + "\n\n" + note + "\n")
        if profiles:
            kinds = list(next(iter(profiles.values())))
            f.write("\n| configuration | " + " | ".join(kinds) + " |\n|" + "---|" * (len(kinds) + 1) + "\n")
            for name, shares in profiles.items():
                f.write(f"| {name} | " + " | ".join(f"{shares[k]:.0%}" for k in kinds) + " |\n")


def _profile_shares(results):
    """Each kernel kind's share of the timed steps' wall time, from the workers' `swiftgan.profile()` totals;
    `python_abi` is the wall time outside the core's calls."""
    wall = sum(t for r in results for t in r["times"])
    totals = {}
    for r in results:
        for name, seconds in r["profile"].items():
            totals[name] = totals.get(name, 0.0) + seconds
    shares = {name: totals[name] / wall for name in totals if name != "core"}
    shares["python_abi"] = max(0.0, 1 - totals["core"] / wall)
    return shares


if __name__ == "__main__":
    main()
