"""Whole experiments: `swiftgan.train`, run folders, exact resume, and the `swiftgan` command end to end."""
import os
import shlex
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest
from conftest import write_bars
import yaml
from PIL import Image

import swiftgan
from swiftgan import cli
from swiftgan.datasets import FASHION_MNIST_DIR, BatchSampler

TINY = dict(ngf=8, ndf=8, z_dim=8, batch_size=16, sample_every=5, save_every=5, n_samples=16, progress=False)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """128 grey 32×32 images (bars at random positions) as a .npy file."""
    return write_bars(tmp_path_factory.mktemp("data"))


def tensorboard_events(folder):
    """The (tag, step, kind) of every summary value in a run's TensorBoard event files (TFRecord framing)."""
    from tensorboardX.proto.event_pb2 import Event

    found = []
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as f:
            data = f.read()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack_from("<Q", data, offset)
            event = Event.FromString(data[offset + 12:offset + 12 + length])
            offset += 12 + length + 4
            for value in event.summary.value:
                found.append((value.tag, event.step, value.WhichOneof("value")))
    return found


def weights_and_moments(run):
    from safetensors.numpy import load_file

    with run.gan() as gan:
        state = gan.state_dict()

    state.update({"opt." + k: v for k, v in load_file(os.path.join(run.checkpoint, "optimizer.safetensors")).items()})
    return state


def assert_same_run(a, b):
    wa, wb = weights_and_moments(a), weights_and_moments(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert np.array_equal(wa[key], wb[key]), key
    ma, mb = a.metrics, b.metrics
    for column in ma:
        if column != "time":
            assert np.array_equal(ma[column], mb[column], equal_nan=True), column
    grids_b = dict(b.sample_grids)  # b may hold more: a shorter first part ends with a grid of its last iteration
    for it, path in a.sample_grids:
        assert np.array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(grids_b[it]))), path


# ---- from Python -----------------------------------------------------------------------------

def test_train_writes_every_artifact_and_returns_the_run(dataset, tmp_path):
    run = swiftgan.train(str(tmp_path / "run"), dataset=dataset, loss="RaLSGAN-GP", iters=12, **TINY)
    assert isinstance(run, swiftgan.Run) and run.iteration == 12
    names = set(os.listdir(run.path))
    assert {"config.yaml", "metrics.csv", "tensorboard", "samples", "evolution.gif", "losses.png", "morph.gif",
            "checkpoint", "fixed_latents.npy"} <= names
    metrics = run.metrics
    assert list(metrics["iteration"]) == list(range(1, 13))
    assert metrics["d_loss"].dtype == np.float64 and np.all(np.isfinite(metrics["d_loss"]))
    assert np.all(metrics["penalty"] > 0) and np.all(np.diff(metrics["time"]) >= 0)
    assert [i for i, _ in run.sample_grids] == [0, 5, 10, 12]
    with Image.open(os.path.join(run.path, "evolution.gif")) as gif:
        assert gif.n_frames == 4 and gif.info["loop"] == 0
    with Image.open(os.path.join(run.path, "morph.gif")) as gif:
        assert gif.n_frames == 4 * 24
    with Image.open(os.path.join(run.path, "losses.png")) as plot:
        assert plot.size[0] > 1000  # three panels: losses, critic outputs, penalty
    config = yaml.safe_load(open(os.path.join(run.path, "config.yaml")))
    assert config["loss"] == "RaLSGAN-GP" and config["channels"] == 1 and config["betas_d"] == [0.5, 0.999]
    events = tensorboard_events(os.path.join(run.path, "tensorboard"))
    assert {(tag, kind) for tag, _, kind in events} == {
        ("loss/D", "simple_value"), ("loss/G", "simple_value"), ("critic/real", "simple_value"),
        ("critic/fake", "simple_value"), ("loss/penalty", "simple_value"), ("loss/D_real", "simple_value"),
        ("loss/D_fake", "simple_value"), ("samples", "image")}
    metrics = run.metrics  # RaLSGAN's critic loss is a term on real and one on fake data: they sum to it
    np.testing.assert_allclose(metrics["d_loss_real"] + metrics["d_loss_fake"] + metrics["penalty"], metrics["d_loss"],
                               rtol=1e-5, atol=1e-6)
    assert sorted(step for tag, step, _ in events if tag == "loss/D") == list(range(1, 13))
    assert sorted(step for tag, step, _ in events if tag == "samples") == [0, 5, 10, 12]
    loaded = swiftgan.load_run(run.path)
    assert loaded.config == run.config and loaded._repr_png_()[:4] == b"\x89PNG"
    with loaded.gan() as gan:
        assert gan.iteration == 12 and gan._repr_png_()[:4] == b"\x89PNG"
        with swiftgan.GAN(**gan.options) as twin:
            assert twin.config == gan.config


