"""Writes the PyTorch parity fixtures that python/tests/test_parity.py reads.

    /opt/torchref/bin/python reference/make_fixtures.py  [--out python/tests/fixtures] [--configs NAME ...]

For each configuration (DCGAN 32×32×1 and 64×64×3, and the MLP pair on 2-D points; narrow widths, small
batches) it draws
initial weights and every random input of 3 iterations once (real batches; for up to 2
critic steps the D noise, GP/LP mixing coefficients and DRAGAN's α and ε; the G noise).
Each run then trains one loss for 3 iterations from that start, once per optimizer, in float64
(PyTorch's exact result for the float32 start), and records the losses of every iteration, the
SGD run's first-iteration gradients and the final weights, as float32. The runs cover every objective and every
penalty on DCGAN 32×32×1, every architecture with RaSGAN (the auto-encoders with EBGAN and BEGAN), the six
losses of the first parity issue on both sizes, PacGAN, and RaSGAN, SGAN and RaLSGAN at other sizes, channel
counts and small or odd batches (WIDENED). A draw is kept only where PyTorch's own float32 run matches the float64
references, on this machine's kernels and on those of TORCH_CELLS (`float32_misses`). `--configs` writes only the
named configurations and keeps the others' files and manifest entries; `--runs` writes only the named runs (their
files and manifest entries), keeping every other file, the configurations' inputs included (checked to be the ones
drawn again).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swiftgan_reference as ref  # noqa: E402

CONFIGS = {
    "dcgan32x1": dict(image_size=32, channels=1, z_dim=16, ngf=4, ndf=4, batch=8),
    "dcgan64x3": dict(image_size=64, channels=3, z_dim=16, ngf=2, ndf=2, batch=4),
    "mlp2": dict(arch="mlp", image_size=64, channels=2, z_dim=4, ngf=16, ndf=16, batch=16),  # image_size unused
    # PacGAN: the critic judges 2 samples at once (a batch of 8 is 4 packed samples of 2 channels)
    "dcgan32x1p2": dict(image_size=32, channels=1, z_dim=16, ngf=4, ndf=4, batch=8, pack=2),
    "dcgan64x3p2": dict(image_size=64, channels=3, z_dim=16, ngf=2, ndf=2, batch=4, pack=2),
    # Image sizes × channel counts × small and odd batches, through every convolution path (the plain layout beside
    # a 1- to 3-channel image, oneDNN's gemm-based backward-data pass there, the blocked middle layers, the dense
    # first and last layers), judged on SGD updates against float64 (issue 21: 64×64×1 at batch 8 was not covered).
    "dcgan64x1b3": dict(image_size=64, channels=1, z_dim=16, ngf=4, ndf=4, batch=3),
    "dcgan32x2b5": dict(image_size=32, channels=2, z_dim=16, ngf=4, ndf=4, batch=5),
    "dcgan128x3b2": dict(image_size=128, channels=3, z_dim=16, ngf=2, ndf=2, batch=2),
    "dcgan64x2b8": dict(image_size=64, channels=2, z_dim=16, ngf=4, ndf=4, batch=8),
}
WIDENED = ["dcgan64x1b3", "dcgan32x2b5", "dcgan128x3b2", "dcgan64x2b8"]
ITERATIONS = 3
MAX_CRITIC_STEPS = 2
# Learning rates keep 3 iterations well-conditioned: with them PyTorch's own float32 run matches its
# float64 run within the parity tolerances (100% of entries). At SGD lr 0.05 or Adam lr 2e-4 it does not
# (94% and 91%): a GAN step amplifies float32 rounding, so any two correct float32 codes would differ.
# Adam's 1e-4 is the official RelativisticGAN code's default.
OPTIMIZERS = {"sgd": dict(lr=5e-3), "adam": dict(lr=1e-4, betas=(0.5, 0.999), eps=1e-8),
              "rmsprop": dict(lr=5e-5, alpha=0.99, eps=1e-8)}
STATS = ["d_loss", "g_loss", "d_real", "d_fake", "penalty", "k", "m_global"]
FIRST_ISSUE = ["SGAN", "RSGAN", "RaSGAN", "RaLSGAN", "RaHingeGAN", "RaSGAN-GP"]
OBJECTIVES = ["SGAN", "LSGAN", "HingeGAN", "WGAN", "RSGAN", "RLSGAN", "RHingeGAN", "RaSGAN", "RaLSGAN", "RaHingeGAN",
              "RcSGAN", "RcLSGAN", "RcHingeGAN", "RpSGAN-avg", "RpLSGAN-avg", "RpHingeGAN-avg"]
# Loss-specific options (SwiftGAN names) and optimizers; the rest run with n_critic 1, SGD and Adam.
SPECIAL = {
    "WGAN": (dict(clip=0.01), ["sgd", "adam", "rmsprop"]),
    "WGAN-GP": (dict(n_critic=2), ["sgd", "adam"]),
    "SGAN-minimax": (dict(minimax=True), ["sgd", "adam"]),
    "LSGAN-targets": (dict(lsgan_targets=[-1.0, 1.0, 0.0]), ["sgd", "adam"]),
}
ARCHITECTURES = {  # DCGAN options, each trained with RaSGAN (and spectral norm with RaSGAN-GP too)
    "RaSGAN-sn_d": dict(spectral_norm_d=True),
    "RaSGAN-GP-sn_d": dict(spectral_norm_d=True),
    "RaSGAN-sn_g-upsample": dict(spectral_norm_g=True, upsample_conv=True),
    "RaSGAN-upsample": dict(upsample_conv=True),
    "RaSGAN-selu": dict(selu=True),
    "RaSGAN-no_bn": dict(batch_norm_g=False, batch_norm_d=False),
    "RaSGAN-cnn": dict(arch="cnn"),
    "RaSGAN-GP-cnn-sn_d": dict(arch="cnn", spectral_norm_d=True),
    "RaSGAN-patchgan": dict(arch="patchgan"),
    "RaSGAN-resnet": dict(arch="resnet"),
    "EBGAN": dict(arch="autoencoder"),
    "BEGAN": dict(arch="autoencoder", began_lambda_k=0.1),
    "EBGAN-ebgan": dict(arch="ebgan"),  # the EBGAN paper's networks
    "BEGAN-began": dict(arch="began", ae_code=8, began_lambda_k=0.1),  # the BEGAN paper's networks
    "RaSGAN-GP-resnet-ln": dict(arch="resnet", layer_norm_d=True),
    "RaSGAN-mlp": dict(arch="mlp"),
    "EBGAN-mlp": dict(arch="mlp", ae_code=8),
    "BEGAN-mlp": dict(arch="mlp", ae_code=8, began_lambda_k=0.1),
}
MLP_RUNS = ["RaSGAN-mlp", "EBGAN-mlp", "BEGAN-mlp"]  # on 2-D points (config mlp2)
# Not a run: RaSGAN-GP on PatchGAN. The penalty of a critic that sums a patch map is badly scaled at
# these rates (D's loss 27 → 139 → 187 in 3 iterations): measured against float64, PyTorch's own float32
# first-iteration G gradients are off by 8e-6 of a tensor's largest entry, so two correct float32 codes
# can differ by more than the 1e-5 bound.
# Architecture runs use SGD only: it checks losses, first gradients and final weights at the strict
# tolerances, and keeps the fixtures small; Adam is covered by every objective's run.
SPECIAL.update({name: (options, ["sgd"]) for name, options in ARCHITECTURES.items()})
SPECIAL.update({"SGAN-sgd": ({}, ["sgd"]), "RaLSGAN-sgd": ({}, ["sgd"])})  # the widened sizes: SGD updates only
ARCH_KEYS = ref.ARCH_OPTIONS
# With packing: the standard, paired, average and all-pairs forms, the Wasserstein critic, the GP, R1 and DRAGAN
# penalties, the energy-based auto-encoders.
PACKED = ["SGAN", "RSGAN", "RaSGAN", "RaLSGAN", "RaHingeGAN", "RpSGAN-avg", "WGAN-GP", "RaSGAN-GP", "RaLSGAN-R1",
          "DRAGAN", "EBGAN", "BEGAN"]
# Runs whose start PyTorch's own float32 run missed on another machine (float32_misses measures on the writer's):
# their search starts at this weight seed. On a machine whose OpenBLAS ran AVX2 kernels (OPENBLAS_CORETYPE=Haswell),
# RaSGAN-GP on 64×64×3 missed from the shared start.
REJECTED_ELSEWHERE = {("dcgan64x3", "RaSGAN-GP"): 4322}
EXTRA = ["WGAN-GP", "WGAN-LP", "RaLSGAN-R1", "DRAGAN", "RaDRAGAN", "SGAN-minimax", "LSGAN-targets", "RaSGAN-R2", "RaSGAN-GP0"]
RUNS = ([("dcgan32x1", loss) for loss in OBJECTIVES + ["RaSGAN-GP"] + EXTRA
         + [name for name in ARCHITECTURES if name not in MLP_RUNS]]
        + [("dcgan64x3", loss) for loss in FIRST_ISSUE + ["RaSGAN-resnet"]]
        + [("mlp2", loss) for loss in MLP_RUNS]
        + [("dcgan32x1p2", loss) for loss in PACKED]
        + [("dcgan64x3p2", loss) for loss in ("RaSGAN", "RaSGAN-GP")]
        + [(name, loss) for name in WIDENED for loss in ("RaSGAN", "SGAN-sgd", "RaLSGAN-sgd")])


def make_pair(cfg, options=None, loss="RaSGAN"):
    arch = {k: v for k, v in {**cfg, **(options or {})}.items() if k in ARCH_KEYS}
    return ref.model_pair(cfg["image_size"], cfg["channels"], cfg["z_dim"], cfg["ngf"], cfg["ndf"],
                          energy_based=loss in ("EBGAN", "BEGAN"), **arch)


def sample_shape(cfg):
    """[C] for the MLP pair's points, [C, S, S] for images."""
    return (cfg["channels"],) if cfg.get("arch") == "mlp" else (cfg["channels"], cfg["image_size"], cfg["image_size"])


