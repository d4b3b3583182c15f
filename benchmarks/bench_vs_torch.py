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

`--paired` times the training rows in one process per engine, stepping in turn, so that both engines are timed
in the same seconds; a row's speed is then the median of the pairs' ratios. `--profile` (or SWIFTGAN_PROFILE=1)
also prints each kernel kind's share of SwiftGAN's step
(`swiftgan.profile()`), with Python and the ABI as the rest of the wall time, and each row's ceiling:
PyTorch's step over the time of SwiftGAN's convolutions and matrix products alone, the most any work
outside those kernels can bring. The tables are printed and written as Markdown and JSON to `--out`.
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

DCGAN_ROWS = [
    dict(name="DCGAN-32x1 RaSGAN b64", image_size=32, channels=1, loss="RaSGAN", batch=64),
    dict(name="DCGAN-32x1 RaSGAN-GP b64", image_size=32, channels=1, loss="RaSGAN-GP", batch=64),
    dict(name="DCGAN-64x3 RaSGAN b64", image_size=64, channels=3, loss="RaSGAN", batch=64),
    dict(name="DCGAN-64x3 RaSGAN-GP b64", image_size=64, channels=3, loss="RaSGAN-GP", batch=64),
    dict(name="DCGAN-64x3 RaSGAN b16", image_size=64, channels=3, loss="RaSGAN", batch=16),
]
# The other architectures: PyTorch runs the twins of python/swiftgan_torch/twin.py (the networks SwiftGAN's parity
# tests check) with the twin's iteration (`train_iteration`: autograd.grad for the parameters only, the D step's
# fake batch under no_grad), SwiftGAN the same configuration; n_critic 1 so that a row times one D and one G step.
ARCH_ROWS = [
    dict(name="ResNet-32x3 WGAN-GP b64", image_size=32, channels=3, loss="WGAN-GP", batch=64,
         options=dict(arch="resnet", n_critic=1)),
    dict(name="ResNet-64x3 WGAN-GP b16", image_size=64, channels=3, loss="WGAN-GP", batch=16,
         options=dict(arch="resnet", n_critic=1)),
    dict(name="CNN-32x3 RaSGAN SN-D b64", image_size=32, channels=3, loss="RaSGAN", batch=64,
         options=dict(arch="cnn", spectral_norm_d=True)),
    dict(name="EBGAN-64x3 EBGAN b64", image_size=64, channels=3, loss="EBGAN", batch=64, options=dict(arch="ebgan")),
    dict(name="BEGAN-64x3 BEGAN b16", image_size=64, channels=3, loss="BEGAN", batch=16, options=dict(arch="began")),
]
# bfloat16: SwiftGAN's precision="bf16" against PyTorch's step under torch.autocast("cpu", dtype=torch.bfloat16).
BF16_ROWS = [dict(row, name=row["name"] + " bf16", precision="bf16") for row in DCGAN_ROWS]
TRAINING = DCGAN_ROWS + ARCH_ROWS + BF16_ROWS
SAMPLING = dict(name="sample 10,000 DCGAN-64x3", image_size=64, channels=3, n=10000, chunk=500)
COMMON = dict(z_dim=100, ngf=64, ndf=64, lr=2e-4, betas=(0.5, 0.999))


# MARK: - Workers (each runs in its own process)

def gan_options(cfg):
    """SwiftGAN's `GAN(...)` options of a training row."""
    return dict(loss=cfg["loss"], image_size=cfg["image_size"], channels=cfg["channels"], z_dim=cfg["z_dim"],
                ngf=cfg["ngf"], ndf=cfg["ndf"], lr_d=cfg["lr"], lr_g=cfg["lr"], betas=tuple(cfg["betas"]),
                precision=cfg.get("precision", "fp32"), **cfg.get("options", {}))


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


def swiftgan_step(cfg, threads):
    """The row's GAN and one training iteration of it on a fixed batch."""
    import numpy as np
    import swiftgan

    gan = swiftgan.GAN(**gan_options(cfg), seed=0, threads=threads)
    real = np.random.default_rng(0).uniform(-1, 1, (cfg["batch"], cfg["channels"], cfg["image_size"],
                                                     cfg["image_size"])).astype(np.float32)
    return gan, lambda: gan.train_step(real)