def test_resume_is_bit_identical_to_an_uninterrupted_run(dataset, tmp_path):
    options = dict(dataset=dataset, loss="RaSGAN-GP", n_critic=2, ema_decay=0.9, save_every=30, **{
        k: v for k, v in TINY.items() if k != "save_every"})
    options["sample_every"] = 40
    whole = swiftgan.train(str(tmp_path / "whole"), iters=200, morph=False, **options)
    half = swiftgan.train(str(tmp_path / "half"), iters=100, morph=False, **options)
    assert half.iteration == 100
    resumed = swiftgan.train(resume=half.path, iters=200, progress=False)
    assert resumed.iteration == 200
    assert_same_run(whole, resumed)


def train_failing_at(monkeypatch, draw, error, out, **options):
    """`swiftgan.train(out, **options)` with the data sampler raising `error` at its `draw`-th batch: a crash (or
    Ctrl-C) after draw − 1 completed iterations. Returns the run folder it left."""
    original, draws = BatchSampler.next, {"n": 0}

    def failing_next(self):
        draws["n"] += 1
        if draws["n"] == draw:
            raise error
        return original(self)

    monkeypatch.setattr(BatchSampler, "next", failing_next)
    try:
        with pytest.raises(type(error)):
            swiftgan.train(out, **options)
    finally:
        monkeypatch.setattr(BatchSampler, "next", original)
    return swiftgan.load_run(out)


def test_a_run_that_crashed_resumes_from_its_last_checkpoint_and_drops_later_rows(dataset, tmp_path, monkeypatch):
    options = dict(dataset=dataset, iters=23, morph=False, tensorboard=False, **TINY)
    whole = swiftgan.train(str(tmp_path / "whole"), **options)
    # after the checkpoint of iteration 15, rows and a grid for 16 and 17 are written
    crashed = train_failing_at(monkeypatch, 18, OSError("disk vanished"), str(tmp_path / "crashed"), **options)
    assert crashed.iteration == 15 and crashed.metrics["iteration"][-1] == 17
    assert_same_run(whole, swiftgan.train(resume=crashed.path, progress=False))
    # a run that stops before its first checkpoint starts over when resumed
    early = train_failing_at(monkeypatch, 18, OSError("disk vanished"), str(tmp_path / "early"),
                             **{**options, "save_every": 50})
    assert early.iteration == 0 and early.metrics["iteration"][-1] == 17
    assert_same_run(whole, swiftgan.train(resume=early.path, progress=False))


def test_an_interrupted_run_saves_a_checkpoint_first(dataset, tmp_path, monkeypatch):
    options = dict(dataset=dataset, iters=14, morph=False, tensorboard=False, **TINY)
    whole = swiftgan.train(str(tmp_path / "whole"), **options)
    stopped = train_failing_at(monkeypatch, 9, KeyboardInterrupt(), str(tmp_path / "stopped"), **options)
    assert stopped.iteration == 8  # not 5, the last scheduled checkpoint: no completed iteration is lost
    assert_same_run(whole, swiftgan.train(resume=stopped.path, progress=False))


