"""The Python API: results, state, checkpoints and every kind of bad input."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import swiftgan
from swiftgan import GAN

SMALL = dict(image_size=32, channels=1, z_dim=8, ngf=4, ndf=4, seed=3)


def real_batch(n=4, seed=0, shape=(1, 32, 32)):
    return np.random.default_rng(seed).uniform(-1, 1, (n,) + shape).astype(np.float32)


@pytest.fixture
def gan():
    with GAN(loss="RaSGAN-GP", **SMALL) as g:
        yield g


def test_train_step_reports_every_statistic(gan):
    stats = gan.train_step(real_batch())
    assert set(stats) == {"d_loss", "g_loss", "d_real", "d_fake", "penalty", "k", "m_global", "d_loss_real", "d_loss_fake",
                          "skipped_steps"}
    assert all(isinstance(v, float) and np.isfinite(v) for v in stats.values())
    assert stats["penalty"] > 0
    assert gan.iteration == 1


def test_same_seed_and_inputs_give_bit_identical_training():
    runs = []
    for _ in range(2):
        with GAN(loss="RaLSGAN", **SMALL) as g:
            stats = [g.train_step(real_batch(seed=i)) for i in range(3)]
            runs.append((stats, g.state_dict(), g.sample(3)))
    assert runs[0][0] == runs[1][0]
    for k in runs[0][1]:
        np.testing.assert_array_equal(runs[0][1][k], runs[1][1][k])
    np.testing.assert_array_equal(runs[0][2], runs[1][2])


def test_explicit_noise_replays_a_step_exactly():
    z, z_g, u = (np.random.default_rng(1).standard_normal((4, 8)).astype(np.float32) for _ in range(3))
    u = np.random.default_rng(2).uniform(size=4).astype(np.float32)
    results = []
    for seed in (1, 2):  # the engine's own stream must not matter when every input is given
        with GAN(loss="RaSGAN-GP", **{**SMALL, "seed": 5}) as g:
            g2 = GAN(loss="RaSGAN-GP", **{**SMALL, "seed": seed})
            g2.load_state_dict(g.state_dict())
            results.append(g2.train_step(real_batch(), z=z, z_g=z_g, u=u))
            g2.close()
    assert results[0] == results[1]


def test_generate_and_sample_shapes_and_range(gan):
    z = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    images = gan.generate(z)
    assert images.shape == (5, 1, 32, 32) and images.dtype == np.float32
    assert np.all(np.abs(images) <= 1)
    np.testing.assert_array_equal(images, gan.generate(z))  # eval mode: no batch statistics, no state change
    assert gan.sample(7).shape == (7, 1, 32, 32)


def test_state_dict_follows_pytorch_names_layouts_and_order(gan):
    state = gan.state_dict()
    names = list(state)
    assert names[:5] == ["G.main.0.weight", "G.main.1.weight", "G.main.1.bias", "G.main.1.running_mean",
                         "G.main.1.running_var"]
    assert state["G.main.0.weight"].shape == (8, 16, 4, 4)  # ConvTranspose2d: [in, out, k, k]
    assert state["D.main.0.weight"].shape == (4, 1, 4, 4)  # Conv2d: [out, in, k, k]
    assert names[-1] == "D.main.8.weight"
    assert not any("exp_avg" in n for n in names)


def test_load_state_dict_round_trips_and_ignores_num_batches_tracked(gan):
    other = GAN(loss="RaSGAN-GP", **{**SMALL, "seed": 99})
    state = gan.state_dict()
    state["G.main.1.num_batches_tracked"] = np.array(3)
    other.load_state_dict(state)
    for k, v in gan.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[k], v)
    other.close()


def test_load_state_dict_rejects_missing_unknown_and_misshaped_keys(gan):
    state = gan.state_dict()
    with pytest.raises(KeyError, match=r"missing \['D.main.0.weight'\], unknown \['D.main.0.weights'\]"):
        state2 = dict(state)
        state2["D.main.0.weights"] = state2.pop("D.main.0.weight")
        gan.load_state_dict(state2)
    before = gan.state_dict()
    bad = dict(state)
    bad["G.main.0.weight"] = bad["G.main.0.weight"] * 0 + 7
    bad["D.main.0.weight"] = np.zeros((4, 1, 3, 3), np.float32)
    with pytest.raises(ValueError, match=r"D.main.0.weight: expected shape \[4, 1, 4, 4\], got \[4, 1, 3, 3\]"):
        gan.load_state_dict(bad)
    np.testing.assert_array_equal(gan.state_dict()["G.main.0.weight"], before["G.main.0.weight"])  # nothing written


RESUMABLE = {
    "RaSGAN-GP": dict(loss="RaSGAN-GP", ema_decay=0.9),
    "BEGAN": dict(loss="BEGAN", arch="autoencoder", began_lambda_k=0.1, lr_schedule="began", lr_step=1),
}


@pytest.mark.parametrize("setup", sorted(RESUMABLE))
def test_save_then_load_resumes_bit_identically(tmp_path, setup):
    options = {**SMALL, **RESUMABLE[setup]}
    batches = [real_batch(seed=i) for i in range(6)]
    with GAN(**options) as straight:
        for b in batches:
            straight.train_step(b)
        expected = straight.state_dict()
        expected_stats = straight.train_step(batches[0])
        expected_sample = straight.sample(4)
    with GAN(**options) as first:
        for b in batches[:3]:
            first.train_step(b)
        first.save(str(tmp_path / "ckpt"))
        first.save(str(tmp_path / "ckpt"))  # overwriting an existing checkpoint works
    assert sorted(os.listdir(tmp_path / "ckpt")) == [
        "checksums.sha256", "optimizer.safetensors", "trainer.json", "weights.safetensors"]
    assert subprocess.run(["sha256sum", "--check", "--quiet", "checksums.sha256"], cwd=tmp_path / "ckpt").returncode == 0
    assert sorted(os.listdir(tmp_path)) == ["ckpt", "ckpt.previous"]  # the one replaced kept; no temporary folders
    with GAN.load(str(tmp_path / "ckpt")) as resumed:
        assert resumed.iteration == 3 and resumed.loss == options["loss"]
        for b in batches[3:]:
            resumed.train_step(b)
        for k, v in expected.items():
            np.testing.assert_array_equal(resumed.state_dict()[k], v, err_msg=k)
        assert resumed.train_step(batches[0]) == expected_stats  # k, M_global, schedule and optimizer state too
        np.testing.assert_array_equal(resumed.sample(4), expected_sample)  # the moving average too


def test_checkpoint_weights_load_with_the_safetensors_package(gan, tmp_path):
    from safetensors.numpy import load_file

    gan.save(str(tmp_path / "c"))
    weights = load_file(str(tmp_path / "c" / "weights.safetensors"))
    assert set(weights) == set(gan.state_dict())
    np.testing.assert_array_equal(weights["G.main.0.weight"], gan.state_dict()["G.main.0.weight"])


def test_load_refuses_files_from_different_saves(gan, tmp_path):
    import shutil

    gan.save(str(tmp_path / "a"))
    gan.train_step(real_batch())
    gan.save(str(tmp_path / "b"))
    shutil.copy(tmp_path / "a" / "weights.safetensors", tmp_path / "b" / "weights.safetensors")
    with pytest.raises(swiftgan.CheckpointDamagedError, match=r"b is damaged: weights.safetensors \(\d+ bytes\) does "
                       r"not match the SHA-256 recorded when it was saved"):
        GAN.load(str(tmp_path / "b"))
    listing = subprocess.run(["sha256sum", "weights.safetensors", "optimizer.safetensors", "trainer.json"],
                             cwd=tmp_path / "b", capture_output=True, text=True, check=True).stdout
    (tmp_path / "b" / "checksums.sha256").write_text(listing)  # checksums of a folder assembled by hand
    with pytest.raises(ValueError, match=r"weights.safetensors is from iteration 0 but trainer.json from iteration 1"):
        GAN.load(str(tmp_path / "b"))


def test_load_of_a_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no SwiftGAN checkpoint at .*missing trainer.json"):
        GAN.load(str(tmp_path / "nothing"))


def test_gradients_need_retain_gradients_first(gan):
    with pytest.raises(ValueError, match="no gradient retained for D.main.0.weight: enable retain_gradients"):
        gan.gradients()
    gan.retain_gradients = True
    gan.train_step(real_batch())
    grads = gan.gradients()
    assert list(grads)[0] == "D.main.0.weight" and grads["G.main.0.weight"].shape == (8, 16, 4, 4)


# ---- bad inputs ----------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, message", [
    (dict(loss="RaWGAN"), ValueError, "unknown loss 'RaWGAN'; known losses: SGAN, SGAN-GP, SGAN-LP, SGAN-R1, SGAN-DRAGAN, "),
    (dict(arch="resnet9"), ValueError, "unknown arch 'resnet9'; known architectures: dcgan"),
    (dict(image_size=48), ValueError, r"image_size must be one of \[32, 64, 128, 256\] for arch 'dcgan', got 48"),
    (dict(optimizer="lbfgs"), ValueError, "unknown optimizer 'lbfgs'; known optimizers: adam, rmsprop, sgd"),
    (dict(lr_d=-1.0), ValueError, "lr_d must be a positive number, got '-1.0'"),
    (dict(betas=(0.5, 1.5)), ValueError, r"beta2_d must be a number in \[0, 1\), got '1.5'"),
    (dict(n_critic=0), ValueError, r"n_critic must be an integer in \[1, 1000\], got '0'"),
    (dict(z_dim=2.5), TypeError, "z_dim must be an int, got float"),
    (dict(loss=3), TypeError, "loss must be a str, got int"),
    (dict(loss="RaSGAN\nseed=3"), ValueError, "loss contains a forbidden character"),
])
def test_bad_constructor_arguments_raise_with_the_arguments_name(kwargs, error, message):
    with pytest.raises(error, match=message):
        GAN(**{**SMALL, **kwargs})


def test_bad_train_step_inputs_raise_with_the_arguments_name(gan):
    with pytest.raises(TypeError, match="real must have dtype float32, got float64"):
        gan.train_step(real_batch().astype(np.float64))
    with pytest.raises(TypeError, match="real must be a numpy.ndarray of float32, got list"):
        gan.train_step([[0.0]])
    with pytest.raises(ValueError, match=r"real must have shape \[N, 1, 32, 32\], got \[4, 3, 32, 32\]"):
        gan.train_step(real_batch(shape=(3, 32, 32)))
    with pytest.raises(ValueError, match="real must hold at least 2 samples per batch"):
        gan.train_step(real_batch(n=1))
    with pytest.raises(ValueError, match=r"z must have shape \[4, 8\], got \[4, 9\]"):
        gan.train_step(real_batch(), z=np.zeros((4, 9), np.float32))
    with pytest.raises(ValueError, match=r"u must have shape \[4\], got \[5\]"):
        gan.train_step(real_batch(), u=np.zeros(5, np.float32))
    assert gan.iteration == 0  # nothing ran


def test_penalty_inputs_the_loss_does_not_use_are_rejected_by_the_engine():
    with GAN(loss="RaSGAN", **SMALL) as g:
        with pytest.raises(ValueError, match=r"u is not an input of loss RaSGAN \(it is drawn by the penalties -GP, -LP, -GP0\); "
                                             "a step of this GAN takes real, z, z_g$"):
            g.train_step(real_batch(), u=np.zeros(4, np.float32))
        with pytest.raises(ValueError, match=r"dragan_alpha is not an input of loss RaSGAN \(it is drawn by the penalties -DRAGAN\)"):
            g.train_step(real_batch(), dragan_alpha=np.zeros(4, np.float32))
        assert g.iteration == 0
        g.train_step(real_batch())  # the rejected inputs were not kept for the next step
        assert g.iteration == 1


def test_catalogue_lists_every_loss_penalty_and_architecture_with_a_description():
    losses = swiftgan.losses()
    assert list(losses)[:4] == ["SGAN", "LSGAN", "HingeGAN", "WGAN"]
    assert {"RaSGAN", "RcLSGAN", "RpHingeGAN-avg", "DRAGAN", "RaDRAGAN"} <= set(losses)
    assert losses["RaLSGAN"].startswith("D: ½[E f₁(C_r−E C_f) + E f₂(C_f−E C_r)]")
    assert list(swiftgan.penalties()) == ["-GP", "-LP", "-R1", "-DRAGAN", "-R2", "-GP0"]
    assert list(swiftgan.architectures()) == ["dcgan", "cnn", "resnet", "patchgan", "autoencoder", "ebgan", "began", "mlp"]


def test_loss_presets_apply_unless_overridden():
    wgan = GAN(loss="WGAN", **SMALL).config
    assert (wgan["optimizer"], wgan["lr_d"], wgan["n_critic"], wgan["clip"]) == ("rmsprop", 5e-5, 5, 0.01)
    mine = GAN(loss="WGAN", n_critic=2, optimizer="adam", **SMALL).config
    assert (mine["optimizer"], mine["n_critic"], mine["clip"]) == ("adam", 2, 0.01)
    assert GAN(loss="RaSGAN", **SMALL).config["n_critic"] == 1


def test_non_contiguous_inputs_are_accepted(gan):
    view = real_batch(n=8)[::2]
    assert not view.flags.c_contiguous
    gan.train_step(view)


def test_bad_generate_and_sample_arguments(gan):
    with pytest.raises(ValueError, match=r"z must have shape \[N, 8\], got \[3, 4\]"):
        gan.generate(np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="n must be at least 1, got 0"):
        gan.sample(0)
    with pytest.raises(TypeError, match="n must be an int, got str"):
        gan.sample("4")


def test_a_closed_gan_raises_instead_of_crashing():
    g = GAN(**SMALL)
    assert "GAN(loss='RaSGAN', arch='dcgan', image_size=32, channels=1, z_dim=8, iteration=0)" == repr(g)
    g.close()
    assert g.closed and repr(g) == "GAN(closed)"
    with pytest.raises(ValueError, match="the GAN is closed"):
        g.train_step(real_batch())
    with pytest.raises(ValueError, match="the GAN is closed"):
        g.sample(1)
    g.close()  # closing twice is harmless


def test_engine_errors_are_runtime_errors():
    assert issubclass(swiftgan.SwiftGANError, RuntimeError)


def test_threads_is_a_setting_of_the_gan_with_bit_identical_results_per_count():
    z = np.random.default_rng(5).standard_normal((2, 4, 8)).astype(np.float32)
    runs = {}
    for threads in (1, 2, 1):
        with GAN(loss="RaSGAN", threads=threads, **SMALL) as g:
            assert g.threads == threads
            for i in range(2):
                g.train_step(real_batch(seed=i), z=z[i])
            runs.setdefault(threads, []).append(g.state_dict())
    for a, b in zip(*[runs[1][0].values(), runs[1][1].values()]):
        np.testing.assert_array_equal(a, b)  # same count, same bits
    for a, b in zip(runs[1][0].values(), runs[2][0].values()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)  # another count: the same within rounding
    with GAN(**SMALL) as g:
        default = g.threads
        assert default >= 1
        g.threads = 1
        assert g.threads == 1
        g.threads = None
        assert g.threads == default
        with pytest.raises(TypeError, match="threads must be an int, got str"):
            g.threads = "2"
        with pytest.raises(TypeError, match="threads must be an int, got bool"):
            g.threads = True
        with pytest.raises(ValueError, match=r"threads must be in \[1, 1024\] \(0 or None: the default\), got -1"):
            g.threads = -1
        with pytest.raises(ValueError, match=r"threads must be in \[1, 1024\].*got 2000"):
            GAN(threads=2000, **SMALL)


def test_threads_default_to_omp_num_threads():
    code = "import swiftgan; g = swiftgan.GAN(image_size=32, channels=1, ngf=4, ndf=4); print(g.threads)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"


def test_profile_times_each_kernel_kind_inside_the_core_calls(gan):
    swiftgan.profile(enable=True, reset=True)
    try:
        gan.train_step(real_batch())
        times = swiftgan.profile()
    finally:
        swiftgan.profile(enable=False, reset=True)
    assert list(times) == ["convolution", "convolution_backward_data", "convolution_backward_weights", "matrix_product",
                           "batch_norm", "elementwise", "optimizer", "other_core", "core"]
    for kind in ("convolution", "convolution_backward_data", "convolution_backward_weights", "batch_norm", "optimizer"):
        assert times[kind] > 0, kind
    kernels = sum(v for k, v in times.items() if k not in ("other_core", "core"))
    assert kernels <= times["core"] and times["other_core"] == pytest.approx(times["core"] - kernels, abs=1e-9)
    gan.train_step(real_batch())  # profiling off: nothing more is added
    assert swiftgan.profile()["core"] == 0


def test_handles_train_in_parallel_threads():
    results = {}

    def work(seed):
        with GAN(loss="RaSGAN", **{**SMALL, "seed": seed}) as g:
            results[seed] = [g.train_step(real_batch(seed=i))["d_loss"] for i in range(3)]

    threads = [threading.Thread(target=work, args=(s,)) for s in (1, 2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    with GAN(loss="RaSGAN", **{**SMALL, "seed": 1}) as g:
        alone = [g.train_step(real_batch(seed=i))["d_loss"] for i in range(3)]
    assert results[1] == alone and len(results[2]) == 3


def test_import_loads_no_swift_runtime_from_outside_the_package():
    code = ("import swiftgan, os\n"
            "pkg = os.path.dirname(swiftgan.__file__)\n"
            "maps = open('/proc/self/maps').read().split('\\n')\n"
            "libs = {l.split()[-1] for l in maps if '.so' in l}\n"
            "print('\\n'.join(sorted(p for p in libs if 'swift' in os.path.basename(p).lower())))\n"
            "print('PKG', pkg)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    pkg = [l for l in out if l.startswith("PKG ")][0][4:]
    swift_libs = [l for l in out if l and not l.startswith("PKG ")]
    assert swift_libs == [os.path.join(pkg, "libswiftgan.so")]


KILLED_SAVER = """
import sys
import numpy as np
import swiftgan
gan = swiftgan.GAN(loss="RaSGAN", image_size=32, channels=1, z_dim=100, ngf=64, ndf=64, seed=1)  # ~12 MB saved
real = np.random.default_rng(0).uniform(-1, 1, (4, 1, 32, 32)).astype(np.float32)
gan.save(sys.argv[1])
print("saved", flush=True)
while True:  # saving takes most of the time, so the parent's kill most likely lands inside a save
    gan.train_step(real)
    for _ in range(4):
        gan.save(sys.argv[1])
