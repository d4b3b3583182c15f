"""What users of the seed projects do by habit: epochs and grids named by epoch, a run that says which data it
trains on, torchvision's dataset folders, the seeds' loss names, a resume with nothing to do, evaluation that
never sinks a run, and a study with per-run settings (seed 004's comparison, from a YAML file, as the README
gives it)."""
import gzip
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import yaml
from PIL import Image

import swiftgan
import swiftgan.datacache
from swiftgan import datasets
from swiftgan.study import read_study_file, study

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
TINY = dict(ngf=4, ndf=4, z_dim=8, batch_size=8, n_samples=4, progress=False, morph=False, tensorboard=False)


def swiftgan_command(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "swiftgan", *args], capture_output=True, text=True, cwd=cwd)


def write_idx(path, images):
    header = bytes([0, 0, 8, 3]) + b"".join(int(s).to_bytes(4, "big") for s in images.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + images.tobytes())


@pytest.fixture(scope="module")
def bars(tmp_path_factory):
    images = np.full((40, 32, 32), 0, np.uint8)
    for i, image in enumerate(images):
        image[4:28, 2 + i % 24:6 + i % 24] = 255
    path = tmp_path_factory.mktemp("data") / "bars.npy"
    np.save(path, images)
    return str(path)


def test_a_run_in_epochs_names_a_grid_after_each_epoch_and_a_resume_keeps_them(tmp_path, bars):
    run = swiftgan.train(str(tmp_path / "r"), dataset=bars, epochs=2, sample_every=100, save_every=100, **TINY)
    assert run.iteration == 10  # 40 images, 8 per iteration: 5 iterations per epoch
    samples = sorted(os.listdir(os.path.join(run.path, "samples")))
    assert samples == ["epoch_001.png", "epoch_002.png", "iter_000000.png", "iter_000010.png"]
    again = swiftgan.train(resume=run.path, epochs=3, progress=False)
    assert "epoch_003.png" in os.listdir(os.path.join(again.path, "samples")) and again.iteration == 15


def test_a_run_names_its_dataset_when_it_starts(tmp_path):
    done = swiftgan_command("train", "--out", str(tmp_path / "r"), "--iters", "1", "--ngf", "4", "--ndf", "4",
                            "--z-dim", "4", "--no-morph", "--no-tensorboard", "--batch-size", "4")
    assert done.returncode == 0, done.stderr
    assert re.search(r"swiftgan: dataset fashion-mnist \(the default: give --dataset to train on your own\): 60,000 "
                     r"images → 1×32×32, (to be )?cached in ", done.stdout)
    assert "waited" in done.stdout and "ms per batch for data" in done.stdout


def test_a_resume_with_nothing_to_do_says_so(tmp_path, bars):
    path = str(tmp_path / "r")
    swiftgan.train(path, dataset=bars, iters=3, sample_every=3, save_every=3, **TINY)
    before = os.path.getmtime(os.path.join(path, "metrics.csv"))
    done = swiftgan_command("train", "--resume", path)
    assert done.returncode == 0, done.stderr
    assert (f"swiftgan: nothing to train: {os.path.abspath(path)} is at iteration 3, and iters 3 ends there or before; "
            "give --iters (or --epochs) beyond 3 to train on") in done.stdout
    assert os.path.getmtime(os.path.join(path, "metrics.csv")) == before
    os.remove(os.path.join(path, "evolution.gif"))  # as when a run is killed after its last step, before its end
    done = swiftgan_command("train", "--resume", path)
    assert done.returncode == 0 and "(wrote evolution.gif, missing since the run stopped)" in done.stdout
    assert os.path.isfile(os.path.join(path, "evolution.gif"))
    assert os.path.getmtime(os.path.join(path, "metrics.csv")) == before


def test_torchvision_roots_are_recognised_and_known_names_say_how_to_give_them(tmp_path):
    root = tmp_path / "data"
    (root / "MNIST" / "raw").mkdir(parents=True)
    digits = np.random.default_rng(0).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    write_idx(root / "MNIST" / "raw" / "train-images-idx3-ubyte.gz", digits)
    write_idx(root / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz", digits[:2])
    assert datasets.resolve(str(root)) == (str(root / "MNIST" / "raw"), "array")
    assert np.array_equal(datasets.load_dataset(str(root)), digits[:, None].astype(np.float32) / 127.5 - 1.0)
    (root / "cifar-10-batches-py").mkdir()
    import pickle
    with open(root / "cifar-10-batches-py" / "data_batch_1", "wb") as f:
        pickle.dump({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 1]}, f, protocol=2)
    with pytest.raises(ValueError, match=r"a torchvision root holding several datasets \(MNIST/raw, "
                                         r"cifar-10-batches-py\): give one of those folders"):
        datasets.resolve(str(root))
    assert datasets.load_dataset(str(root / "cifar-10-batches-py")).shape == (2, 3, 32, 32)
    for name, known in (("mnist", "MNIST"), ("cifar10", "CIFAR-10"), ("CIFAR-10", "CIFAR-10"), ("celeba", "CelebA")):
        with pytest.raises(FileNotFoundError, match=rf"dataset '{name}': SwiftGAN downloads nothing; give the folder "
                                                    rf"holding {known}'s files \(a torchvision root"):
            datasets.resolve(name)


