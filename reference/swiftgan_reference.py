"""PyTorch twins of SwiftGAN's models, losses and training iteration.

This is the reference SwiftGAN is checked against: the layer sequences, parameter
names and layouts, the loss formulas of the relativistic GAN paper's official code
(the averaged forms with the 1/2 factor), the gradient penalty by double backprop, and
the order of operations of one iteration (which fixes how BN running statistics evolve).
PyTorch is needed to run this file; SwiftGAN itself never imports it.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---- models ------------------------------------------------------------------

class DCGANGenerator(nn.Module):
    """ConvT(z, ngf·S/8, 4,1,0) BN ReLU, ConvT 4/2/1 halving to ngf with BN ReLU, ConvT(ngf, c, 4,2,1) Tanh."""

    def __init__(self, image_size: int, channels: int, z_dim: int, ngf: int):
        super().__init__()
        mult = image_size // 8
        layers: List[nn.Module] = [nn.ConvTranspose2d(z_dim, ngf * mult, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(ngf * mult), nn.ReLU(True)]
        while mult > 1:
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(ngf * mult // 2), nn.ReLU(True)]
            mult //= 2
        layers += [nn.ConvTranspose2d(ngf, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.z_dim = z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.view(z.shape[0], self.z_dim, 1, 1))


class DCGANDiscriminator(nn.Module):
    """Conv(c, ndf, 4,2,1) LReLU(0.2), Conv 4/2/1 doubling with BN LReLU(0.2) down to 4×4, Conv(·, 1, 4,1,0)."""

    def __init__(self, image_size: int, channels: int, ndf: int):
        super().__init__()
        layers: List[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        size, mult = image_size // 2, 1
        while size > 4:
            layers += [nn.Conv2d(ndf * mult, ndf * mult * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * mult * 2),
                       nn.LeakyReLU(0.2, inplace=True)]
            size //= 2
            mult *= 2
        layers += [nn.Conv2d(ndf * mult, 1, 4, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1)


def dcgan_init(module: nn.Module) -> None:
    """Conv weights N(0, 0.02), BN weight N(1, 0.02), BN bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


# ---- losses (GAN_losses_iter.py of AlexiaJM/RelativisticGAN) ------------------

def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def discriminator_loss(name: str, cr: torch.Tensor, cf: torch.Tensor) -> torch.Tensor:
    if name == "SGAN":
        return _bce(cr, 1.0) + _bce(cf, 0.0)
    if name == "RSGAN":
        return _bce(cr - cf, 1.0)
    if name == "RaSGAN":
        return (_bce(cr - cf.mean(), 1.0) + _bce(cf - cr.mean(), 0.0)) / 2
    if name == "RaLSGAN":
        return (((cr - cf.mean() - 1) ** 2).mean() + ((cf - cr.mean() + 1) ** 2).mean()) / 2
    if name == "RaHingeGAN":
        return (F.relu(1.0 - (cr - cf.mean())).mean() + F.relu(1.0 + (cf - cr.mean())).mean()) / 2
    raise ValueError(name)


def generator_loss(name: str, cr: Optional[torch.Tensor], cf: torch.Tensor) -> torch.Tensor:
    if name == "SGAN":
        return _bce(cf, 1.0)
    if name == "RSGAN":
        return _bce(cf - cr, 1.0)
    if name == "RaSGAN":
        return (_bce(cr - cf.mean(), 0.0) + _bce(cf - cr.mean(), 1.0)) / 2
    if name == "RaLSGAN":
        return (((cr - cf.mean() + 1) ** 2).mean() + ((cf - cr.mean() - 1) ** 2).mean()) / 2
    if name == "RaHingeGAN":
        return (F.relu(1.0 + (cr - cf.mean())).mean() + F.relu(1.0 - (cf - cr.mean())).mean()) / 2
    raise ValueError(name)


def gradient_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, u: torch.Tensor,
                     weight: float) -> torch.Tensor:
    """λ·E(‖∇C(x̂)‖₂ − 1)², x̂ = u·x_r + (1 − u)·x_f, by double backprop (create_graph=True)."""
    u4 = u.view(-1, 1, 1, 1)
    x_hat = (real * u4 + fake * (1 - u4)).detach().requires_grad_(True)
    score = D(x_hat)
    grad, = torch.autograd.grad(score, x_hat, grad_outputs=torch.ones_like(score), create_graph=True)
    return weight * ((grad.view(grad.shape[0], -1).norm(2, dim=1) - 1) ** 2).mean()


# ---- one iteration, in SwiftGAN's order -----------------------------------------

def train_iteration(G: nn.Module, D: nn.Module, opt_d: torch.optim.Optimizer, opt_g: torch.optim.Optimizer,
                    loss: str, reals: Sequence[torch.Tensor], z_d: Sequence[torch.Tensor], z_g: torch.Tensor,
                    u: Optional[Sequence[torch.Tensor]] = None, gp_weight: float = 10.0,
                    grads: Optional[Dict[str, torch.Tensor]] = None) -> Dict[str, float]:
    """n_critic D steps then one G step, exactly as SwiftGAN's trainer (fresh noise for the G step).

    D step k: fake = G(z_d[k]) without gradient; C_r = D(x), C_f = D(fake); loss (+ penalty on D(x̂)).
    G step: fake = G(z_g); C_r = D(x_last) without gradient (relativistic losses only); C_f = D(fake).
    `grads`, when given, receives the last D step's and the G step's gradients by parameter name.
    """
    base = loss[:-3] if loss.endswith("-GP") else loss
    stats: Dict[str, float] = {}
    for k in range(len(z_d)):
        x = reals[k if len(reals) > 1 else 0]
        with torch.no_grad():
            fake = G(z_d[k])
        cr, cf = D(x), D(fake)
        loss_d = discriminator_loss(base, cr, cf)
        penalty = torch.zeros(())
        if loss.endswith("-GP"):
            penalty = gradient_penalty(D, x, fake, u[k], gp_weight)
            loss_d = loss_d + penalty
        params = list(D.parameters())
        g = torch.autograd.grad(loss_d, params)
        for p, gp in zip(params, g):
            p.grad = gp
        if grads is not None:
            names = [n for n, _ in D.named_parameters()]
            grads.update({"D." + n: gp.detach().clone() for n, gp in zip(names, g)})
        opt_d.step()
        stats = {"d_loss": loss_d.item(), "d_real": cr.mean().item(), "d_fake": cf.mean().item(),
                 "penalty": penalty.item()}
    x = reals[-1]
    fake = G(z_g)
    cr = None
    if base != "SGAN":
        with torch.no_grad():
            cr = D(x)
    loss_g = generator_loss(base, cr, D(fake))
    params = list(G.parameters())
    g = torch.autograd.grad(loss_g, params)
    for p, gp in zip(params, g):
        p.grad = gp
    if grads is not None:
        names = [n for n, _ in G.named_parameters()]
        grads.update({"G." + n: gp.detach().clone() for n, gp in zip(names, g)})
    opt_g.step()
    stats["g_loss"] = loss_g.item()
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