"""


def test_a_save_killed_at_any_moment_leaves_a_loadable_checkpoint(tmp_path):
    import random
    import signal
    import time

    path = tmp_path / "ckpt"
    delays = random.Random(7)
    for attempt in range(6):
        saver = subprocess.Popen([sys.executable, "-c", KILLED_SAVER, str(path)], stdout=subprocess.PIPE, text=True)
        assert saver.stdout.readline().strip() == "saved"
        time.sleep(delays.uniform(0.05, 0.6))
        saver.send_signal(signal.SIGKILL)
        saver.wait()
        saver.stdout.close()
        with GAN.load(str(path)) as gan:  # complete and from one save (load checks the files agree)
            assert gan.iteration >= 0 and gan.sample(2).shape == (2, 1, 32, 32)


def test_an_option_added_to_the_core_table_reaches_validation_config_and_the_command_line(monkeypatch):
    """The one-table rule: GAN's validation and the `swiftgan train` flags come from the core's option table,
    so a row added to it (here to a copy, in Python) appears in both without another edit."""
    import argparse

    from swiftgan import cli
    from swiftgan import options as options_module

    fake = options_module.Option("fake_rate", "float", 0.5, "positive", "a rate that exists for this test only",
                                 "loss LSGAN")
    rows = options_module._option_rows() + (fake,)
    monkeypatch.setattr(options_module, "_option_rows", lambda: rows)
    with pytest.raises(TypeError, match="fake_rate must be a number, got str"):
        GAN(fake_rate="fast", **SMALL)
    with pytest.raises(ValueError, match="unknown option 'fake_rate'"):  # the real core has no such row
        GAN(fake_rate=0.25, **SMALL)
    parser = argparse.ArgumentParser()
    cli._add_train_options(parser)
    assert "--fake-rate FAKE_RATE" in parser.format_help()
    assert ("a rate that exists for this test only (positive; default 0.5, or the loss's preset; only with loss LSGAN)"
            in " ".join(parser.format_help().split()))
    assert parser.parse_args(["--fake-rate", "0.75"]).fake_rate == 0.75


def test_the_option_table_describes_every_option_of_the_resolved_configuration():
    table = swiftgan.option_table()
    with GAN(**SMALL) as gan:
        assert list(gan.config) == list(table)  # the same options, in the same order
        for name, value in gan.config.items():
            assert type(value) is type(table[name].default), name
    assert table["n_critic"].kind == "int" and table["n_critic"].values == "1..1000" and table["n_critic"].default == 1
    assert table["optimizer"].values == "adam|rmsprop|sgd" and table["lr_d"].default == pytest.approx(2e-4)
    assert "gp_weight (float, ≥ 0; default 10.0; only with penalty -GP)" in GAN.__doc__
    assert table["beta1_d"].scope == "optimizer adam" and table["lr_d"].scope == "all"
    assert table["minimax"].scope == "loss SGAN" and table["layer_norm_d"].scope == "arch resnet"


def test_latents_shaped_as_pytorchs_dcgan_examples_make_them_are_accepted(gan):
    """[B, z_dim, 1, 1], as `torch.randn(B, nz, 1, 1)` in PyTorch's DCGAN examples, works as [B, z_dim]."""
    z = np.random.default_rng(5).standard_normal((3, 8)).astype(np.float32)
    np.testing.assert_array_equal(gan.generate(z.reshape(3, 8, 1, 1)), gan.generate(z))
    with GAN(**SMALL) as a, GAN(**SMALL) as b:
        real = real_batch()
        zd = np.random.default_rng(6).standard_normal((4, 8)).astype(np.float32)
        assert a.train_step(real, z=zd, z_g=zd) == b.train_step(real, z=zd.reshape(4, 8, 1, 1), z_g=zd.reshape(4, 8, 1, 1))
    with pytest.raises(ValueError, match=r"z must have shape \[N, 8\], got \[3, 8, 2, 1\]"):
        gan.generate(np.zeros((3, 8, 2, 1), np.float32))