@pytest.mark.parametrize("given, suggested", [
    ("RaGAN", "RaSGAN (the relativistic average GAN, with cross-entropy)"),
    ("GAN", "SGAN (the standard GAN, with cross-entropy; --minimax for the saturating generator loss)"),
    ("BXE", "SGAN or RaSGAN (binary cross-entropy: standard, or relativistic average)"),
    ("LS", "LSGAN or RaLSGAN (least squares: standard, or relativistic average)"),
    ("RaGAN-GP", "RaSGAN-GP (the relativistic average GAN, with cross-entropy)"),
])
def test_the_seeds_loss_names_are_suggested_never_taken(given, suggested):
    with pytest.raises(ValueError, match=re.escape(f"unknown loss '{given}'; did you mean {suggested}; known losses: SGAN")):
        swiftgan.GAN(loss=given)


def test_eval_every_asking_for_fid_without_a_fitting_network_is_refused_before_decoding(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.full((20, 20, 3), 40 * i, np.uint8)).save(folder / f"{i}.png")
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match=r"eval_every 5 asks for FID and KID, and the shipped feature network "
                                         r"\(Fashion-MNIST\) takes images of 1×32×32, not 3×32×32: give "
                                         r"--feature-network .*, or --eval-every 0"):
        swiftgan.train(str(tmp_path / "r"), dataset=str(folder), iters=2, eval_every=5, cache_dir=str(cache), **TINY)
    assert not cache.exists() and not (tmp_path / "r").exists()


SEED_004 = re.compile(r"```yaml\n(# seed 004.*?)```", re.S)
SEED_004_COMMAND = re.compile(r"^(swiftgan study --file seed004\.yaml .*)$", re.M)


@pytest.fixture(scope="module")
def celeba_like(tmp_path_factory):
    folder = tmp_path_factory.mktemp("celeba") / "img_align_celeba"
    subprocess.run([sys.executable, os.path.join(os.path.dirname(README), "benchmarks", "make_jpeg_folder.py"),
                    str(folder), "--count", "130"], check=True, capture_output=True)
    return str(folder)


