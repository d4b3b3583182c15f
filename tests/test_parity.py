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
REFERENCE = os.path.join(os.path.dirname(__file__), "..", "reference")


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


@pytest.mark.parametrize("loss", MANIFEST["losses"])
@pytest.mark.parametrize("config", sorted(MANIFEST["configs"]))
def test_training_matches_pytorch_fixture(config, loss):
    cfg = MANIFEST["configs"][config]
    inputs = np.load(os.path.join(FIXTURES, f"{config}_inputs.npz"))
    expected = np.load(os.path.join(FIXTURES, f"{config}_{loss}.npz"))
    init = {k[len("init/"):]: inputs[k] for k in inputs.files if k.startswith("init/")}
    for optimizer, opts in MANIFEST["optimizers"].items():
        where = f"{config} {loss} {optimizer}"
        stats, grads, final = run_swiftgan(cfg, loss, optimizer, opts, init, inputs["real"], inputs["z_d"],
                                           inputs["z_g"], inputs["u"])
        for it, s in enumerate(stats):
            mean_rtol = 1e-3 if optimizer == "adam" and it > 0 else 1e-4
            assert_stats_close(s, expected[f"{optimizer}/stats"][it], f"{where} iteration {it}", mean_rtol)
        if optimizer == "sgd":  # the fixture's gradients are the SGD run's (G's follow the optimizer's D update)
            assert_gradients_close(grads, {k[len("grad/"):]: expected[k] for k in expected.files
                                           if k.startswith("grad/")}, where)
        want = {k[len(f"{optimizer}/final/"):]: expected[k] for k in expected.files
                if k.startswith(f"{optimizer}/final/")}
        want = {k: want[k] for k in final}  # SwiftGAN's state_dict order
        if optimizer == "sgd":
            assert_sgd_weights_close(final, want, where)
        else:
            assert_adam_weights_close(final, want, opts["lr"], MANIFEST["iterations"], where)


@pytest.mark.parametrize("loss", ["RaSGAN", "RaLSGAN", "RaSGAN-GP"])
def test_training_matches_live_pytorch_on_fresh_weights(loss):
    torch = pytest.importorskip("torch")
    sys.path.insert(0, REFERENCE)
    import swiftgan_reference as ref

    cfg = dict(image_size=32, channels=3, z_dim=12, ngf=8, ndf=8, batch=6)
    torch.manual_seed(int.from_bytes(os.urandom(4), "little"))
    G = ref.DCGANGenerator(cfg["image_size"], cfg["channels"], cfg["z_dim"], cfg["ngf"])
    D = ref.DCGANDiscriminator(cfg["image_size"], cfg["channels"], cfg["ndf"])
    ref.dcgan_init(G)
    ref.dcgan_init(D)
    init = {k: v.numpy() for k, v in ref.state_dict(G, D).items()}
    b, s = cfg["batch"], cfg["image_size"]
    real = torch.rand(3, b, 3, s, s) * 2 - 1
    z_d, z_g, u = torch.randn(3, b, cfg["z_dim"]), torch.randn(3, b, cfg["z_dim"]), torch.rand(3, b)
    opts = dict(lr=0.05)
    opt_d, opt_g = torch.optim.SGD(D.parameters(), **opts), torch.optim.SGD(G.parameters(), **opts)
    expected_stats, grads = [], {}
    for it in range(3):
        st = ref.train_iteration(G, D, opt_d, opt_g, loss, [real[it]], [z_d[it]], z_g[it], [u[it]],
                                 grads=grads if it == 0 else None)
        expected_stats.append([st[k] for k in ("d_loss", "g_loss", "d_real", "d_fake", "penalty")])
    stats, got_grads, final = run_swiftgan(cfg, loss, "sgd", opts, init, real.numpy(), z_d.numpy(), z_g.numpy(),
                                           u.numpy())
    for it in range(3):
        assert_stats_close(stats[it], expected_stats[it], f"live {loss} iteration {it}")
    assert_gradients_close(got_grads, {k: v.numpy() for k, v in grads.items()}, f"live {loss}")
    want = {k: v.numpy() for k, v in ref.state_dict(G, D).items()}
    assert_sgd_weights_close(final, {k: want[k] for k in final}, f"live {loss}")
