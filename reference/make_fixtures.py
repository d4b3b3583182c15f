"""Writes the PyTorch parity fixtures that python/tests/test_parity.py reads.

    /opt/torchref/bin/python reference/make_fixtures.py  [--out tests/fixtures]

For each configuration (DCGAN 32×32×1 and 64×64×3, narrow widths, small batches) it draws
initial weights and every random input of 3 iterations (real batches, D and G noise, penalty
mixing coefficients) once, then for each loss runs the 3 iterations twice from the same start
(SGD and Adam) and records the losses of every iteration, the gradients of the first
iteration and the final weights.
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
    "dcgan32x1": dict(image_size=32, channels=1, z_dim=16, ngf=8, ndf=8, batch=8),
    "dcgan64x3": dict(image_size=64, channels=3, z_dim=16, ngf=4, ndf=4, batch=4),
}
LOSSES = ["SGAN", "RSGAN", "RaSGAN", "RaLSGAN", "RaHingeGAN", "RaSGAN-GP"]
ITERATIONS = 3
# Learning rates keep 3 iterations well-conditioned: with them PyTorch's own float32 run matches its
# float64 run within the parity tolerances (100% of entries). At SGD lr 0.05 or Adam lr 2e-4 it does not
# (94% and 91%): a GAN step amplifies float32 rounding, so any two correct float32 codes would differ.
# Adam's 1e-4 is the official RelativisticGAN code's default.
OPTIMIZERS = {"sgd": dict(lr=5e-3), "adam": dict(lr=1e-4, betas=(0.5, 0.999), eps=1e-8)}
STATS = ["d_loss", "g_loss", "d_real", "d_fake", "penalty"]


def draw_inputs(cfg, seed):
    """Initial weights and all random inputs of ITERATIONS iterations."""
    torch.manual_seed(seed)
    G = ref.DCGANGenerator(cfg["image_size"], cfg["channels"], cfg["z_dim"], cfg["ngf"])
    D = ref.DCGANDiscriminator(cfg["image_size"], cfg["channels"], cfg["ndf"])
    ref.dcgan_init(G)
    ref.dcgan_init(D)
    b, s, c, z = cfg["batch"], cfg["image_size"], cfg["channels"], cfg["z_dim"]
    inputs = {
        "real": torch.rand(ITERATIONS, b, c, s, s) * 2 - 1,
        "z_d": torch.randn(ITERATIONS, b, z),
        "z_g": torch.randn(ITERATIONS, b, z),
        "u": torch.rand(ITERATIONS, b),
    }
    return ref.state_dict(G, D), inputs


def run(cfg, loss, optimizer, init, inputs):
    """ITERATIONS iterations from `init`; returns per-iteration stats, first-iteration grads, final state."""
    G = ref.DCGANGenerator(cfg["image_size"], cfg["channels"], cfg["z_dim"], cfg["ngf"])
    D = ref.DCGANDiscriminator(cfg["image_size"], cfg["channels"], cfg["ndf"])
    ref.load_state_dict(G, D, init)
    opts = OPTIMIZERS[optimizer]
    make = (lambda p: torch.optim.SGD(p, **opts)) if optimizer == "sgd" else (lambda p: torch.optim.Adam(p, **opts))
    opt_d, opt_g = make(D.parameters()), make(G.parameters())
    stats, first_grads = [], {}
    for it in range(ITERATIONS):
        s = ref.train_iteration(G, D, opt_d, opt_g, loss, [inputs["real"][it]], [inputs["z_d"][it]],
                                inputs["z_g"][it], [inputs["u"][it]], grads=first_grads if it == 0 else None)
        stats.append([s[k] for k in STATS])
    return np.array(stats, dtype=np.float64), first_grads, ref.state_dict(G, D)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "python", "tests", "fixtures"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)  # reproducible reductions
    manifest = {"torch": torch.__version__, "iterations": ITERATIONS, "losses": LOSSES, "stats": STATS,
                "optimizers": {k: {kk: list(vv) if isinstance(vv, tuple) else vv for kk, vv in v.items()}
                               for k, v in OPTIMIZERS.items()},
                "configs": CONFIGS}
    for name, cfg in CONFIGS.items():
        init, inputs = draw_inputs(cfg, seed=1234)
        arrays = {f"init/{k}": v.numpy() for k, v in init.items()}
        arrays.update({k: v.numpy() for k, v in inputs.items()})
        np.savez_compressed(os.path.join(args.out, f"{name}_inputs.npz"), **arrays)
        for loss in LOSSES:
            out = {}
            for opt in OPTIMIZERS:
                stats, grads, final = run(cfg, loss, opt, init, inputs)
                out[f"{opt}/stats"] = stats
                out.update({f"{opt}/final/{k}": v.numpy() for k, v in final.items()})
                if opt == "sgd":  # G's first gradients follow the D update, so they are the SGD run's
                    out.update({f"grad/{k}": v.numpy() for k, v in grads.items()})
            np.savez_compressed(os.path.join(args.out, f"{name}_{loss}.npz"), **out)
            print(f"{name} {loss}: d_loss {out['adam/stats'][:, 0].round(4).tolist()}", flush=True)
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)


if __name__ == "__main__":
    main()