@pytest.mark.parametrize("inception", [True, False], ids=["with-inception", "without"])
def test_the_readmes_seed_004_study_runs_with_per_run_settings(tmp_path, celeba_like, inception):
    """The README's seed-004 study file and command on 130 CelebA-sized JPEGs, cut to one iteration: with an
    Inception weights file (seeded random weights, converted) every run is evaluated; without, every run is trained
    and reported as not evaluated; none fails."""
    text = open(README).read()
    (tmp_path / "seed004.yaml").write_text(SEED_004.search(text).group(1))
    args = SEED_004_COMMAND.search(text).group(1).split()[1:]
    args[args.index("--dataset") + 1] = celeba_like
    args[args.index("--out") + 1] = str(tmp_path / "study-004")
    at = args.index("--feature-network")
    if inception:
        from swiftgan.features import InceptionNetwork

        from inception_weights import random_inception_state
        with InceptionNetwork() as net:
            net.load_state_dict(random_inception_state({k: v.shape for k, v in net.state_dict().items()}, 7))
            args[at + 1] = net.save(str(tmp_path / "inception.safetensors"))
    else:
        del args[at:at + 2]
    done = swiftgan_command(*args, "--iters", "1", "--eval-n", "8", "--workers", "2", "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = read_study_file(str(tmp_path / "seed004.yaml"))["losses"]
    assert list(runs) == ["DCGAN", "EBGAN", "LSGAN", "WGAN", "WGAN-GP", "BEGAN", "DRAGAN"]
    for name, own in runs.items():  # each run trained with its own settings
        config = yaml.safe_load(open(tmp_path / "study-004" / "runs" / f"{name}-seed1" / "config.yaml"))
        assert config["image_size"] == 64 and config["channels"] == 3 and config["iters"] == 1
        for key, value in own.items():
            assert config[key] == value, (name, key)
    report = (tmp_path / "study-004" / "study.md").read_text()
    assert "| failed" not in report and "DCGAN: loss=SGAN, lr_d=0.0002, lr_g=0.001; EBGAN: arch=ebgan, pt_weight=0.1" in report
    if inception:
        evaluated = re.findall(r"^\| (\w[\w-]*)-seed1 \| 1 \| (\d+\.\d+) \|", report, re.M)
        assert [name for name, _ in evaluated] == list(runs), report
    else:
        assert report.count("| not evaluated |") == 7
        assert "Not evaluated: the shipped feature network (Fashion-MNIST) takes images of 1×32×32, not 3×64×64" in report
        assert "not evaluated (FID, KID): DCGAN, EBGAN, LSGAN, WGAN, WGAN-GP, BEGAN, DRAGAN" in done.stderr


def test_eval_every_0_in_a_study_means_never(tmp_path, bars):
    summary = study(str(tmp_path / "s"), {"fast": {"loss": "RaSGAN", "lr_d": 1e-4}}, seeds=1, iters=4, eval_every=0,
                    workers=1, progress=False, dataset=bars, ngf=4, ndf=4, z_dim=8, batch_size=8)
    assert summary["runs"] == 1
    record = yaml.safe_load(open(tmp_path / "s" / "runs" / "fast-seed1" / "study-run.json"))
    assert record["evaluations"] == [] and record["iterations"] == 4
    assert "Not evaluated (eval_every 0)." in (tmp_path / "s" / "study.md").read_text()
    assert yaml.safe_load(open(tmp_path / "s" / "runs" / "fast-seed1" / "config.yaml"))["lr_d"] == 1e-4


def test_study_files_are_checked(tmp_path):
    path = tmp_path / "s.yaml"
    cases = [("runs: {A: {loss: RaSGAN, lr_d: 2e-4}}\niters: 3\n", None),
             ("- SGAN\n", "a study file is a mapping of runs, losses, seeds"),
             ("runs: [SGAN]\nlossses: [SGAN]\n", "unknown key lossses; a study file holds runs, losses"),
             ("iters: 3\n", "no runs: give runs:"),
             ("runs: {A: {loss: RaSGAN, iters: 5}}\n", None)]
    for text, message in cases:
        path.write_text(text)
        if message is None:
            read_study_file(str(path))
        else:
            with pytest.raises(ValueError, match=re.escape(message)):
                read_study_file(str(path))
    path.write_text("runs: {A: {loss: RaSGAN, lr_d: 2e-4}}\n")
    assert read_study_file(str(path))["losses"] == {"A": {"loss": "RaSGAN", "lr_d": 2e-4}}  # 2e-4 a number
    for losses, message in (({"A": {"loss": "RaSGAN", "iters": 5}}, "run A: iters: the study sets these"),
                            ({"A/B": {"loss": "RaSGAN"}}, "run name 'A/B': use letters, digits and @._+- only"),
                            ({"A": {"loss": "RaSGAN", "lrd": 1}}, "run A of the study: unknown option 'lrd'")):
        with pytest.raises(ValueError, match=re.escape(message)):
            study(str(tmp_path / "refused"), losses, progress=False)


def test_a_run_started_before_the_cache_resumes_on_the_float_images_it_trained_on(tmp_path):
    """A run whose dataset.json holds the SHA-256 of float32 images (written before the cache) resumes on its data
    held in memory as it was: a resized array rounded to 8 bits would not be its data (and would be refused)."""
    import hashlib
    import json

    data = str(tmp_path / "smooth.npy")
    ramp = np.linspace(-1, 1, 28 * 28, dtype=np.float32).reshape(28, 28)
    np.save(data, np.stack([np.roll(ramp, i, axis=1) for i in range(24)])[:, None])
    path = str(tmp_path / "r")
    swiftgan.train(path, dataset=data, image_size=32, iters=2, sample_every=2, save_every=2, **TINY)
    floats = datasets.load_dataset(data, image_size=32)
    legacy = {"shape": list(floats.shape), "sha256": hashlib.sha256(floats.tobytes()).hexdigest()}
    with open(os.path.join(path, "dataset.json"), "w") as f:
        json.dump(legacy, f)
    cached = swiftgan.datacache.open_dataset(data, image_size=32, progress=False)
    assert not np.array_equal(cached[np.arange(24)], floats)  # the cache's 8 bits are not what it trained on
    run = swiftgan.train(resume=path, iters=4, progress=False)
    assert run.iteration == 4
    with open(os.path.join(path, "dataset.json")) as f:
        assert json.load(f) == legacy  # still the record of its float images