def torch_step(cfg, threads):
    """One PyTorch iteration of the row (its twin, or the user-style DCGAN), under autocast for a bf16 row."""
    import contextlib

    import torch

    sys.path.insert(0, REFERENCE)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    inner = _torch_twin_step(cfg) if "options" in cfg else _torch_dcgan_step(cfg)

    def step():
        with (torch.autocast("cpu", dtype=torch.bfloat16) if cfg.get("precision") == "bf16"
              else contextlib.nullcontext()):
            inner()
    return step


def worker_swiftgan_train(cfg, iters, warmup, threads, profile):
    import swiftgan

    gan, step = swiftgan_step(cfg, threads)
    times = []
    for i in range(warmup + iters):
        if i == warmup and profile:
            swiftgan.profile(enable=True, reset=True)
        start = time.perf_counter()
        step()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    out = {"times": times, "threads": gan.threads}
    if profile:
        out["profile"] = swiftgan.profile(enable=False)
    return out


def worker_torch_train(cfg, iters, warmup, threads):
    import torch

    step = torch_step(cfg, threads)
    times = []
    for i in range(warmup + iters):
        start = time.perf_counter()
        step()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return {"times": times, "threads": torch.get_num_threads(), "version": torch.__version__}


def _torch_twin_step(cfg):
    """One iteration of the twin of `cfg`'s pair (its options resolved by SwiftGAN: `cfg["resolved"]`)."""
    import torch

    import swiftgan_reference as ref

    o = cfg["resolved"]
    energy_based = o["loss"].split("-")[0] in ("EBGAN", "BEGAN")
    G, D = ref.model_pair(cfg["image_size"], cfg["channels"], o["z_dim"], o["ngf"], o["ndf"], energy_based=energy_based,
                          **{k: o[k] for k in ref.ARCH_OPTIONS if k in o})
    ref.init_pair(G, D)
    opt_d = torch.optim.Adam(D.parameters(), lr=o["lr_d"], betas=tuple(o["betas_d"]), eps=o["eps"])
    opt_g = torch.optim.Adam(G.parameters(), lr=o["lr_g"], betas=tuple(o["betas_g"]), eps=o["eps"])
    b, z = cfg["batch"], o["z_dim"]
    real = torch.rand(b, cfg["channels"], cfg["image_size"], cfg["image_size"]) * 2 - 1
    penalty = "-GP" in o["loss"]
    energy = dict(margin=o["ebgan_margin"], pt_weight=o["pt_weight"], gamma=o["began_gamma"],
                  lambda_k=o["began_lambda_k"])
    state = {}

    def step():
        ref.train_iteration(G, D, opt_d, opt_g, o["loss"], [real], [torch.randn(b, z)], torch.randn(b, z),
                            u=[torch.rand(b, 1, 1, 1)] if penalty else None, gp_weight=o["gp_weight"],
                            energy_options=energy, state=state)
    return step


def _torch_dcgan_step(cfg):
    """One DCGAN iteration as a user writes it (module docstring)."""
    import torch
    import torch.nn.functional as F

    import swiftgan_reference as ref

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
    return step


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


def worker_paired(cfg, warmup, threads):
    """`--paired`: builds the row's step, warms up, then runs one timed step per `step` line on stdin, printing
    its seconds, until `quit`; then, as every worker ends, its result as the last line (`run_worker`)."""
    if cfg.get("engine") == "torch":
        import torch

        step = torch_step(cfg, threads)
        out = {"threads": torch.get_num_threads(), "version": torch.__version__}
    else:
        gan, step = swiftgan_step(cfg, threads)
        out = {"threads": gan.threads}
    for _ in range(warmup):
        step()
    print("ready", flush=True)
    times = []
    for line in sys.stdin:
        if line.strip() != "step":
            break
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
        print(times[-1], flush=True)
    return {**out, "times": times}


def run_worker(args):
    spec = json.loads(args.worker)
    kind, engine = spec["kind"], spec["engine"]
    if kind == "paired":
        out = worker_paired({**spec["cfg"], "engine": engine}, spec["warmup"], spec["threads"])
    elif kind == "import":
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