def test_ctrl_c_completes_the_iteration_under_way_with_its_metrics_row(dataset, tmp_path, monkeypatch):
    """A SIGINT arriving mid-iteration (here while its batch is drawn) lets that iteration's step and metrics
    row finish before the checkpoint: no step is saved without its row."""
    import signal

    options = dict(dataset=dataset, iters=14, morph=False, tensorboard=False, **TINY)
    whole = swiftgan.train(str(tmp_path / "whole"), **options)
    original, draws = BatchSampler.next, {"n": 0}

    def next_with_sigint(self):
        draws["n"] += 1
        if draws["n"] == 9:
            signal.raise_signal(signal.SIGINT)
        return original(self)

    monkeypatch.setattr(BatchSampler, "next", next_with_sigint)
    with pytest.raises(KeyboardInterrupt):
        swiftgan.train(str(tmp_path / "stopped"), **options)
    monkeypatch.setattr(BatchSampler, "next", original)
    stopped = swiftgan.load_run(str(tmp_path / "stopped"))
    assert stopped.iteration == 9 and list(stopped.metrics["iteration"]) == list(range(1, 10))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back
    assert_same_run(whole, swiftgan.train(resume=stopped.path, progress=False))


def test_train_refuses_bad_options_and_never_overwrites_a_run(dataset, tmp_path):
    with pytest.raises(ValueError, match=r"train\(\): unknown option 'lr_dd'; did you mean lr_d"):
        swiftgan.train(str(tmp_path / "a"), dataset=dataset, lr_dd=1e-3)
    with pytest.raises(ValueError, match="iters must be a positive int, got 0"):
        swiftgan.train(str(tmp_path / "a"), dataset=dataset, iters=0)
    with pytest.raises(ValueError, match=r"arch 'mlp' generates samples of shape \[1\], the dataset holds images"):
        swiftgan.train(str(tmp_path / "a"), dataset=dataset, arch="mlp")
    assert not os.path.exists(tmp_path / "a")
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        swiftgan.train(str(tmp_path / "a"), dataset=str(tmp_path / "missing"))
    run = swiftgan.train(str(tmp_path / "b"), dataset=dataset, iters=2, morph=False, **TINY)
    before = open(os.path.join(run.path, "metrics.csv")).read()
    with pytest.raises(FileExistsError, match="already holds a run: resume it"):
        swiftgan.train(run.path, dataset=dataset, iters=2, **TINY)
    assert open(os.path.join(run.path, "metrics.csv")).read() == before
    from swiftgan.ownership import claim_folder  # a run killed after claiming its folder, before config.yaml
    claim_folder(str(tmp_path / "c"), swiftgan.run.RUN_MARKER, "run", swiftgan.run.RUN_FILES)
    assert swiftgan.train(str(tmp_path / "c"), dataset=dataset, iters=2, morph=False, **TINY).iteration == 2
    with pytest.raises(ValueError, match=r"cannot change loss, lr_d when resuming .*: only iters, epochs, sample_every"):
        swiftgan.train(resume=run.path, loss="WGAN-GP", lr_d=1e-3)
    resumed = swiftgan.train(resume=run.path, iters=3, threads=1, progress=False)  # not part of the experiment
    assert resumed.iteration == 3
    with pytest.raises(ValueError, match=r"out \(elsewhere\) and resume \(.*\) differ"):
        swiftgan.train("elsewhere", resume=run.path)
    with pytest.raises(FileNotFoundError, match="no SwiftGAN run at .*missing config.yaml"):
        swiftgan.load_run(str(tmp_path))


# ---- the command line ------------------------------------------------------------------------

