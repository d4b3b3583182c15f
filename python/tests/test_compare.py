"""`swiftgan compare`: SwiftGAN and its PyTorch twin side by side (live when a Python with torch is at hand), and
its refusals when none is."""
import csv
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from swiftgan.compare import PyTorchNotFoundError, compare, torch_python


def _torch_python():
    """A Python that can import torch: this one, $SWIFTGAN_TORCH_PYTHON, or /opt/torchref's; None if none."""
    if importlib.util.find_spec("torch") is not None:
        return sys.executable
    for candidate in (os.environ.get("SWIFTGAN_TORCH_PYTHON"), "/opt/torchref/bin/python"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


TORCH_PYTHON = _torch_python()
needs_torch = pytest.mark.skipif(TORCH_PYTHON is None, reason="needs a Python with torch (SWIFTGAN_TORCH_PYTHON)")


@pytest.fixture(scope="module")
def blobs(tmp_path_factory):
    """256 images 1×32×32 in [-1, 1]: a bright disc at a random place on a dark ground."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:32, :32]
    centres = rng.uniform(8, 24, (256, 2))
    images = np.where((yy - centres[:, 0, None, None]) ** 2 + (xx - centres[:, 1, None, None]) ** 2 < 36, 1.0, -1.0)
    path = str(tmp_path_factory.mktemp("blobs") / "blobs.npy")
    np.save(path, images[:, None].astype(np.float32))
    return path


def test_without_torch_anywhere_compare_says_what_to_install(monkeypatch, blobs, tmp_path):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real_find_spec(name, *a))
    with pytest.raises(PyTorchNotFoundError) as error:
        compare(str(tmp_path / "out"), dataset=blobs, iters=2, ngf=4, ndf=4, progress=False)
    message = str(error.value)
    assert "cannot import torch" in message and "pip install torch" in message and "--torch-python" in message
    assert "never needs torch" in message
    assert not os.path.exists(tmp_path / "out")  # refused before anything was written


def test_a_torch_python_that_cannot_import_torch_is_refused_by_the_command(blobs, tmp_path):
    fake = tmp_path / "python-without-torch"
    fake.write_text("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'torch'\" >&2\nexit 1\n")
    fake.chmod(0o755)
    for given, expected in ((str(fake), "cannot import torch and numpy (ModuleNotFoundError: No module named 'torch')"),
                            (str(tmp_path / "missing"), "no such executable file")):
        result = subprocess.run([sys.executable, "-m", "swiftgan", "compare", "--dataset", blobs, "--iters", "2",
                                 "--ngf", "4", "--ndf", "4", "--torch-python", given, "--out", str(tmp_path / "out")],
                                capture_output=True, text=True)
        assert result.returncode == 1, result.stderr
        assert f"swiftgan compare: error: --torch-python {given}" in result.stderr and expected in result.stderr
        assert "Traceback" not in result.stderr


def test_options_the_twin_lacks_are_refused_before_training(blobs, tmp_path):
    with pytest.raises(ValueError, match="the PyTorch twin has no lr_schedule other than 'constant', got 'step'"):
        compare(str(tmp_path / "out"), dataset=blobs, iters=2, ngf=4, ndf=4, lr_schedule="step", progress=False)
    with pytest.raises(ValueError, match="the PyTorch twin has no ema_decay other than 0.0, got 0.99"):
        compare(str(tmp_path / "out"), dataset=blobs, iters=2, ngf=4, ndf=4, ema_decay=0.99, progress=False)


def test_torch_python_takes_this_python_when_it_has_torch(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    assert torch_python() == sys.executable


@needs_torch
@pytest.mark.parametrize("loss, options", [("RaLSGAN", {}), ("WGAN-GP", {"n_critic": 2}),
                                           ("RaSGAN", {"reuse_fake": True}), ("RaSGAN-GP", {"pack": 2})])
def test_compare_trains_both_engines_alike_and_writes_its_tables(blobs, tmp_path, loss, options):
    """Same start, same inputs: the final weights agree to float32 rounding. The median difference of the
    parameters is far below one Adam step, 2e-4 (an engine with another gradient would be a step or more away in
    most entries; measured here: medians of 0 to 7e-9), and at most 0.1% of entries are off by more than 2e-5 (an
    update within rounding of zero may flip its sign, 2·lr per iteration; measured: at most 0.01%). The losses agree
    to 1e-3, FID to 2%; then a rerun with one seed more trains only that seed."""
    from safetensors.numpy import load_file

    out = str(tmp_path / "cmp")
    common = dict(dataset=blobs, iters=8, every=4, eval_n=200, batch_size=16, ngf=4, ndf=4, z_dim=8, loss=loss,
                  torch_python_path=TORCH_PYTHON, threads=1, progress=False, save_weights=True, **options)
    summary = compare(out, seeds=2, **common)
    assert summary["seeds"] == [1, 2]
    for result in summary["results"]:
        first = result["checkpoints"][0]
        assert first["iteration"] == 4, first
        saved = {engine: load_file(os.path.join(out, f"seed-{result['seed']}-{engine}.safetensors"))
                 for engine in ("swiftgan", "torch")}
        parameters = [k for k in saved["torch"] if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
        differences = np.concatenate([np.abs(saved["swiftgan"][k] - saved["torch"][k]).ravel() for k in parameters])
        assert np.median(differences) <= 1e-7 and np.mean(differences > 2e-5) <= 1e-3, (
            np.median(differences), np.mean(differences > 2e-5))
        for name in ("d_loss", "g_loss"):
            np.testing.assert_allclose(first[f"swiftgan_{name}"], first[f"torch_{name}"], rtol=1e-3, atol=1e-4)
        engines = result["engines"]
        for engine in ("swiftgan", "torch"):
            assert len(engines[engine]["losses"]["d_loss"]) == 8 and engines[engine]["peak_rss_mb"] > 10
            assert engines[engine]["seconds_per_iteration"] > 0 and engines[engine]["threads"] == 1
        assert abs(engines["swiftgan"]["fid"] - engines["torch"]["fid"]) <= 0.02 * engines["torch"]["fid"]
    assert sorted(os.listdir(out)) == [".swiftgan-compare", "checkpoints.csv", "compare.csv", "compare.json", "compare.md", "losses.png",
                                       "seed-1-swiftgan.safetensors", "seed-1-torch.safetensors", "seed-1.json",
                                       "seed-2-swiftgan.safetensors", "seed-2-torch.safetensors", "seed-2.json"]
    with open(os.path.join(out, "compare.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [(r["seed"], r["engine"]) for r in rows] == [("1", "swiftgan"), ("1", "torch"), ("2", "swiftgan"),
                                                        ("2", "torch")]
    with open(os.path.join(out, "checkpoints.csv")) as f:
        assert [r["iteration"] for r in csv.DictReader(f)] == ["4", "8", "4", "8"]
    with open(os.path.join(out, "compare.md")) as f:
        table = f.read()
    assert f"# SwiftGAN against PyTorch: {loss}" in table and "| FID |" in table and "| 2 | " in table
    test = summary["summary"]["fid_difference"]
    fids = {e: [r["engines"][e]["fid"] for r in summary["results"]] for e in ("swiftgan", "torch")}
    assert test["seeds"] == [2, 2] and test["difference"] == pytest.approx(np.mean(fids["swiftgan"])
                                                                           - np.mean(fids["torch"]))
    assert f"FID, SwiftGAN − PyTorch: {test['difference']:+.3f} over 2 and 2 seeds" in table and 0 < test["p"] <= 1
    with open(os.path.join(out, "losses.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"

    written = {s: os.path.getmtime(os.path.join(out, f"seed-{s}.json")) for s in (1, 2)}
    again = compare(out, seeds=3, **common)
    assert again["seeds"] == [1, 2, 3]
    assert {s: os.path.getmtime(os.path.join(out, f"seed-{s}.json")) for s in (1, 2)} == written
    with open(os.path.join(out, "seed-1.json")) as f:
        assert json.load(f)["engines"]["torch"]["fid"] == summary["results"][0]["engines"]["torch"]["fid"]


def test_the_permutation_test_of_two_engines_fids_is_scipys_and_counts_every_split():
    """Equal groups: SciPy's exact two-sided permutation test of the difference of means. Unequal groups: the
    share of all splits at least as extreme, counted directly. The random-split form agrees with the exact one."""
    from scipy import stats

    from swiftgan.compare import permutation_p

    rng = np.random.default_rng(7)
    for shift in (0.0, 0.5, 3.0):
        a, b = rng.normal(2.0 + shift, 0.3, 6), rng.normal(2.0, 0.3, 6)
        want = stats.permutation_test((a, b), lambda x, y: np.mean(x) - np.mean(y), permutation_type="independent",
                                      alternative="two-sided", n_resamples=np.inf).pvalue
        assert permutation_p(a, b) == pytest.approx(want, abs=1e-12), shift
        assert abs(permutation_p(a, b, exact_up_to=0, draws=20_000) - want) < 0.02
    assert permutation_p([1.0, 2.0, 3.0], [11.0, 12.0, 13.0]) == pytest.approx(2 / 20)  # the two extreme splits
    a, b = [2.3, 2.6, 2.5, 2.9], [2.1, 2.0, 1.8]
    pooled = a + b
    import itertools
    splits = list(itertools.combinations(range(7), 4))
    observed = abs(np.mean(a) - np.mean(b))
    extreme = sum(abs(np.mean([pooled[i] for i in g]) - np.mean([pooled[i] for i in range(7) if i not in g]))
                  >= observed - 1e-12 for g in splits)
    assert permutation_p(a, b) == pytest.approx(extreme / len(splits)) and extreme >= 1


def test_a_seed_run_before_an_option_existed_is_kept_only_if_the_option_is_at_its_default(tmp_path):
    """A seed result holds the setup it ran with; an option added to the core since (such as `pack`) ran at its
    default, so the result is reused when the command asks for the default and run again otherwise."""
    from swiftgan.compare import _read_seed
    from swiftgan.options import option_table

    options = {name: option.default for name, option in option_table().items()}
    older = {name: value for name, value in options.items() if name != "pack"}
    setup = {"dataset": "d", "iters": 3, "options": options}
    with open(tmp_path / "seed-1.json", "w") as f:
        json.dump({"seed": 1, "setup": {**setup, "options": older}}, f)
    assert options["pack"] == 1 and _read_seed(str(tmp_path), 1, setup)["seed"] == 1
    assert _read_seed(str(tmp_path), 1, {**setup, "options": {**options, "pack": 2}}) is None
    assert _read_seed(str(tmp_path), 1, {**setup, "iters": 4}) is None
    assert _read_seed(str(tmp_path), 2, setup) is None


@needs_torch
def test_the_compare_command_prints_the_table(blobs, tmp_path):
    result = subprocess.run([sys.executable, "-m", "swiftgan", "compare", "--dataset", blobs, "--iters", "3",
                             "--every", "3", "--eval-n", "100", "--batch-size", "8", "--ngf", "4", "--ndf", "4",
                             "--loss", "RaHingeGAN", "--threads", "1", "--no-progress", "--torch-python", TORCH_PYTHON,
                             "--out", str(tmp_path / "cmp")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "# SwiftGAN against PyTorch: RaHingeGAN, dcgan 1×32×32 (ngf 4, ndf 4, z 100)" in result.stdout
    assert f"wrote {tmp_path / 'cmp'}: compare.md" in result.stdout


@needs_torch
def test_a_run_that_diverges_is_reported_not_dropped(blobs, tmp_path):
    """At an absurd learning rate both engines blow up: each stops at its first non-finite step, which the tables
    say; the figures of a diverged run are left out of the means, and the weights of a finished run are saved."""
    summary = compare(str(tmp_path / "cmp"), dataset=blobs, iters=30, every=10, eval_n=100, batch_size=8, ngf=4,
                      ndf=4, z_dim=8, loss="LSGAN", optimizer="sgd", lr_d=1e12, lr_g=1e12,
                      torch_python_path=TORCH_PYTHON, threads=1, progress=False, save_weights=True)
    engines = summary["results"][0]["engines"]
    for engine in ("swiftgan", "torch"):
        diverged = engines[engine]["diverged"]
        assert diverged is not None and 1 <= diverged["iteration"] <= 30, engines[engine]
        assert len(engines[engine]["losses"]["d_loss"]) == diverged["iteration"] - 1
        assert np.isnan(engines[engine]["fid"])
    assert "not finite" in engines["swiftgan"]["diverged"]["message"]
    assert summary["summary"]["diverged"] == {"swiftgan": 1, "torch": 1} and "fid" not in summary["summary"]
    with open(os.path.join(summary["out"], "compare.md")) as f:
        table = f.read()
    assert f"diverged at {engines['swiftgan']['diverged']['iteration']}" in table
    assert "| runs diverged (left out above) | 1 | 1 |" in table
    assert not any(name.endswith(".safetensors") for name in os.listdir(summary["out"]))  # nothing finished

    fine = compare(str(tmp_path / "fine"), dataset=blobs, iters=2, every=2, eval_n=0, batch_size=8, ngf=4, ndf=4,
                   z_dim=8, torch_python_path=TORCH_PYTHON, threads=1, progress=False, save_weights=True)
    from safetensors.numpy import load_file

    saved = {engine: load_file(os.path.join(fine["out"], f"seed-1-{engine}.safetensors")) for engine in ("swiftgan", "torch")}
    assert sorted(saved["swiftgan"]) == sorted(saved["torch"]) and any(k.startswith("G.") for k in saved["torch"])
    difference = max(float(np.abs(saved["swiftgan"][k] - saved["torch"][k]).max()) for k in saved["torch"])
    assert difference == fine["results"][0]["checkpoints"][-1]["difference"]