def paired_steps(ours_python, torch_python, cfg, steps, warmup, threads):
    """`--paired`: one process per engine, both alive for the whole row, stepping in turn (the order swapped at
    every pair), so that both see the machine of the same seconds: on these virtual machines a row's step times move
    10-30% from one minute to the next (DCGAN-64x3 b16 on Zen 4: SwiftGAN 382 then 292 ms in two runs of the same
    hour), more than the rounds of separate processes can average out. Returns each engine's worker result (times
    in step order)."""
    spec = dict(kind="paired", cfg=cfg, warmup=warmup, threads=threads)
    procs = []
    for python, engine in ((ours_python, "swiftgan"), (torch_python, "torch")):
        command = [python, os.path.abspath(__file__), "--worker", json.dumps({**spec, "engine": engine})]
        env = dict(os.environ)
        if engine == "torch":
            env.pop("SWIFTGAN_PROFILE", None)
        procs.append(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env))
    try:
        for p in procs:  # both built and warmed up, one after the other, before any timed step
            if p.stdout.readline().strip() != "ready":
                sys.exit(f"a paired worker for {cfg['name']} failed before its steps (exit {p.wait()})")
        for i in range(steps):
            for p in (procs if i % 2 == 0 else procs[::-1]):
                time.sleep(0.05)  # the other engine's OpenMP threads stop spinning (libgomp: a few ms) before this step
                p.stdin.write("step\n")
                p.stdin.flush()
                if not p.stdout.readline().strip():
                    sys.exit(f"a paired worker for {cfg['name']} stopped at step {i} (exit {p.wait()})")
        results = []
        for p in procs:
            out, _ = p.communicate("quit\n")
            if p.returncode != 0:
                sys.exit(f"a paired worker for {cfg['name']} failed (exit {p.returncode})")
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


def resolved_options(cfg):
    """Every option of the row's SwiftGAN configuration, resolved by the core (presets applied), for the twin;
    raises what SwiftGAN raises for a configuration this machine cannot run."""
    import swiftgan

    with swiftgan.GAN(**gan_options(cfg), threads=1) as gan:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in gan.options.items()}