def swiftgan_command(*args, cwd):
    """Runs the installed `swiftgan` script (or `python -m swiftgan` when the script is not on PATH)."""
    script = shutil.which("swiftgan")
    command = [script] if script else [sys.executable, "-m", "swiftgan"]
    return subprocess.run(command + [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_the_command_line_end_to_end(dataset, tmp_path):
    config = tmp_path / "experiment.yaml"
    config.write_text("loss: RaHingeGAN\nlr-d: 0.0004\niters: 50\nngf: 8\nndf: 8\nz_dim: 8\nbetas: [0.0, 0.9]\n")
    done = swiftgan_command("train", "--config", config, "--dataset", dataset, "--iters", 6, "--batch-size", 16,
                            "--sample-every", 3, "--save-every", 3, "--out", "runs/cli", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "6/6" in done.stderr  # the progress bar
    run = swiftgan.load_run(str(tmp_path / "runs" / "cli"))
    assert run.iteration == 6 and run.config["loss"] == "RaHingeGAN" and run.config["lr_d"] == 0.0004
    assert run.config["iters"] == 6 and run.config["betas_g"] == [0.0, 0.9]  # command line over the file

    done = swiftgan_command("train", "--resume", "runs/cli", "--iters", 9, "--threads", 1, "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert swiftgan.load_run(run.path).iteration == 9

    done = swiftgan_command("sample", "runs/cli", "--n", 10, "--nrow", 5, "--out", "grid.png", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert Image.open(tmp_path / "grid.png").size == (5 * 34 + 2, 2 * 34 + 2)
    done = swiftgan_command("sample", "runs/cli", "--n", 3, "--out", "s.npy", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (3, 1, 32, 32) and samples.dtype == np.float32 and np.abs(samples).max() <= 1

    done = swiftgan_command("sample", "runs/cli", "--n", 7, "--out", "pngs/", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    files = sorted(os.listdir(tmp_path / "pngs"))
    assert files == [f"{i:06d}.png" for i in range(7)]
    from_folder = np.stack([np.asarray(Image.open(tmp_path / "pngs" / f)) for f in files])
    first = np.asarray(Image.open(tmp_path / "grid.png"))[2:34, 2:34]  # the grid's first image: the same latents
    assert from_folder.shape == (7, 32, 32) and np.array_equal(from_folder[0], first)

    done = swiftgan_command("morph", "runs/cli", "--out", "m.mp4", "--points", 2, "--steps", 3, "--n", 4, "--fps", 6,
                            cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    import imageio.v2 as imageio

    with imageio.get_reader(str(tmp_path / "m.mp4"), format="FFMPEG") as video:
        frames = [frame for frame in video]
        assert len(frames) == 6 and video.get_meta_data()["fps"] == 6
    done = swiftgan_command("morph", "runs/cli", "--out", "m.gif", "--method", "linear", "--points", 3, "--steps", 2,
                            cwd=tmp_path)
    assert done.returncode == 0 and Image.open(tmp_path / "m.gif").n_frames == 6

    done = swiftgan_command("plot", "runs/cli", "--out", "curves.png", cwd=tmp_path)
    assert done.returncode == 0 and "9 iterations" in done.stdout
    assert Image.open(tmp_path / "curves.png").format == "PNG"

    done = swiftgan_command("list", cwd=tmp_path)
    assert done.returncode == 0 and "RaLSGAN" in done.stdout and "-GP" in done.stdout and "resnet" in done.stdout


def test_command_line_errors_are_one_line_messages(dataset, tmp_path, capsys):
    assert cli.main(["train", "--dataset", dataset, "--loss", "RaFooGAN", "--out", str(tmp_path / "x"),
                     "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("swiftgan train: error: ") and "RaFooGAN" in error and "RaLSGAN" in error
    (tmp_path / "bad.yaml").write_text("learning_rate: 0.1\n")
    assert cli.main(["train", "--config", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "y")]) == 2
    assert "unknown option 'learning_rate'" in capsys.readouterr().err
    assert cli.main(["sample", str(tmp_path / "nothing")]) == 1
    assert "no SwiftGAN run at" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--iters", "many"])
    assert exit_info.value.code == 2 and "invalid int value: 'many'" in capsys.readouterr().err


def test_interpolation_keeps_endpoints_and_slerp_keeps_the_norm():
    from swiftgan.animations import interpolate

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 64)), rng.standard_normal((5, 64))
    for method in ("slerp", "linear"):
        np.testing.assert_allclose(interpolate(a, b, 0.0, method), a, atol=1e-6)
        np.testing.assert_allclose(interpolate(a, b, 1.0, method), b, atol=1e-6)
    c = rng.standard_normal((5, 64))
    c *= np.linalg.norm(a, axis=1, keepdims=True) / np.linalg.norm(c, axis=1, keepdims=True)
    middle = interpolate(a, c, 0.5, "slerp")
    np.testing.assert_allclose(np.linalg.norm(middle, axis=1), np.linalg.norm(a, axis=1), rtol=1e-5)
    assert np.all(np.linalg.norm(interpolate(a, c, 0.5, "linear"), axis=1) < np.linalg.norm(a, axis=1))
    np.testing.assert_allclose(interpolate(a, 2 * a, 0.3, "slerp"), 1.3 * a, rtol=1e-5)  # parallel: linear, no 0/0
    with pytest.raises(ValueError, match="method must be 'slerp' or 'linear', got 'cubic'"):
        interpolate(a, b, 0.5, "cubic")


README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


def readme_demo_train_arguments():
    """The `swiftgan train ...` arguments of the README's demo command (the line after its marker)."""
    lines = open(README).read().splitlines()
    marker = next(i for i, line in enumerate(lines) if line.startswith("<!-- demo-command"))
    command = lines[marker + 2]
    train = command.split(" && ")[-1]
    assert train.startswith("swiftgan train "), command
    return shlex.split(train)[2:]


@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST_DIR), reason="needs Debian's dataset-fashion-mnist package")
def test_the_readmes_demo_command_trains_on_fashion_mnist(tmp_path):
    arguments = readme_demo_train_arguments()
    assert arguments[arguments.index("--dataset") + 1] == "fashion-mnist"
    # the same command, shortened: later flags override earlier ones
    done = swiftgan_command("train", *arguments, "--iters", 4, "--sample-every", 2, "--out", "demo", "--no-progress",
                            cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run = swiftgan.load_run(str(tmp_path / "demo"))
    assert run.iteration == 4 and run.config["dataset"] == "fashion-mnist" and run.config["channels"] == 1
    assert [i for i, _ in run.sample_grids] == [0, 2, 4]
    for name in ("losses.png", "morph.gif", "evolution.gif", "metrics.csv", "checkpoint/weights.safetensors"):
        assert (tmp_path / "demo" / name).is_file(), name
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(tmp_path / "demo" / "tensorboard"))


def test_epochs_set_the_iterations_from_the_datasets_size(dataset, tmp_path):
    # 128 images, batches of 16: one pass is 8 iterations with n_critic 1, 4 with n_critic 2.
    run = swiftgan.train(str(tmp_path / "a"), dataset=dataset, epochs=2, morph=False, **TINY)
    assert run.iteration == 16 and run.config["iters"] == 16 and run.config["epochs"] == 2
    run = swiftgan.train(str(tmp_path / "b"), dataset=dataset, epochs=1, n_critic=2, morph=False, **TINY)
    assert run.iteration == 4
    resumed = swiftgan.train(resume=run.path, epochs=3, progress=False)  # train longer, in passes
    assert resumed.iteration == 12
    with pytest.raises(ValueError, match="give iters or epochs, not both"):
        swiftgan.train(str(tmp_path / "c"), dataset=dataset, epochs=1, iters=5, **TINY)
    with pytest.raises(ValueError, match="epochs must be a positive int, got 0"):
        swiftgan.train(str(tmp_path / "c"), dataset=dataset, epochs=0, **TINY)
    parser_run = subprocess.run([sys.executable, "-m", "swiftgan", "train", "--help"], capture_output=True, text=True)
    assert "--epochs EPOCHS" in parser_run.stdout


def test_a_run_of_an_older_version_without_the_loss_terms_resumes_and_reads(dataset, tmp_path):
    run = swiftgan.train(str(tmp_path / "old"), dataset=dataset, iters=5, morph=False, **TINY)
    path = os.path.join(run.path, "metrics.csv")
    with open(path) as f:  # as the previous version wrote it: no d_loss_real, d_loss_fake columns
        rows = [row.split(",")[:8] + [row.split(",")[-1]] for row in f.read().splitlines()]
    with open(path, "w") as f:
        f.write("\n".join(",".join(row) for row in rows) + "\n")
    assert np.isnan(swiftgan.load_run(run.path).metrics["d_loss_real"]).all()
    config_path = os.path.join(run.path, "config.yaml")  # nor the options added since (evaluations)
    config = yaml.safe_load(open(config_path))
    for key in ("eval_every", "eval_n", "feature_network"):
        del config[key]
    with open(config_path, "w") as f:
        yaml.safe_dump(config, f)
    resumed = swiftgan.train(resume=run.path, iters=7, progress=False)
    metrics = resumed.metrics
    assert list(metrics["iteration"]) == list(range(1, 8))
    assert np.isnan(metrics["d_loss_real"][:5]).all() and np.isfinite(metrics["d_loss_real"][5:]).all()


# ---- durability: damaged checkpoints and runs killed at any moment ------------------------------------------


def test_resume_falls_back_to_the_previous_checkpoint_when_the_newest_is_damaged(dataset, tmp_path):
    options = dict(dataset=dataset, iters=12, morph=False, tensorboard=False, **TINY)
    whole = swiftgan.train(str(tmp_path / "whole"), **options)
    part = swiftgan.train(str(tmp_path / "part"), **{**options, "iters": 10})  # checkpoints at 5 and 10
    weights = os.path.join(part.checkpoint, "weights.safetensors")
    with open(weights, "r+b") as f:
        f.truncate(os.path.getsize(weights) // 2)
    with pytest.raises(swiftgan.CheckpointDamagedError, match=r"checkpoint is damaged: weights.safetensors \(\d+ "
                       r"bytes\) does not match the SHA-256 .*; the previous checkpoint, .*checkpoint.previous "
                       r"\(iteration 5\), is complete: load it"):
        part.gan()
    with pytest.warns(RuntimeWarning, match=r"resuming from the checkpoint before it \(iteration 5\); the damaged one "
                      r"is kept in .*checkpoint.damaged"):
        resumed = swiftgan.train(resume=part.path, iters=12, progress=False)
    assert os.path.isdir(resumed.checkpoint + ".damaged")
    assert_same_run(whole, resumed)
    for name in ("checkpoint", "checkpoint.previous"):  # both damaged: refused, nothing overwritten
        with open(os.path.join(resumed.path, name, "trainer.json"), "a") as f:
            f.write(" ")
    with pytest.raises(swiftgan.CheckpointDamagedError, match="trainer.json .* does not match the SHA-256"):
        swiftgan.train(resume=resumed.path, iters=14, progress=False)
    assert resumed.metrics["iteration"][-1] == 12


KILL_OPTIONS = ["--loss", "RaSGAN-GP", "--n-critic", "2", "--ema-decay", "0.9", "--ngf", "8", "--ndf", "8",
                "--z-dim", "8", "--batch-size", "16", "--sample-every", "4", "--save-every", "3", "--n-samples", "16",
                "--no-tensorboard", "--no-morph", "--no-progress", "--threads", "1"]


def test_a_run_killed_at_random_moments_always_resumes_and_ends_bit_identical(dataset, tmp_path):
    """SIGKILL at random moments (during imports, the first writes, steps, metrics rows, sample grids, checkpoint
    saves) ten times, then a last attempt left to finish: resuming (or starting again, when the kill came before
    config.yaml) always works, and the run ends as the uninterrupted one does."""
    import random
    import signal
    import time

    iters = 300
    done = swiftgan_command("train", "--dataset", dataset, "--out", "whole", "--iters", iters, *KILL_OPTIONS, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    training = float(swiftgan.load_run(str(tmp_path / "whole")).metrics["time"][-1])  # its steps, when not killed
    started = time.monotonic()  # a resume with nothing to train: a process's cost before its first step
    done = swiftgan_command("train", "--resume", "whole", "--no-progress", "--threads", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    startup = time.monotonic() - started
    seed = random.SystemRandom().randrange(1 << 30)
    draw = random.Random(seed)
    run, kills = tmp_path / "killed", 0
    for attempt in range(11):
        if (run / "config.yaml").exists():
            args = ["--resume", str(run), "--no-progress", "--threads", "1"]
        else:
            args = ["--out", str(run), *KILL_OPTIONS]
        process = subprocess.Popen([sys.executable, "-m", "swiftgan", "train", "--dataset", dataset, "--iters",
                                    str(iters), *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        left = 1 - (swiftgan.load_run(str(run)).iteration / iters if (run / "config.yaml").exists() else 0)
        try:  # ten attempts killed within a quarter of the training left (a run needs several), the last left to finish
            _, err = process.communicate(timeout=draw.uniform(0.2 * startup, startup + training * left / 4)
                                         if attempt < 10 else 600)
            assert process.returncode == 0, f"seed {seed}, attempt {attempt}: {err}"
            break
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.communicate()
            kills += 1
    assert kills >= 8, f"seed {seed}: only {kills} kills landed before the run finished"  # (all 10 but by a fluke)
    assert_same_run(swiftgan.load_run(str(tmp_path / "whole")), swiftgan.load_run(str(run)))
