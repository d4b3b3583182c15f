"""The PyTorch twin trained on the ring of 8 Gaussians, the way `swiftgan.toy.train_on_ring` trains SwiftGAN.

    from toy import train_on_ring   # with reference/ on sys.path
    train_on_ring("BEGAN", z_dim=4, ngf=128, ndf=128, lr_d=7e-4, lr_g=7e-4, betas=(0.5, 0.9), ema_decay=0.99)

The options are resolved by SwiftGAN itself (`GAN(...).options`, so each loss's preset applies exactly as in
SwiftGAN); the twin pair (`model_pair(arch="mlp")`), its initialisation (PyTorch's default), the iteration
(`train_iteration`), the optimizers, the moving average of G and the ring's batches (drawn with `data_seed`, as
SwiftGAN's) follow. Weights and noise are PyTorch's own draws: an outcome is comparable with SwiftGAN's as a
distribution over seeds, not number for number (`benchmarks/toy_ring.py --engine pytorch` tables it).
"""
from __future__ import annotations

import copy
import os
import sys
from typing import Dict

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swiftgan_reference as ref  # noqa: E402


def _optimizer(params, options, side):
    lr, betas = options[f"lr_{side}"], tuple(options[f"betas_{side}"])
    if options["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=options["eps"])
    if options["optimizer"] == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=options["rmsprop_alpha"], eps=options["eps"])
    return torch.optim.SGD(params, lr=lr)


def train_on_ring(loss: str, iterations: int = 2000, batch_size: int = 512, data_seed: int = 0,
                  n_samples: int = 2000, **options) -> Dict[str, float]:
    """`mode_statistics` of `n_samples` samples of the twin generator's moving average after `iterations`
    (one fresh batch of `batch_size` ring points per critic step)."""
    import swiftgan
    from swiftgan.toy import mode_statistics, ring_of_gaussians

    with swiftgan.GAN(loss=loss, arch="mlp", channels=2, **options) as gan:
        o = gan.options
    if o["reuse_fake"] or o["lr_schedule"] != "constant":
        raise ValueError("the PyTorch ring runner supports neither reuse_fake nor a learning-rate schedule")
    torch.manual_seed(o["seed"])
    G, D = ref.model_pair(o["image_size"], 2, o["z_dim"], o["ngf"], o["ndf"], energy_based=loss in ("EBGAN", "BEGAN"),
                          arch="mlp", ae_code=o["ae_code"])
    average = copy.deepcopy(G) if o["ema_decay"] > 0 else G
    opt_d, opt_g = _optimizer(D.parameters(), o, "d"), _optimizer(G.parameters(), o, "g")

    def latents(n):
        return torch.rand(n, o["z_dim"]) * 2 - 1 if o["latent"] == "uniform" else torch.randn(n, o["z_dim"])

    rng, k, b, state = np.random.default_rng(data_seed), o["n_critic"], batch_size, {}
    weights = {"LP": o["lp_weight"], "R1": o["r1_weight"], "DRAGAN": o["dragan_weight"]}
    energy = {"margin": o["ebgan_margin"], "pt_weight": o["pt_weight"], "gamma": o["began_gamma"],
              "lambda_k": o["began_lambda_k"]}
    for _ in range(iterations):
        reals = list(torch.from_numpy(ring_of_gaussians(b * k, rng)).reshape(k, b, 2))
        ref.train_iteration(G, D, opt_d, opt_g, loss, reals, [latents(b) for _ in range(k)], latents(b),
                            u=[torch.rand(b) for _ in range(k)], gp_weight=o["gp_weight"], weights=weights,
                            dragan_alpha=[torch.rand(b) * 2 - 1 for _ in range(k)],
                            dragan_noise=[torch.rand(b, 2) for _ in range(k)], clip=o["clip"],
                            lsgan=tuple(o["lsgan_targets"]), minimax=o["minimax"], state=state, energy_options=energy,
                            dragan_clip=o["dragan_clip"])
        if average is not G:
            with torch.no_grad():
                for a, p in zip(average.parameters(), G.parameters()):
                    a.mul_(o["ema_decay"]).add_(p, alpha=1 - o["ema_decay"])
    with torch.no_grad():
        return mode_statistics(average(latents(n_samples)).numpy())