def draw_weights(cfg, options, seed, loss="RaSGAN"):
    """Initial weights of the pair `options` describe (each architecture's own initialisation)."""
    torch.manual_seed(seed)
    G, D = make_pair(cfg, options, loss)
    ref.init_pair(G, D)
    return ref.state_dict(G, D)


def draw_inputs(cfg, seed):
    """Initial weights and all random inputs of ITERATIONS iterations."""
    torch.manual_seed(seed)
    G, D = make_pair(cfg)
    ref.dcgan_init(G)
    ref.dcgan_init(D)
    b, shape, z, k = cfg["batch"], sample_shape(cfg), cfg["z_dim"], MAX_CRITIC_STEPS
    m = cfg.get("pack", 1)  # the penalties' inputs are per packed sample, shaped as the critic's input
    packed = (shape[0] * m,) + tuple(shape[1:])
    inputs = {
        "real": torch.rand(ITERATIONS, b, *shape) * 2 - 1,
        "z_d": torch.randn(ITERATIONS, k, b, z),
        "z_g": torch.randn(ITERATIONS, b, z),
        "u": torch.rand(ITERATIONS, k, b // m),
        "dragan_alpha": torch.rand(ITERATIONS, k, b // m) * 2 - 1,
        "dragan_noise": torch.rand(ITERATIONS, k, b // m, *packed),
    }
    return ref.state_dict(G, D), inputs


def run_options(name):
    """(SwiftGAN loss name, SwiftGAN options, optimizers) of a run."""
    options, optimizers = SPECIAL.get(name, ({}, ["sgd", "adam"]))
    loss = {"SGAN-minimax": "SGAN", "LSGAN-targets": "LSGAN", "SGAN-sgd": "SGAN", "RaLSGAN-sgd": "RaLSGAN"}.get(name, name)
    if name in ARCHITECTURES:
        loss = next(base for base in ("RaSGAN-GP", "RaSGAN", "EBGAN", "BEGAN") if name.startswith(base))
    return loss, dict(options), optimizers


def float32_misses(cfg, name, start, inputs, references, kinked=False):
    """Where PyTorch's own float32 run of `name` misses the float64 `references` (optimizer -> (stats, first
    gradients, final state)) by more than the parity tolerances, or None where it does not: the statistics of
    every iteration (as the tests take them: losses within rtol 1e-4), the SGD run's first gradients (rtol 1e-4,
    atol 1e-5 × the tensor's largest; tensors whose float64 gradient vanishes skipped, see `inert_parameters`) and
    its final weights (rtol 1e-4, atol 1e-6).

    The learning rates are chosen so that it does not (see OPTIMIZERS), but a draw can still put an activation's
    input within float32 rounding of its kink (a ReLU input of 9e-8 where the layer's largest is 2, at the
    last iteration of RaSGAN on the 64×64 ResNet with seed 4321), make a loss the difference of nearly equal terms
    (packed WGAN-GP's d_loss of -3.8e-5 at Adam's second iteration, its terms 0.26 and 0.15: PyTorch's float32 is
    3e-3 off relative), or make G's gradients small differences (packed EBGAN: 246 of G's 4,096 first-layer entries
    beyond the tolerance in PyTorch's float32): whatever a float32 code gets there is then luck, and PyTorch's
    float32 run itself misses the reference. Such a draw is no parity test.
    `kinked` (BEGAN, whose L1 energy has a kink at every pixel): gradients as the tests take them, at least 99.9%
    of a tensor's entries within the tolerance and none beyond 10 times it (packed BEGAN's first draw: 559 of G's
    4,096 first-layer entries beyond it in PyTorch's float32, up to 4.1 times)."""
    for optimizer, (stats64, grads64, final64) in references.items():
        for cell, (stats32, grads32, final32) in float32_runs(cfg, name, optimizer, start, inputs):
            miss = _float32_miss(optimizer, stats64, grads64, final64, stats32, grads32, final32, kinked)
            if miss is not None:
                return f"{miss} ({cell})"
    return None


# PyTorch's own kernel choices on other x86-64 processors, simulated here: its ATen vector code capped at AVX2, and
# its oneDNN capped at AVX2. A draw is kept only if PyTorch's float32 run matches float64 on this machine's kernels
# and on these, so that a draw's acceptance does not depend on the writer's processor alone (set TORCH_CELLS=0 to
# check this machine's kernels only).
TORCH_CELLS = {"ATen AVX2, oneDNN AVX2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}}


def float32_runs(cfg, name, optimizer, start, inputs):
    """(cell, PyTorch float32 results) on this process's kernels, then on each of TORCH_CELLS (a subprocess each,
    since the kernels are chosen when torch loads)."""
    yield "this machine's kernels", run(cfg, name, optimizer, start, inputs, dtype=torch.float32)
    if os.environ.get("TORCH_CELLS") == "0":
        return
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        given, result = os.path.join(tmp, "given.npz"), os.path.join(tmp, "result.npz")
        np.savez(given, job=json.dumps(dict(cfg=cfg, name=name, optimizer=optimizer)),
                 **{f"start/{k}": v.numpy() for k, v in start.items()},
                 **{f"inputs/{k}": v.numpy() for k, v in inputs.items()})
        for cell, env in TORCH_CELLS.items():
            subprocess.run([sys.executable, os.path.abspath(__file__), "--float32-run", given, result],
                           env={**os.environ, **env}, check=True)
            out = np.load(result)
            yield cell, (out["stats"], {k[6:]: torch.from_numpy(out[k]) for k in out.files if k.startswith("grads/")},
                         {k[6:]: torch.from_numpy(out[k]) for k in out.files if k.startswith("final/")})


def _float32_run_job(given, result):
    """The subprocess side of `float32_runs`."""
    torch.set_num_threads(1)
    data = np.load(given)
    job = json.loads(str(data["job"]))
    start = {k[6:]: torch.from_numpy(data[k]) for k in data.files if k.startswith("start/")}
    inputs = {k[7:]: torch.from_numpy(data[k]) for k in data.files if k.startswith("inputs/")}
    stats, grads, final = run(job["cfg"], job["name"], job["optimizer"], start, inputs, dtype=torch.float32)
    np.savez(result, stats=stats, **{f"grads/{k}": v.numpy() for k, v in grads.items()},
             **{f"final/{k}": v.numpy() for k, v in final.items()})


def _float32_miss(optimizer, stats64, grads64, final64, stats32, grads32, final32, kinked):
    """What of one float32 run misses the float64 references (see `float32_misses`), or None."""
    for it in range(len(stats64)):
        for k, stat in enumerate(STATS):  # the tolerances of python/tests/parity.py's assert_stats_close
            adaptive = optimizer != "sgd" and it > 0 and stat in ("d_real", "d_fake")
            rtol = 1e-3 if adaptive else 1e-4
            atol = (2 * OPTIMIZERS[optimizer]["lr"] * it if adaptive else 0.0 if stat.endswith("_loss")
                    else 1e-6)
            if abs(stats32[it, k] - stats64[it, k]) > atol + rtol * abs(stats64[it, k]):
                return (f"{optimizer} {stat} at iteration {it}: {stats32[it, k]:.6g}, "
                        f"{stats64[it, k]:.6g} in float64")
    if optimizer != "sgd":
        return None
    scale = {net: max(float(g.abs().max()) for k, g in grads64.items() if k.startswith(net))
             for net in ("D.", "G.")}
    for k, want in grads64.items():
        want, got = want.double(), grads32[k].double()
        largest = float(want.abs().max())
        if largest < 1e-12 * scale[k[:2]]:
            continue
        ratio = (got - want).abs() / (1e-4 * want.abs() + 1e-5 * largest)
        if (bool((ratio > 1).any()) if not kinked else
                float((ratio <= 1).double().mean()) < 0.999 or float(ratio.max()) > 10):
            return f"{optimizer} gradient of {k}: {int((ratio > 1).sum())} of {ratio.numel()} entries off"
    for k, want in final64.items():
        if not bool(((final32[k].double() - want.double()).abs() <= 1e-4 * want.double().abs() + 1e-6).all()):
            return f"{optimizer} final {k}"
    return None


def inert_parameters(cfg, name, init, inputs):
    """Parameters whose first-iteration gradient vanishes in exact arithmetic (a bias right before batch
    norm; a relativistic critic's output bias), found in float64: below 1e-12 × their network's largest."""
    _, grads, _ = run(cfg, name, "sgd", init, inputs, dtype=torch.float64, iterations=1)
    scale = {net: max(float(g.abs().max()) for k, g in grads.items() if k.startswith(net)) for net in ("D.", "G.")}
    return sorted(k for k, g in grads.items() if float(g.abs().max()) < 1e-12 * scale[k[:2]])


def inert_dependent_state(cfg, name, init, inputs, inert):
    """State tensors (besides the inert parameters) whose values after the Adam iterations depend on
    the inert parameters, such as the running mean of a batch norm fed by an inert bias: found in float64
    by shifting the inert parameters' initial values and seeing what moves."""
    if not inert:
        return []
    _, _, a = run(cfg, name, "adam", init, inputs, dtype=torch.float64)
    shifted = {k: v + 1e-3 if k in inert else v for k, v in init.items()}
    _, _, b = run(cfg, name, "adam", shifted, inputs, dtype=torch.float64)
    return sorted(k for k in a if k not in inert and float((a[k] - b[k]).abs().max()) > 1e-9)


def run(cfg, name, optimizer, init, inputs, dtype=torch.float32, iterations=ITERATIONS):
    """`iterations` iterations from `init`; returns per-iteration stats, first-iteration grads, final state."""
    loss, options, _ = run_options(name)
    G, D = make_pair(cfg, options, loss)
    ref.load_state_dict(G, D, init)
    G, D = G.to(dtype), D.to(dtype)
    inputs = {k: v.to(dtype) for k, v in inputs.items()}
    opts = OPTIMIZERS[optimizer]
    make = {"sgd": lambda p: torch.optim.SGD(p, **opts), "adam": lambda p: torch.optim.Adam(p, **opts),
            "rmsprop": lambda p: torch.optim.RMSprop(p, **opts)}[optimizer]
    opt_d, opt_g = make(D.parameters()), make(G.parameters())
    k = options.get("n_critic", 1)
    stats, first_grads, state = [], {}, {}
    energy_options = {"lambda_k": options.get("began_lambda_k", 0.001)}
    for it in range(iterations):
        s = ref.train_iteration(G, D, opt_d, opt_g, loss, [inputs["real"][it]], list(inputs["z_d"][it][:k]),
                                inputs["z_g"][it], u=list(inputs["u"][it][:k]),
                                dragan_alpha=list(inputs["dragan_alpha"][it][:k]),
                                dragan_noise=list(inputs["dragan_noise"][it][:k]),
                                grads=first_grads if it == 0 else None, clip=options.get("clip", 0.0),
                                lsgan=tuple(options.get("lsgan_targets", (0.0, 1.0, 1.0))),
                                minimax=options.get("minimax", False), state=state, energy_options=energy_options,
                                pack=cfg.get("pack", 1))
        stats.append([s[key] for key in STATS])
    return np.array(stats, dtype=np.float64), first_grads, ref.state_dict(G, D)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--float32-run":
        return _float32_run_job(sys.argv[2], sys.argv[3])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "python", "tests", "fixtures"))
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=None,
                        help="write only these configurations' fixtures, keeping the others and their manifest entries")
    parser.add_argument("--runs", nargs="+", default=None, metavar="CONFIG_RUN",
                        help="write only these runs (e.g. dcgan32x1_RaSGAN-R2), keeping every other file")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    only = set(args.runs or [])
    unknown = only - {f"{c}_{loss}" for c, loss in RUNS}
    if unknown:
        parser.error(f"unknown runs {sorted(unknown)}")
    chosen = sorted({run.split("_", 1)[0] for run in only}, key=list(CONFIGS).index) if only else (
        args.configs or list(CONFIGS))
    for old in os.listdir(args.out):
        if old.endswith(".npz") and (old[:-4] in only if only else any(old.startswith(f"{name}_") for name in chosen)):
            os.remove(os.path.join(args.out, old))
    torch.set_num_threads(1)  # reproducible reductions
    runs = []
    manifest_path = os.path.join(args.out, "manifest.json")
    if (args.configs or only) and os.path.exists(manifest_path):
        with open(manifest_path) as f:
            runs = [r for r in json.load(f)["runs"]
                    if (f"{r['config']}_{r['name']}" not in only if only else r["config"] not in chosen)]
    for name, cfg in CONFIGS.items():
        if name not in chosen:
            continue
        init, inputs = draw_inputs(cfg, seed=1234)
        used = [loss for c, loss in RUNS if c == name and (not only or f"{c}_{loss}" in only)]
        arrays = {f"init/{k}": v.numpy() for k, v in init.items()}
        arrays.update({k: v.numpy() for k, v in inputs.items()
                       if k != "dragan_noise" or any("DRAGAN" in loss for c, loss in RUNS if c == name)})
        inputs_path = os.path.join(args.out, f"{name}_inputs.npz")
        if only:  # the stored inputs stay: the runs written now must use exactly them
            stored = np.load(inputs_path)
            assert sorted(stored.files) == sorted(arrays) and all(np.array_equal(stored[k], arrays[k]) for k in arrays), \
                f"{inputs_path} is not the draw of this script: write the whole configuration (--configs {name})"
        else:
            np.savez_compressed(inputs_path, **arrays)
        for run_name in used:
            loss, options, optimizers = run_options(run_name)
            out = {}
            start = init
            own_weights = any(k in ARCH_KEYS for k in options)  # another pair: its own initial weights
            first = REJECTED_ELSEWHERE.get((name, run_name), 4321 if own_weights else None)
            if first is not None:
                start, own_weights = draw_weights(cfg, options, seed=first, loss=loss), True
            weights = first  # the weight seed of the run's start (None: the configuration's shared one)
            for seed in range((first or 4321) + 1, (first or 4321) + 11):  # a draw PyTorch's float32 run can match
                # References are computed in float64 (from the same float32 weights and inputs) and stored as
                # float32: a float32 reference would carry PyTorch's own rounding, which in ill-conditioned spots is
                # as large as the tolerance (BEGAN's G gradients: 8.1e-3 of max; SwiftGAN's 1.8e-5).
                references = {opt: run(cfg, run_name, opt, start, inputs, dtype=torch.float64) for opt in optimizers}
                miss = float32_misses(cfg, run_name, start, inputs, references, kinked=loss == "BEGAN")
                if miss is None:
                    break
                print(f"{name} {run_name}: PyTorch's float32 run misses its float64 run ({miss}); new weights "
                      f"(seed {seed})", flush=True)
                start, own_weights, weights = draw_weights(cfg, options, seed=seed, loss=loss), True, seed
            else:
                raise RuntimeError(f"{name} {run_name}: no draw of 10 is well-conditioned in float32")
            if own_weights:
                out.update({f"init/{k}": v.numpy() for k, v in start.items()})
            for opt, (stats, grads, final) in references.items():
                out[f"{opt}/stats"] = stats
                out.update({f"{opt}/final/{k}": v.float().numpy() for k, v in final.items()})
                if opt == "sgd":  # G's first gradients follow the D update, so they are the SGD run's
                    out.update({f"grad/{k}": v.float().numpy() for k, v in grads.items()})
            np.savez_compressed(os.path.join(args.out, f"{name}_{run_name}.npz"), **out)
            inert = inert_parameters(cfg, run_name, start, inputs)
            runs.append(dict(config=name, name=run_name, loss=loss, options=options, optimizers=optimizers,
                             weights=weights, inert=inert,
                             inert_dependent=inert_dependent_state(cfg, run_name, start, inputs, inert)))
            print(f"{name} {run_name}: d_loss {out['sgd/stats'][:, 0].round(4).tolist()}", flush=True)
    manifest = {"torch": torch.__version__, "iterations": ITERATIONS, "stats": STATS,
                "optimizers": {k: {kk: list(vv) if isinstance(vv, tuple) else vv for kk, vv in v.items()}
                               for k, v in OPTIMIZERS.items()},
                "configs": CONFIGS, "runs": runs}
    order = list(CONFIGS)
    runs.sort(key=lambda r: order.index(r["config"]))  # stable: each configuration's runs keep their order
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2)


if __name__ == "__main__":
    main()