def test_trainer_scalars_are_read_and_restored_by_name_and_formats_1_and_2_still_load(gan, tmp_path):
    import json
    import shutil

    gan.train_step(real_batch())
    gan.train_step(real_batch(seed=1))
    scalars = gan.scalars
    assert list(scalars) == ["iteration", "optimizer_D.steps", "optimizer_G.steps", "rng.0", "rng.1", "rng.2", "rng.3",
                             "began.k", "began.lr_factor", "began.best_m_global", "began.since_best", "skipped_steps"]
    assert scalars["iteration"] == "2" and scalars["optimizer_G.steps"] == "2" and scalars["began.best_m_global"] == "inf"
    with pytest.raises(ValueError, match="unknown trainer scalar 'iter'; known: iteration"):
        gan.set_scalars({"iteration": 5, "iter": 1})
    assert gan.scalars == scalars  # a refused restore changes nothing

    gan.save(str(tmp_path / "v3"))
    state = json.loads((tmp_path / "v3" / "trainer.json").read_text())
    assert state["format"] == "swiftgan-checkpoint-3" and state["scalars"] == scalars
    # The same checkpoint as format 2 wrote it (no checksums.sha256), and as format 1 (ABI 6) did: fixed keys,
    # floats as numbers.
    shutil.copytree(tmp_path / "v3", tmp_path / "v2")
    os.remove(tmp_path / "v2" / "checksums.sha256")
    (tmp_path / "v2" / "trainer.json").write_text(json.dumps({**state, "format": "swiftgan-checkpoint-2"}))
    shutil.copytree(tmp_path / "v2", tmp_path / "v1")
    named = state.pop("scalars")
    state.update(format="swiftgan-checkpoint-1", iteration=int(named["iteration"]),
                 optimizer_steps={"D": int(named["optimizer_D.steps"]), "G": int(named["optimizer_G.steps"])},
                 rng_state=[named[f"rng.{i}"] for i in range(4)],
                 began={"k": float(named["began.k"]), "lr_factor": float(named["began.lr_factor"]),
                        "best_m_global": float(named["began.best_m_global"]), "since_best": int(named["began.since_best"])})
    (tmp_path / "v1" / "trainer.json").write_text(json.dumps(state))
    with GAN.load(str(tmp_path / "v3")) as new, GAN.load(str(tmp_path / "v2")) as v2, GAN.load(str(tmp_path / "v1")) as old:
        assert new.scalars == v2.scalars == old.scalars == scalars
        step = real_batch(seed=2)
        assert new.train_step(step) == v2.train_step(step) == old.train_step(step) == gan.train_step(step)
    state["format"] = "swiftgan-checkpoint-0"
    (tmp_path / "v1" / "trainer.json").write_text(json.dumps(state))
    with pytest.raises(ValueError, match="unsupported checkpoint format 'swiftgan-checkpoint-0', expected 'swiftgan-checkpoint-3'"):
        GAN.load(str(tmp_path / "v1"))


