"""PyTorch twins of SwiftGAN's models, losses and training iteration (`swiftgan compare` runs them; `reference/` too).

This is the reference SwiftGAN is checked against: the layer sequences, parameter
names and layouts, the loss formulas of the relativistic GAN paper's official code
(the averaged forms with the 1/2 factor), the gradient penalty by double backprop, and
the order of operations of one iteration (which fixes how BN running statistics evolve).
PyTorch is needed to run this file; SwiftGAN's package never imports it (`swiftgan compare` runs it in a worker
process of a Python that has torch).
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---- models ------------------------------------------------------------------

def _activation(layers: List[nn.Module], channels: int, selu: bool, batch_norm: bool, leaky: bool) -> None:
    """The official code's block: SELU, or [BN] + ReLU / LeakyReLU(0.2)."""
    if selu:
        layers.append(nn.SELU())
        return
    if batch_norm:
        layers.append(nn.BatchNorm2d(channels))
    layers.append(nn.LeakyReLU(0.2) if leaky else nn.ReLU())


def _sn(module: nn.Module, on: bool) -> nn.Module:
    return nn.utils.spectral_norm(module) if on else module


class DCGANGenerator(nn.Module):
    """ConvT(z, ngf·S/8, 4,1,0) BN ReLU, ConvT 4/2/1 halving to ngf with BN ReLU, ConvT(ngf, c, 4,2,1) Tanh;
    options as the official code: selu, batch_norm, upsample_conv (Upsample ×2 + Conv 3/1/1), spectral_norm."""

    def __init__(self, image_size: int, channels: int, z_dim: int, ngf: int, selu: bool = False,
                 batch_norm: bool = True, upsample_conv: bool = False, spectral_norm: bool = False):
        super().__init__()
        bn = batch_norm and not spectral_norm
        mult = image_size // 8
        layers: List[nn.Module] = [_sn(nn.ConvTranspose2d(z_dim, ngf * mult, 4, 1, 0, bias=False), spectral_norm)]
        _activation(layers, ngf * mult, selu, bn, leaky=False)

        def up(a, b):
            if upsample_conv:
                return [nn.Upsample(scale_factor=2), _sn(nn.Conv2d(a, b, 3, 1, 1, bias=True), spectral_norm)]
            return [_sn(nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), spectral_norm)]

        while mult > 1:
            layers += up(ngf * mult, ngf * mult // 2)
            _activation(layers, ngf * mult // 2, selu, bn, leaky=False)
            mult //= 2
        layers += up(ngf, channels) + [nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.z_dim = z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.view(z.shape[0], self.z_dim, 1, 1))


class DCGANDiscriminator(nn.Module):
    """Conv(c, ndf, 4,2,1) LReLU(0.2), Conv 4/2/1 doubling with BN LReLU(0.2) down to 4×4, Conv(·, 1, 4,1,0);
    options as the official code: selu, batch_norm, spectral_norm."""

    def __init__(self, image_size: int, channels: int, ndf: int, selu: bool = False, batch_norm: bool = True,
                 spectral_norm: bool = False):
        super().__init__()
        bn = batch_norm and not spectral_norm
        layers: List[nn.Module] = [_sn(nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), spectral_norm)]
        _activation(layers, ndf, selu, False, leaky=True)
        size, mult = image_size // 2, 1
        while size > 4:
            layers.append(_sn(nn.Conv2d(ndf * mult, ndf * mult * 2, 4, 2, 1, bias=False), spectral_norm))
            _activation(layers, ndf * mult * 2, selu, bn, leaky=True)
            size //= 2
            mult *= 2
        layers += [_sn(nn.Conv2d(ndf * mult, 1, 4, 1, 0, bias=False), spectral_norm)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1)


class StandardCNNGenerator(nn.Module):
    """dense Linear(z, 8ngf·4·4); model: ConvT 4/2/1 8ngf→4ngf→2ngf→ngf with BN ReLU, Conv(ngf, c, 3,1,1) Tanh."""

    def __init__(self, channels: int, z_dim: int, ngf: int, batch_norm: bool = True, spectral_norm: bool = False):
        super().__init__()
        bn = batch_norm and not spectral_norm
        self.dense = nn.Linear(z_dim, 8 * ngf * 16)
        layers: List[nn.Module] = []
        for a, b in ((8 * ngf, 4 * ngf), (4 * ngf, 2 * ngf), (2 * ngf, ngf)):
            layers.append(_sn(nn.ConvTranspose2d(a, b, 4, 2, 1, bias=True), spectral_norm))
            layers += [nn.BatchNorm2d(b)] if bn else []
            layers.append(nn.ReLU())
        layers += [_sn(nn.Conv2d(ngf, channels, 3, 1, 1, bias=True), spectral_norm), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.width = ngf

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(self.dense(z.view(z.shape[0], -1)).view(-1, 8 * self.width, 4, 4))


class StandardCNNDiscriminator(nn.Module):
    """dense Linear(8ndf·4·4, 1) (registered first); model: Conv 3/1/1 and 4/2/1 pairs ndf→2ndf→4ndf with
    BN LeakyReLU(0.1), Conv(4ndf, 8ndf, 3,1,1) LeakyReLU(0.1)."""

    def __init__(self, channels: int, ndf: int, batch_norm: bool = True, spectral_norm: bool = False):
        super().__init__()
        bn = batch_norm and not spectral_norm
        self.dense = nn.Linear(8 * ndf * 16, 1)
        plan = [(channels, ndf, 3, 1, 1), (ndf, ndf, 4, 2, 1), (ndf, 2 * ndf, 3, 1, 1), (2 * ndf, 2 * ndf, 4, 2, 1),
                (2 * ndf, 4 * ndf, 3, 1, 1), (4 * ndf, 4 * ndf, 4, 2, 1), (4 * ndf, 8 * ndf, 3, 1, 1)]
        layers: List[nn.Module] = []
        for i, (a, b, k, st, p) in enumerate(plan):
            layers.append(_sn(nn.Conv2d(a, b, k, st, p, bias=True), spectral_norm))
            layers += [nn.BatchNorm2d(b)] if bn and i < len(plan) - 1 else []
            layers.append(nn.LeakyReLU(0.1))
        self.model = nn.Sequential(*layers)
        self.width = ndf

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense(self.model(x).view(x.shape[0], -1)).view(-1)


class PatchGANDiscriminator(nn.Module):
    """pix2pix's NLayerDiscriminator (3 layers, instance norm, biases on): scores every patch, output [N·P]."""

    def __init__(self, channels: int, ndf: int, spectral_norm: bool = False):
        super().__init__()
        layers: List[nn.Module] = [_sn(nn.Conv2d(channels, ndf, 4, 2, 1), spectral_norm), nn.LeakyReLU(0.2)]
        for a, b, stride in ((ndf, 2 * ndf, 2), (2 * ndf, 4 * ndf, 2), (4 * ndf, 8 * ndf, 1)):
            layers += [_sn(nn.Conv2d(a, b, 4, stride, 1), spectral_norm), nn.InstanceNorm2d(b), nn.LeakyReLU(0.2)]
        layers.append(_sn(nn.Conv2d(8 * ndf, 1, 4, 1, 1), spectral_norm))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).view(-1)


class ResidualBlock(nn.Module):
    """shortcut(x) + main(x), resampling "up" (nearest ×2 before each conv), "down" (2×2 mean pool after),
    "none", or "first" (the critic's first block); `norm(c)` gives the normalisation before each ReLU or None."""

    def __init__(self, a: int, b: int, resample: str, norm):
        super().__init__()

        def conv(i, o, k):
            return nn.Conv2d(i, o, k, 1, k // 2)

        def pre(c):
            n = norm(c)
            return ([n] if n is not None else []) + [nn.ReLU()]

        if resample == "up":
            main = pre(a) + [nn.Upsample(scale_factor=2), conv(a, b, 3)] + pre(b) + [conv(b, b, 3)]
            shortcut = [nn.Upsample(scale_factor=2), conv(a, b, 1)]
        elif resample == "down":
            main = pre(a) + [conv(a, a, 3)] + pre(a) + [conv(a, b, 3), nn.AvgPool2d(2)]
            shortcut = [conv(a, b, 1), nn.AvgPool2d(2)]
        elif resample == "none":
            main = pre(a) + [conv(a, b, 3)] + pre(b) + [conv(b, b, 3)]
            shortcut = [] if a == b else [conv(a, b, 1)]
        else:
            main = [conv(a, b, 3), nn.ReLU(), conv(b, b, 3), nn.AvgPool2d(2)]
            shortcut = [nn.AvgPool2d(2), conv(a, b, 1)]
        self.main = nn.Sequential(*main)
        self.shortcut = nn.Sequential(*shortcut)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.main(x)


class ResNetGenerator(nn.Module):
    """dense Linear(z, 4·4·w); blocks: up-blocks (32: ngf→ngf ×3; 64: 8ngf→8ngf→4ngf→2ngf→ngf);
    out: BN ReLU Conv3(ngf→c) Tanh."""

    def __init__(self, image_size: int, channels: int, z_dim: int, ngf: int):
        super().__init__()
        widths = [ngf] * 4 if image_size == 32 else [8 * ngf, 8 * ngf, 4 * ngf, 2 * ngf, ngf]
        self.start = widths[0]
        self.dense = nn.Linear(z_dim, 16 * widths[0])
        self.blocks = nn.Sequential(*[ResidualBlock(widths[i], widths[i + 1], "up", nn.BatchNorm2d)
                                      for i in range(len(widths) - 1)])
        self.out = nn.Sequential(nn.BatchNorm2d(ngf), nn.ReLU(), nn.Conv2d(ngf, channels, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.blocks(self.dense(z.view(z.shape[0], -1)).view(-1, self.start, 4, 4)))


class ResNetDiscriminator(nn.Module):
    """32: blocks = first, down, none, none, ReLU; spatial mean; dense Linear(ndf, 1).
    64: blocks = Conv3, down ×4 (ndf→2ndf→4ndf→8ndf→8ndf); dense Linear(4·4·8ndf, 1).
    layer_norm: GroupNorm(1, C) before each ReLU of the blocks."""

    def __init__(self, image_size: int, channels: int, ndf: int, layer_norm: bool = False):
        super().__init__()
        norm = (lambda c: nn.GroupNorm(1, c)) if layer_norm else (lambda c: None)
        self.small = image_size == 32
        if self.small:
            self.blocks = nn.Sequential(ResidualBlock(channels, ndf, "first", norm), ResidualBlock(ndf, ndf, "down", norm),
                                        ResidualBlock(ndf, ndf, "none", norm), ResidualBlock(ndf, ndf, "none", norm),
                                        nn.ReLU())
            self.dense = nn.Linear(ndf, 1)
        else:
            layers: List[nn.Module] = [nn.Conv2d(channels, ndf, 3, 1, 1)]
            for a, b in ((ndf, 2 * ndf), (2 * ndf, 4 * ndf), (4 * ndf, 8 * ndf), (8 * ndf, 8 * ndf)):
                layers.append(ResidualBlock(a, b, "down", norm))
            self.blocks = nn.Sequential(*layers)
            self.dense = nn.Linear(16 * 8 * ndf, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(x)
        h = h.mean(dim=(2, 3)) if self.small else h.flatten(1)
        return self.dense(h).view(-1)


class ConvAutoEncoder(nn.Module):
    """encoder: Conv(c, ndf, 4,2,1) ReLU Flatten Linear(ndf·(S/2)², h);
    decoder: BN1d(h) ReLU Linear(h, ndf·(S/2)²) BN1d ReLU Unflatten ConvT(ndf, c, 4,2,1)."""

    def __init__(self, image_size: int, channels: int, ndf: int, code: int = 32):
        super().__init__()
        half = image_size // 2
        features = ndf * half * half
        self.encoder = nn.Sequential(nn.Conv2d(channels, ndf, 4, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(features, code))
        self.decoder = nn.Sequential(nn.BatchNorm1d(code), nn.ReLU(), nn.Linear(code, features), nn.BatchNorm1d(features),
                                     nn.ReLU(), nn.Unflatten(1, (ndf, half, half)), nn.ConvTranspose2d(ndf, channels, 4, 2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class EBGANAutoEncoder(nn.Module):
    """The EBGAN paper's critic. encoder: Conv(c, ndf, 4,2,1) LReLU(0.2), Conv(ndf, 2ndf, 4,2,1) BN LReLU(0.2),
    Conv(2ndf, 4ndf, 4,2,1) BN LReLU(0.2); decoder: ConvT(4ndf, 2ndf, 4,2,1) BN LReLU(0.2), ConvT(2ndf, ndf, 4,2,1) BN
    LReLU(0.2), ConvT(ndf, c, 4,2,1) (bias only where no batch norm follows)."""

    def __init__(self, channels: int, ndf: int):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ndf), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * ndf, 4 * ndf, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * ndf), nn.LeakyReLU(0.2))
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(4 * ndf, 2 * ndf, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ndf), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(2 * ndf, ndf, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(ndf, channels, 4, 2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def began_scales(image_size: int) -> int:
    """BEGAN's scales, 8×8 up to image_size."""
    return int(round(math.log2(image_size // 8))) + 1


def began_decoder(image_size: int, channels: int, inputs: int, n: int) -> nn.Sequential:
    """Linear(inputs, n·8·8) Unflatten, per scale [Conv(n, n, 3,1,1) ELU]×2 with nearest Upsample×2 between scales,
    Conv(n, c, 3,1,1)."""
    layers = [nn.Linear(inputs, n * 8 * 8), nn.Unflatten(1, (n, 8, 8))]
    scales = began_scales(image_size)
    for scale in range(scales):
        layers += [nn.Conv2d(n, n, 3, 1, 1), nn.ELU(), nn.Conv2d(n, n, 3, 1, 1), nn.ELU()]
        if scale < scales - 1:
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
    return nn.Sequential(*layers, nn.Conv2d(n, channels, 3, 1, 1))


class BEGANGenerator(nn.Module):
    """BEGAN's generator `main`: the decoder's layers from z (PyTorch's default init, no output activation)."""

    def __init__(self, image_size: int, channels: int, z_dim: int, ngf: int):
        super().__init__()
        self.main = began_decoder(image_size, channels, z_dim, ngf)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.reshape(z.shape[0], -1))


class BEGANAutoEncoder(nn.Module):
    """BEGAN's critic. encoder: Conv(c, n, 3,1,1) ELU, per scale k = 1.. [Conv(kn, kn, 3,1,1) ELU]×2 and, but at 8×8,
    Conv(kn, (k+1)n, 3,2,1) ELU; Flatten Linear(·, h). decoder: `began_decoder` from h."""

    def __init__(self, image_size: int, channels: int, n: int, code: int):
        super().__init__()
        scales = began_scales(image_size)
        layers = [nn.Conv2d(channels, n, 3, 1, 1), nn.ELU()]
        for k in range(1, scales + 1):
            layers += [nn.Conv2d(k * n, k * n, 3, 1, 1), nn.ELU(), nn.Conv2d(k * n, k * n, 3, 1, 1), nn.ELU()]
            if k < scales:
                layers += [nn.Conv2d(k * n, (k + 1) * n, 3, 2, 1), nn.ELU()]
        self.encoder = nn.Sequential(*layers, nn.Flatten(), nn.Linear(scales * n * 8 * 8, code))
        self.decoder = began_decoder(image_size, channels, code, n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class MLPAutoEncoder(nn.Module):
    """encoder: Linear(d, ndf) ReLU Linear(ndf, h); decoder: ReLU Linear(h, ndf) ReLU Linear(ndf, d)
    (PyTorch's default init)."""

    def __init__(self, inputs: int, hidden: int, code: int):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, code))
        self.decoder = nn.Sequential(nn.ReLU(), nn.Linear(code, hidden), nn.ReLU(), nn.Linear(hidden, inputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def energy(loss: str, x: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    """Per-sample reconstruction energy: mean squared error (EBGAN) or mean absolute error (BEGAN)."""
    d = x - reconstruction
    return (d ** 2 if loss == "EBGAN" else d.abs()).flatten(1).mean(1)


def pull_away_term(codes: torch.Tensor) -> torch.Tensor:
    """The mean squared cosine similarity of the codes over pairs i ≠ j."""
    n = codes.shape[0]
    unit = codes / (codes ** 2).sum(1, keepdim=True).sqrt()
    similarity = unit @ unit.t()
    return ((similarity ** 2) * (1 - torch.eye(n, dtype=codes.dtype))).sum() / (n * (n - 1))


def wgan_init(module: nn.Module, he: bool) -> None:
    """tflib's initialisation: uniform weights with σ = √(4/(fan_in+fan_out)) (he) or √(2/(fan_in+fan_out)),
    fan_in = in·k², fan_out = out·k²; biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            k = m.weight[0, 0].numel() if m.weight.dim() == 4 else 1
            std = ((4.0 if he else 2.0) / (m.weight.shape[1] * k + m.weight.shape[0] * k)) ** 0.5
            nn.init.uniform_(m.weight, -std * 3 ** 0.5, std * 3 ** 0.5)
            nn.init.zeros_(m.bias)


def init_pair(G: nn.Module, D: nn.Module) -> None:
    """Each architecture's own initialisation: the WGAN-GP code's for the ResNet pair, PyTorch's default for BEGAN's, DCGAN's otherwise
    (which leaves Linear layers, and so the MLP pair, at PyTorch's default)."""
    if isinstance(G, BEGANGenerator):
        return  # BEGAN's pair keeps PyTorch's default initialisation
    if isinstance(G, ResNetGenerator):
        wgan_init(G.blocks, he=True)
        wgan_init(G.dense, he=False)
        wgan_init(G.out, he=False)
        wgan_init(D.blocks, he=True)
        wgan_init(D.dense, he=False)
    else:
        dcgan_init(G)
        dcgan_init(D)


# The options that shape a pair (SwiftGAN's names), as `model_pair` takes them.
ARCH_OPTIONS = ("arch", "ae_code", "layer_norm_d", "selu", "batch_norm_g", "batch_norm_d", "upsample_conv",
                "spectral_norm_d", "spectral_norm_g", "pack")


def model_pair(image_size: int, channels: int, z_dim: int, ngf: int, ndf: int, energy_based: bool = False, **options):
    """The twins of SwiftGAN's pair for `arch` with its options (SwiftGAN's names); `energy_based` (EBGAN, BEGAN)
    gives the "mlp" pair its auto-encoder critic. With `pack` m the critic takes m·channels inputs (PacGAN)."""
    c = channels * options.get("pack", 1)  # the critic's input channels
    if options.get("arch", "dcgan") == "mlp":
        critic = (MLPAutoEncoder(c, ndf, options.get("ae_code", 32)) if energy_based
                  else MLP(c, ndf, 1, squeeze=True))
        return MLP(z_dim, ngf, channels, squeeze=False), critic
    if options.get("arch", "dcgan") == "autoencoder":
        G, _ = model_pair(image_size, channels, z_dim, ngf, ndf, **{**options, "arch": "dcgan"})
        return G, ConvAutoEncoder(image_size, c, ndf, options.get("ae_code", 32))
    if options.get("arch", "dcgan") == "ebgan":
        G, _ = model_pair(image_size, channels, z_dim, ngf, ndf, **{**options, "arch": "dcgan"})
        return G, EBGANAutoEncoder(c, ndf)
    if options.get("arch", "dcgan") == "began":
        return (BEGANGenerator(image_size, channels, z_dim, ngf),
                BEGANAutoEncoder(image_size, c, ndf, options.get("ae_code", 32)))
    if options.get("arch", "dcgan") == "resnet":
        return (ResNetGenerator(image_size, channels, z_dim, ngf),
                ResNetDiscriminator(image_size, c, ndf, options.get("layer_norm_d", False)))
    if options.get("arch", "dcgan") == "patchgan":
        G, _ = model_pair(image_size, channels, z_dim, ngf, ndf, **{**options, "arch": "dcgan"})
        return G, PatchGANDiscriminator(c, ndf, options.get("spectral_norm_d", False))
    if options.get("arch", "dcgan") == "cnn":
        return (StandardCNNGenerator(channels, z_dim, ngf, options.get("batch_norm_g", True),
                                     options.get("spectral_norm_g", False)),
                StandardCNNDiscriminator(c, ndf, options.get("batch_norm_d", True),
                                         options.get("spectral_norm_d", False)))
    G = DCGANGenerator(image_size, channels, z_dim, ngf, selu=options.get("selu", False),
                       batch_norm=options.get("batch_norm_g", True), upsample_conv=options.get("upsample_conv", False),
                       spectral_norm=options.get("spectral_norm_g", False))
    D = DCGANDiscriminator(image_size, c, ndf, selu=options.get("selu", False),
                           batch_norm=options.get("batch_norm_d", True),
                           spectral_norm=options.get("spectral_norm_d", False))
    return G, D


def dcgan_init(module: nn.Module) -> None:
    """Conv weights (weight_orig under spectral norm) N(0, 0.02), BN weight N(1, 0.02), BN bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight_orig if hasattr(m, "weight_orig") else m.weight, 0.0, 0.02)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class MLP(nn.Module):
    """Linear(in, h) ReLU, Linear(h, h) ReLU, Linear(h, h) ReLU, Linear(h, out) (PyTorch's default init)."""

    def __init__(self, inputs: int, hidden: int, outputs: int, squeeze: bool):
        super().__init__()
        self.main = nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                  nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, outputs))
        self.squeeze = squeeze

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.main(x.flatten(1))
        return y.view(-1) if self.squeeze else y


# ---- objectives (the formulas of SwiftGAN's Losses/Objective.swift) -----------------

FUNCTIONS = {  # (f1: pushes up, "more real"; f2: pushes down)
    "S": (lambda v: F.softplus(-v), lambda v: F.softplus(v)),
    "LS": (lambda v: (v - 1) ** 2, lambda v: (v + 1) ** 2),
    "Hinge": (lambda v: F.relu(1 - v), lambda v: F.relu(1 + v)),
}
PENALTIES = ("GP", "LP", "R1", "DRAGAN", "R2", "GP0")
ALIASES = {"DRAGAN": ("SGAN", ["DRAGAN"]), "RaDRAGAN": ("RaSGAN", ["DRAGAN"])}


def parse_loss(name: str):
    """'RaLSGAN-GP' → ('RaLSGAN', ['GP']); 'RaDRAGAN' → ('RaSGAN', ['DRAGAN'])."""
    penalties: List[str] = []
    rest = name
    while True:
        for p in PENALTIES:
            if rest.upper().endswith("-" + p):
                rest = rest[: -len(p) - 1]
                penalties.insert(0, p)
                break
        else:
            break
    if rest in ALIASES:
        base, extra = ALIASES[rest]
        return base, extra + penalties
    return rest, penalties


def _relativistic(base: str):
    """'RaLSGAN' → ('Ra', 'LS'); 'RpSGAN-avg' → ('Rp', 'S'); None for the standard objectives."""
    for prefix in ("Rp", "Ra", "Rc", "R"):
        if base.startswith(prefix) and base not in ("SGAN",):
            stem = base[len(prefix):].replace("-avg", "")
            if stem.endswith("GAN") and stem[:-3] in FUNCTIONS:
                return prefix, stem[:-3]
    return None


def discriminator_loss(base: str, cr: torch.Tensor, cf: torch.Tensor, lsgan=(0.0, 1.0, 1.0)) -> torch.Tensor:
    if base == "SGAN":
        return F.softplus(-cr).mean() + F.softplus(cf).mean()
    if base == "LSGAN":
        a, b, _ = lsgan
        return ((cr - b) ** 2).mean() + ((cf - a) ** 2).mean()
    if base == "HingeGAN":
        return F.relu(1 - cr).mean() + F.relu(1 + cf).mean()
    if base == "WGAN":
        return cf.mean() - cr.mean()
    kind, stem = _relativistic(base)
    f1, f2 = FUNCTIONS[stem]
    if kind == "R":
        return f1(cr - cf).mean()
    if kind == "Ra":
        return (f1(cr - cf.mean()).mean() + f2(cf - cr.mean()).mean()) * 0.5
    if kind == "Rc":
        m = (cr.mean() + cf.mean()) * 0.5
        return (f1(cr - m).mean() + f2(cf - m).mean()) * 0.5
    return f1(cr[:, None] - cf[None, :]).mean()  # Rp-avg: every real-fake pair


def generator_loss(base: str, cr: Optional[torch.Tensor], cf: torch.Tensor, lsgan=(0.0, 1.0, 1.0),
                   minimax: bool = False) -> torch.Tensor:
    if base == "SGAN":
        return -F.softplus(cf).mean() if minimax else F.softplus(-cf).mean()
    if base == "LSGAN":
        return ((cf - lsgan[2]) ** 2).mean()
    if base in ("HingeGAN", "WGAN"):
        return -cf.mean()
    return discriminator_loss(base, cf, cr)  # every relativistic form: D's loss with real and fake exchanged


# ---- penalties (double backprop, create_graph=True) ----------------------------------

def _gradient_norms(D: nn.Module, point: torch.Tensor) -> torch.Tensor:
    x = point.detach().requires_grad_(True)
    score = D(x)
    grad, = torch.autograd.grad(score, x, grad_outputs=torch.ones_like(score), create_graph=True)
    return grad.reshape(grad.shape[0], -1).norm(2, dim=1)


def _per_sample(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return t.view([-1] + [1] * (like.dim() - 1))


def penalty(kind: str, weight: float, D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
            u: Optional[torch.Tensor] = None, alpha: Optional[torch.Tensor] = None,
            noise: Optional[torch.Tensor] = None, dragan_clip: bool = True) -> torch.Tensor:
    """GP: λE(‖∇C(x̂)‖−1)², LP: λE max(0,‖∇C(x̂)‖−1)², x̂ = u·x_r + (1−u)·x_f; R1: (γ/2)E‖∇C(x_r)‖²;
    R2: (γ/2)E‖∇C(x_f)‖²; GP0: λE‖∇C(x̂)‖², x̂ as for GP; DRAGAN: λE(‖∇C(x̂)‖−1)², x̂ = clip(x_r + α·(ε·0.5·std(x_r)), −1, 1) (unclipped without
    `dragan_clip`)."""
    if kind in ("GP", "LP", "GP0"):
        uu = _per_sample(u, real)
        norms = _gradient_norms(D, real * uu + fake * (1 - uu))
        if kind == "GP0":
            return weight * (norms ** 2).mean()
        excess = norms - 1
        return weight * ((excess if kind == "GP" else F.relu(excess)) ** 2).mean()
    if kind in ("R1", "R2"):
        return (weight / 2) * (_gradient_norms(D, real if kind == "R1" else fake) ** 2).mean()
    std = real.std()
    perturbed = real + _per_sample(alpha, real) * (noise * (0.5 * std))
    perturbed = torch.clamp(perturbed, -1, 1) if dragan_clip else perturbed
    return weight * ((_gradient_norms(D, perturbed) - 1) ** 2).mean()


def gradient_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, u: torch.Tensor,
                     weight: float) -> torch.Tensor:
    """λ·E(‖∇C(x̂)‖₂ − 1)², x̂ = u·x_r + (1 − u)·x_f, by double backprop (create_graph=True)."""
    return penalty("GP", weight, D, real, fake, u=u)


# ---- one iteration, in SwiftGAN's order -----------------------------------------

def train_iteration(G: nn.Module, D: nn.Module, opt_d: torch.optim.Optimizer, opt_g: torch.optim.Optimizer,
                    loss: str, reals: Sequence[torch.Tensor], z_d: Sequence[torch.Tensor], z_g: torch.Tensor,
                    u: Optional[Sequence[torch.Tensor]] = None, gp_weight: float = 10.0,
                    grads: Optional[Dict[str, torch.Tensor]] = None, dragan_alpha=None, dragan_noise=None,
                    weights: Optional[Dict[str, float]] = None, clip: float = 0.0, lsgan=(0.0, 1.0, 1.0),
                    minimax: bool = False, state: Optional[Dict[str, float]] = None,
                    energy_options: Optional[Dict[str, float]] = None, dragan_clip: bool = True,
                    reuse_fake: bool = False, pack: int = 1) -> Dict[str, float]:
    """len(z_d) D steps then one G step, exactly as SwiftGAN's trainer (fresh noise z_g for the G step, or with
    `reuse_fake` the last D step's fake batch, generated once with its graph kept, as the official code does).

    D step k: fake = G(z_d[k]) without gradient; C_r = D(x), C_f = D(fake); loss + penalties (each on
    its own D pass); D update; clip D's parameters to ±clip if clip > 0.
    G step: fake = G(z_g); C_r = D(x_last) without gradient (relativistic losses only); C_f = D(fake).
    `grads`, when given, receives the last D step's and the G step's gradients by parameter name.
    With `pack` m (PacGAN), D judges every batch as B/m samples of m·C channels, m consecutive samples
    concatenated along the channels; the penalties' inputs (u, α, ε) are per packed sample.
    """
    def packed(batch: torch.Tensor) -> torch.Tensor:
        return batch if pack == 1 else batch.reshape(batch.shape[0] // pack, batch.shape[1] * pack, *batch.shape[2:])

    base, penalties = parse_loss(loss)
    weights = {"GP": gp_weight, "LP": 10.0, "R1": 10.0, "DRAGAN": 10.0, "R2": 10.0, "GP0": 10.0, **(weights or {})}
    eo = {"margin": 1.0, "pt_weight": 0.1, "gamma": 0.5, "lambda_k": 0.001, **(energy_options or {})}
    state = state if state is not None else {}
    k_began = state.get("k", 0.0)
    energy_based = base in ("EBGAN", "BEGAN")

    def critic(x):
        return energy(base, x, D(x)) if energy_based else D(x)

    stats: Dict[str, float] = {}
    for k in range(len(z_d)):
        x = packed(reals[k if len(reals) > 1 else 0])
        if reuse_fake and k == len(z_d) - 1:
            kept = packed(G(z_d[k]))
            fake = kept.detach()
        else:
            with torch.no_grad():
                fake = packed(G(z_d[k]))
        cr, cf = critic(x), critic(fake)
        if base == "EBGAN":
            loss_d = cr.mean() + F.relu(eo["margin"] - cf).mean()
        elif base == "BEGAN":
            loss_d = cr.mean() - cf.mean() * k_began
        else:
            loss_d = discriminator_loss(base, cr, cf, lsgan)
        total = torch.zeros(())
        for kind in penalties:
            term = penalty(kind, weights[kind], D, x, fake, u=u[k] if u is not None else None,
                           alpha=dragan_alpha[k] if dragan_alpha is not None else None,
                           noise=dragan_noise[k] if dragan_noise is not None else None, dragan_clip=dragan_clip)
            total = total + term.detach()
            loss_d = loss_d + term
        params = list(D.parameters())
        g = torch.autograd.grad(loss_d, params)
        for p, gp in zip(params, g):
            p.grad = gp
        if grads is not None:
            names = [n for n, _ in D.named_parameters()]
            grads.update({"D." + n: gp.detach().clone() for n, gp in zip(names, g)})
        opt_d.step()
        if clip > 0:
            with torch.no_grad():
                for p in params:
                    p.clamp_(-clip, clip)
        stats = {"d_loss": loss_d.item(), "d_real": cr.mean().item(), "d_fake": cf.mean().item(),
                 "penalty": total.item()}
    x = packed(reals[-1])
    fake = kept if reuse_fake else packed(G(z_g))
    cr = None
    if not energy_based and _relativistic(base) is not None:
        with torch.no_grad():
            cr = D(x)
    if base == "EBGAN":
        code = D.encoder(fake)
        loss_g = energy(base, fake, D.decoder(code)).mean() + pull_away_term(code.flatten(1)) * eo["pt_weight"]
    elif base == "BEGAN":
        loss_g = critic(fake).mean()
    else:
        loss_g = generator_loss(base, cr, D(fake), lsgan, minimax)
    params = list(G.parameters())
    g = torch.autograd.grad(loss_g, params)
    for p, gp in zip(params, g):
        p.grad = gp
    if grads is not None:
        names = [n for n, _ in G.named_parameters()]
        grads.update({"G." + n: gp.detach().clone() for n, gp in zip(names, g)})
    opt_g.step()
    stats["g_loss"] = loss_g.item()
    stats["k"], stats["m_global"] = 0.0, 0.0
    if base == "BEGAN":
        # float32 arithmetic, as SwiftGAN's trainer
        real_mean = torch.tensor(stats["d_real"], dtype=torch.float32)
        balance = torch.tensor(eo["gamma"], dtype=torch.float32) * real_mean - torch.tensor(stats["g_loss"], dtype=torch.float32)
        k = torch.clamp(torch.tensor(k_began, dtype=torch.float32) + torch.tensor(eo["lambda_k"], dtype=torch.float32) * balance, 0, 1)
        state["k"] = k.item()
        stats["k"], stats["m_global"] = k.item(), (real_mean + balance.abs()).item()
    return stats


def state_dict(G: nn.Module, D: nn.Module) -> Dict[str, torch.Tensor]:
    """G.* and D.* parameters and BN running statistics (num_batches_tracked left out), state_dict order."""
    out = {}
    for prefix, net in (("G.", G), ("D.", D)):
        for name, value in net.state_dict().items():
            if not name.endswith("num_batches_tracked"):
                out[prefix + name] = value.detach().clone()
    return out


def load_state_dict(G: nn.Module, D: nn.Module, state: Dict[str, "object"]) -> None:
    for prefix, net in (("G.", G), ("D.", D)):
        sub = {k[len(prefix):]: torch.as_tensor(v) for k, v in state.items() if k.startswith(prefix)}
        net.load_state_dict(sub, strict=False)
