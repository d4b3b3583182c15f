"""SwiftGAN against PyTorch: committed fixtures always, and a live run when torch is importable.

The fixtures come from reference/make_fixtures.py (see its docstring); each holds the
initial weights and random inputs of 3 iterations and, per loss, PyTorch's losses of
every iteration, the first iteration's gradients and the final weights with SGD and Adam.
"""
import json
import os
import sys

import numpy as np
import pytest

from parity import (assert_adam_weights_close, assert_gradients_close, assert_sgd_weights_close,
                    assert_stats_close, make_gan)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
with open(os.path.join(FIXTURES, "manifest.json")) as f:
    MANIFEST = json.load(f)
REFERENCE = os.path.join(os.path.dirname(__file__), "..", "..", "reference")


def run_swiftgan(cfg, loss, optimizer, opts, init, real, z_d, z_g, u):
    """Runs the iterations in SwiftGAN from `init`; returns stats per iteration, first grads, final state."""
    gan = make_gan(cfg, loss, optimizer, opts)
    gan.load_state_dict(init)
    gan.retain_gradients = True
    stats, grads = [], None
    for it in range(len(real)):
        stats.append(gan.train_step(real[it], z=z_d[it], z_g=z_g[it], u=u[it] if loss.endswith("-GP") else None))
        if it == 0:
            grads = gan.gradients()
    return stats, grads, gan.state_dict()


def check_against(cfg, loss, init, inputs, expected):
    """Runs SwiftGAN with each optimizer of the manifest and compares with `expected[optimizer]`
    = (stats per iteration, first-iteration gradients of the SGD run or None, final state)."""
    for optimizer, opts in MANIFEST["optimizers"].items():
        where = f"{cfg['image_size']}x{cfg['channels']} {loss} {optimizer}"
        want_stats, want_grads, want_final = expected[optimizer]
        stats, grads, final = run_swiftgan(cfg, loss, optimizer, opts, init, inputs["real"], inputs["z_d"],
                                           inputs["z_g"], inputs["u"])
        for it, s in enumerate(stats):
            mean_rtol = 1e-3 if optimizer == "adam" and it > 0 else 1e-4
            assert_stats_close(s, want_stats[it], f"{where} iteration {it}", mean_rtol)
        if want_grads is not None:  # G's first gradients follow the optimizer's D update: SGD's are stored
            assert_gradients_close(grads, want_grads, where)
        want_final = {k: want_final[k] for k in final}  # SwiftGAN's state_dict order
        if optimizer == "sgd":
            assert_sgd_weights_close(final, want_final, where)
        else:
            assert_adam_weights_close(final, want_final, opts["lr"], MANIFEST["iterations"], where)


@pytest.mark.parametrize("loss", MANIFEST["losses"])
@pytest.mark.parametrize("config", sorted(MANIFEST["configs"]))
def test_training_matches_pytorch_fixture(config, loss):
    cfg = MANIFEST["configs"][config]
    inputs = np.load(os.path.join(FIXTURES, f"{config}_inputs.npz"))
    fixture = np.load(os.path.join(FIXTURES, f"{config}_{loss}.npz"))
    init = {k[len("init/"):]: inputs[k] for k in inputs.files if k.startswith("init/")}

    def section(prefix):
        return {k[len(prefix):]: fixture[k] for k in fixture.files if k.startswith(prefix)}

    expected = {opt: (fixture[f"{opt}/stats"], section("grad/") if opt == "sgd" else None, section(f"{opt}/final/"))
                for opt in MANIFEST["optimizers"]}
    check_against(cfg, loss, init, inputs, expected)


@pytest.mark.parametrize("loss", ["RaSGAN", "RaLSGAN", "RaHingeGAN-GP"])
def test_training_matches_live_pytorch_on_fresh_weights(loss):
    pytest.importorskip("torch")
    sys.path.insert(0, REFERENCE)
    import make_fixtures

    cfg = dict(image_size=32, channels=3, z_dim=12, ngf=8, ndf=8, batch=6)
    init, inputs = make_fixtures.draw_inputs(cfg, seed=int.from_bytes(os.urandom(4), "little"))
    expected = {}
    for opt in MANIFEST["optimizers"]:
        stats, grads, final = make_fixtures.run(cfg, loss, opt, init, inputs)
        expected[opt] = (stats, {k: v.numpy() for k, v in grads.items()} if opt == "sgd" else None,
                         {k: v.numpy() for k, v in final.items()})
    check_against(cfg, loss, {k: v.numpy() for k, v in init.items()}, {k: v.numpy() for k, v in inputs.items()},
                  expected)