def processor():
    """The processor's model, family and model numbers and the instruction sets that decide the kernels, the
    environment variables that lower them, and the kernels SwiftGAN's libraries chose."""
    info, flags = {}, set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key in ("model name", "cpu family", "model") and key not in info:
                info[key] = value
            elif key == "flags" and not flags:
                flags = set(value.split())
    wanted = ["avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile"]
    text = (f"{info.get('model name', platform.processor() or platform.machine())} (family {info.get('cpu family')}, "
            f"model {info.get('model')}); " + ", ".join(f for f in wanted if f in flags))
    for name in ("ONEDNN_MAX_CPU_ISA", "OPENBLAS_CORETYPE"):
        if os.environ.get(name):
            text += f"; {name}={os.environ[name]}"
    import swiftgan

    kernels = swiftgan.kernels()
    return text + f"; SwiftGAN's kernels: OpenBLAS {kernels['openblas']}, oneDNN {kernels['onednn']}"


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
    parser.add_argument("--peak-gflops", type=float, default=None,
                        help="the machine's FP32 peak, for the 'of peak' column (e.g. 237 for PERFORMANCE.md's 2 Zen 4 "
                             "cores); without it the column is left empty, the measured sgemm's rate stays")
    parser.add_argument("--profile", action="store_true", help="print each kernel kind's share of SwiftGAN's step")
    parser.add_argument("--paired", action="store_true",
                        help="training rows: one process per engine stepping in turn (rounds × iters steps each), "
                             "so that both are timed in the same seconds; speed is the median of the pairs' ratios")
    parser.add_argument("--only", nargs="*", help="measure only the configurations whose name contains one of these")
    parser.add_argument("--out", default=os.path.join(HERE, "results"), help="folder for bench_vs_torch.md/.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args)
        return
    profile = args.profile or os.environ.get("SWIFTGAN_PROFILE", "0") not in ("", "0")
    if profile and args.paired:
        sys.exit("--paired times the steps as they run: measure --profile in a run of its own")
    ours_python = sys.executable

    def wanted(name):
        return not args.only or any(part in name for part in args.only)

    sgemm = spawn(args.torch_python, dict(kind="sgemm", engine="torch", threads=args.threads))["gflops"]
    rows, records, profiles = [], [], {}
    print(f"threads {args.threads}; a 4096² sgemm runs at {sgemm:.0f} GFLOP/s (PyTorch); "
          + (f"FP32 peak taken as {args.peak_gflops:.0f} GFLOP/s" if args.peak_gflops else "FP32 peak not given"),
          flush=True)
    header = ("| configuration | SwiftGAN ms | PyTorch ms | speed (PyTorch/SwiftGAN) | to the bar | SwiftGAN MB | "
              "PyTorch MB | RSS ratio | SwiftGAN GFLOP/s | of peak | of sgemm |")
    rule = "|" + "---|" * (header.count("|") - 1)
    print(header + "\n" + rule, flush=True)
    torch_version = None
    for base in TRAINING:
        cfg = {**COMMON, **base}
        if not wanted(cfg["name"]):
            continue
        try:
            cfg["resolved"] = resolved_options(cfg)
        except Exception as error:  # noqa: BLE001 - a row this machine cannot run (bf16 without AVX512-BF16)
            print(f"| {cfg['name']} | not measured: {error} |", flush=True)
            rows.append(f"| {cfg['name']} | not measured: {error} |")
            continue
        if args.paired:
            mine, torch_result = paired_steps(ours_python, args.torch_python, cfg, args.rounds * args.iters,
                                              args.warmup, args.threads)
            ours, theirs = [mine], [torch_result]
        else:
            ours, theirs = [], []
            for _ in range(args.rounds):
                spec = dict(kind="train", cfg=cfg, iters=args.iters, warmup=args.warmup, threads=args.threads,
                            profile=profile)
                ours.append(spawn(ours_python, {**spec, "engine": "swiftgan"}))
                theirs.append(spawn(args.torch_python, {**spec, "engine": "torch"}))
        a, b = median_ms(ours), median_ms(theirs)
        speed = (statistics.median(t / o for o, t in zip(ours[0]["times"], theirs[0]["times"])) if args.paired
                 else b / a)
        torch_version = theirs[0].get("version")
        rss_a, rss_b = max(r["rss_mb"] for r in ours), max(r["rss_mb"] for r in theirs)
        record = dict(name=cfg["name"], precision=cfg.get("precision", "fp32"), swiftgan_ms=a, torch_ms=b,
                      speed=speed, swiftgan_rss_mb=rss_a, torch_rss_mb=rss_b, rss_ratio=rss_a / rss_b)
        target = 1.3 if "options" in cfg else 1.5  # the bars: DCGAN and bf16 rows 1.5×, the others 1.3×
        row = (f"| {cfg['name']} | {a:.1f} | {b:.1f} | **{speed:.2f}×** | {target / speed:.2f}× faster needed for {target}×"
               if speed < target else f"| {cfg['name']} | {a:.1f} | {b:.1f} | **{speed:.2f}×** | {target}× reached")
        row += f" | {rss_a:.0f} | {rss_b:.0f} | {rss_a / rss_b:.3f}"
        if "options" in cfg:  # the analytic FLOP count is DCGAN's
            row += " | | | |"
        else:
            gflops = step_flops(cfg) / (a / 1e3) / 1e9
            of_peak = gflops / args.peak_gflops if args.peak_gflops else None
            record.update(swiftgan_gflops=gflops, of_peak=of_peak, of_sgemm=gflops / sgemm,
                          step_gflop=step_flops(cfg) / 1e9)
            row += f" | {gflops:.0f} | {'' if of_peak is None else f'{of_peak:.0%}'} | {gflops / sgemm:.0%} |"
        records.append(record)
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
    bf16 = _bf16_table(records)
    if bf16:
        rows.append("\n" + bf16)
        print("\n" + bf16, flush=True)
    timing = (f"training rows paired: one process per engine, stepping in turn (the order swapped at every pair), "
              f"{args.rounds * args.iters} steps each after {args.warmup}, medians, speed the median of the pairs' "
              f"ratios; sampling and import: medians of {args.rounds} alternating rounds" if args.paired
              else f"medians of {args.rounds} alternating rounds × {args.iters} iterations")
    note = (f"Processor: {processor()}. torch {torch_version}; {args.threads} threads each; {timing} "
            f"(sampling: 2 per round; import: {max(args.rounds, 5)} processes); peak RSS of each engine's process; "
            f"GFLOP/s from an analytic count of SwiftGAN's convolution FLOPs (DCGAN rows); sgemm {sgemm:.0f} GFLOP/s; "
            f"bf16 rows: SwiftGAN precision='bf16' against PyTorch under torch.autocast('cpu', dtype=torch.bfloat16)"
            + (f"\n\n{sampling_note}" if sampling_note else ""))
    print(note)
    profile_table = _profile_table(profiles, records)
    if profile_table:
        print("\n" + profile_table)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "bench_vs_torch.json"), "w") as f:
        json.dump(dict(processor=processor(), threads=args.threads, sgemm_gflops=sgemm, peak_gflops=args.peak_gflops, rounds=args.rounds,
                       iters=args.iters, results=records, profiles=profiles, note=note), f, indent=2)
    with open(os.path.join(args.out, "bench_vs_torch.md"), "w") as f:
        f.write(header + "\n" + rule + "\n" + "\n".join(rows) + "\n\n" + note + "\n")
        if profile_table:
            f.write("\n" + profile_table + "\n")