def test_the_critic_losss_terms_on_real_and_fake_data_sum_to_it_where_the_loss_has_them():
    real = real_batch()
    for loss, split in (("RaSGAN", True), ("WGAN-GP", True), ("LSGAN", True), ("RcHingeGAN", True), ("RSGAN", False),
                        ("RpSGAN-avg", False)):
        with GAN(loss, **SMALL) as g:
            stats = g.train_step(real)
        assert list(stats) == list(swiftgan.gan.STATISTICS)
        if split:
            assert stats["d_loss_real"] + stats["d_loss_fake"] + stats["penalty"] == pytest.approx(stats["d_loss"], rel=1e-5)
        else:  # the paired and all-pairs forms are one term on both
            assert np.isnan(stats["d_loss_real"]) and np.isnan(stats["d_loss_fake"])


def test_packing_draws_pack_samples_per_critic_input(tmp_path):
    """PacGAN from Python: a batch of m·B images trains a critic of m·C channels; a run folder draws m·batch_size
    images per batch."""
    with GAN(loss="RaSGAN-GP", image_size=32, channels=1, z_dim=8, ngf=4, ndf=4, pack=2, seed=1) as gan:
        assert gan.state_dict()["D.main.0.weight"].shape == (4, 2, 4, 4)
        assert gan.sample_shape == (1, 32, 32)
        real = np.random.default_rng(0).uniform(-1, 1, (8, 1, 32, 32)).astype(np.float32)
        stats = gan.train_step(real, u=np.full(4, 0.5, np.float32))
        assert np.isfinite(stats["d_loss"]) and stats["penalty"] > 0
        with pytest.raises(ValueError, match=r"u must have shape \[4\], got \[8\]"):
            gan.train_step(real, u=np.full(8, 0.5, np.float32))
        with pytest.raises(ValueError, match="real must hold a multiple of pack = 2 samples per batch, at least 4"):
            gan.train_step(real[:3])
    images = np.random.default_rng(1).uniform(-1, 1, (40, 1, 32, 32)).astype(np.float32)
    np.save(tmp_path / "images.npy", images)
    run = swiftgan.train(str(tmp_path / "run"), dataset=str(tmp_path / "images.npy"), loss="RaSGAN", pack=2,
                         batch_size=4, epochs=1, ngf=4, ndf=4, z_dim=8, tensorboard=False, morph=False, progress=False)
    assert run.iteration == 5  # 40 images, 2·4 per batch
    run = swiftgan.train(str(tmp_path / "run3"), dataset=str(tmp_path / "images.npy"), loss="RaSGAN", pack=2,
                         batch_size=4, iters=3, ngf=4, ndf=4, z_dim=8, tensorboard=False, morph=False, progress=False)
    with run.gan() as gan:
        assert gan.checkpoint_extra["sampler"]["position"] == 3 * 2 * 4  # the sampler drew 8 images per batch