def _bf16_table(records):
    """Each bf16 row beside its float32 row: SwiftGAN's speed-up from bfloat16, and PyTorch autocast's."""
    by_name = {r["name"]: r for r in records}
    lines = []
    for r in records:
        f32 = by_name.get(r["name"][:-len(" bf16")]) if r.get("precision") == "bf16" else None
        if f32 is None:
            continue
        lines.append(f"| {f32['name']} | {f32['swiftgan_ms']:.1f} | {r['swiftgan_ms']:.1f} | "
                     f"{f32['swiftgan_ms'] / r['swiftgan_ms']:.2f}× | {f32['torch_ms']:.1f} | {r['torch_ms']:.1f} | "
                     f"{f32['torch_ms'] / r['torch_ms']:.2f}× | **{r['speed']:.2f}×** |")
    if not lines:
        return ""
    return ("| configuration | SwiftGAN fp32 ms | SwiftGAN bf16 ms | bf16 speed-up | PyTorch fp32 ms | "
            "PyTorch autocast bf16 ms | autocast speed-up | PyTorch autocast / SwiftGAN bf16 |\n"
            "|---|---|---|---|---|---|---|---|\n" + "\n".join(lines))


#: The kernel kinds that run at the machine's matrix-product rate (oneDNN's convolutions, OpenBLAS's sgemm).
COMPUTE_KINDS = ("convolution", "convolution_backward_data", "convolution_backward_weights", "matrix_product")


def _profile_table(profiles, records):
    """SwiftGAN's step by kernel kind, and each row's ceiling: PyTorch's step over the time of SwiftGAN's
    convolutions and matrix products alone, the speed-up over PyTorch if everything else took no time (these
    kernels already run near the machine's sgemm rate, so no other work can lift a row above it)."""
    if not profiles:
        return ""
    kinds = list(next(iter(profiles.values())))
    by_name = {r["name"]: r for r in records}
    lines = ["SwiftGAN's step by kernel kind (share of the wall time); ceiling = PyTorch ms / SwiftGAN's "
             "convolutions and matrix products alone:",
             "| configuration | " + " | ".join(kinds) + " | ceiling |", "|" + "---|" * (len(kinds) + 2)]
    for name, shares in profiles.items():
        record = by_name[name]
        compute_ms = record["swiftgan_ms"] * sum(shares.get(k, 0.0) for k in COMPUTE_KINDS)
        record["compute_ms"] = compute_ms
        record["ceiling"] = record["torch_ms"] / compute_ms
        lines.append(f"| {name} | " + " | ".join(f"{shares[k]:.0%}" for k in kinds) + f" | {record['ceiling']:.2f}× |")
    return "\n".join(lines)


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
