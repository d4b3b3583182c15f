"""Feature networks trained by the core, the shipped Fashion-MNIST one, and the metrics measured with them."""
import json
import os
import shutil

import numpy as np
import pytest

import swiftgan
from swiftgan import GAN, cli
from swiftgan.datasets import FASHION_MNIST_DIR, load_labelled_dataset
from swiftgan.features import DEFAULT, FeatureNetwork, default_network


def shapes(n, seed=0, size=16):
    """Labelled 1×size×size images of three classes (a vertical bar, a horizontal bar, a square) at random places,
    with noise."""
    rng = np.random.default_rng(seed)
    images = rng.normal(-0.8, 0.1, (n, 1, size, size)).astype(np.float32)
    labels = rng.integers(0, 3, n)
    for image, label, (a, b) in zip(images, labels, rng.integers(2, size - 6, (n, 2))):
        if label == 0:
            image[0, 2:size - 2, a:a + 2] = 0.9
        elif label == 1:
            image[0, a:a + 2, 2:size - 2] = 0.9
        else:
            image[0, a:a + 4, b:b + 4] = 0.9
    return np.clip(images, -1, 1), labels


def test_a_network_trained_by_the_core_learns_its_classes_and_round_trips(tmp_path):
    images, labels = shapes(1200)
    test_images, test_labels = shapes(300, seed=1)
    with FeatureNetwork(image_size=16, classes=3, width=4, lr=3e-3, seed=2, threads=1) as net:
        assert net.feature_count == 16 and repr(net).endswith("features=16)")
        before = net.accuracy(test_images, test_labels)
        history = net.train(images, labels, epochs=3, batch_size=32, progress=False)
        after = net.accuracy(test_images, test_labels)
        assert history["loss"][-1] < history["loss"][0] and after >= 0.95 > before, (before, after, history)
        features = net.features(test_images)
        assert features.shape == (300, 16) and features.dtype == np.float32 and np.isfinite(features).all()
        net.save(str(tmp_path / "net.safetensors"), dataset="shapes", test_accuracy=after)
        again = FeatureNetwork.load(str(tmp_path / "net.safetensors"))
        np.testing.assert_array_equal(again.features(test_images), features)
        assert again.description["test_accuracy"] == after and again.description["features"] == 16
        again.close()
    with FeatureNetwork(image_size=16, classes=3, width=4, lr=3e-3, seed=2, threads=1) as twin:  # reproducible
        twin.train(images, labels, epochs=3, batch_size=32, progress=False)
        np.testing.assert_array_equal(twin.features(test_images), features)


def test_bad_inputs_and_damaged_files_are_refused(tmp_path):
    with FeatureNetwork(image_size=16, classes=3, width=2) as net:
        with pytest.raises(ValueError, match=r"images must have shape \[N, 1, 16, 16\], got \[4, 1, 8, 8\]"):
            net.features(np.zeros((4, 1, 8, 8), np.float32))
        with pytest.raises(ValueError, match=r"images must have shape \[N, 1, 16, 16\], got \[0, 1, 8, 8\]"):
            net.features(np.zeros((0, 1, 8, 8), np.float32))  # checked by the core with no images too
        assert net.features(np.zeros((0, 1, 16, 16), np.float32)).shape == (0, net.feature_count)  # none in, none out
        with pytest.raises(TypeError, match="images must have dtype float32, got float64"):
            net.train_step(np.zeros((4, 1, 16, 16)), np.zeros(4))
        with pytest.raises(ValueError, match=r"labels must be in \[0, 3\), got 7"):
            net.train_step(np.zeros((4, 1, 16, 16), np.float32), np.array([0, 1, 7, 2]))
        with pytest.raises(ValueError, match=r"labels must hold one label per image \(4\), got 3"):
            net.train_step(np.zeros((4, 1, 16, 16), np.float32), np.array([0, 1, 2]))
        net.save(str(tmp_path / "n.safetensors"))
    with pytest.raises(ValueError, match="width must be an integer in"):
        FeatureNetwork(width=0)
    with pytest.raises(ValueError, match="unknown feature network option|image_size must be an integer"):
        FeatureNetwork(image_size=4)
    with open(tmp_path / "n.safetensors", "r+b") as f:
        f.seek(200)
        f.write(b"\x01\x02")
    with pytest.raises(ValueError, match=r"n.safetensors: its SHA-256 \(\w+…\) is not the one .*n.safetensors.json records"):
        FeatureNetwork.load(str(tmp_path / "n.safetensors"))


def test_labelled_class_folders_split_into_train_and_test(tmp_path):
    from PIL import Image

    images, labels = shapes(60, size=16)
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = tmp_path / ["vertical", "horizontal", "square"][label]
        folder.mkdir(exist_ok=True)
        Image.fromarray(((image[0] + 1) * 127.5).astype(np.uint8)).save(folder / f"{i}.png")
    train = load_labelled_dataset(str(tmp_path), "train", image_size=16, channels=1)
    test = load_labelled_dataset(str(tmp_path), "test", image_size=16, channels=1)
    assert train[2] == test[2] == ["horizontal", "square", "vertical"]
    assert len(train[0]) + len(test[0]) == 60 and 3 <= len(test[0]) <= 9 and set(test[1]) == {0, 1, 2}


needs_fashion_mnist = pytest.mark.skipif(not os.path.isdir(FASHION_MNIST_DIR), reason="needs dataset-fashion-mnist")


@needs_fashion_mnist
def test_the_shipped_network_is_accurate_and_its_fid_tells_data_from_noise():
    info = json.load(open(DEFAULT + ".json"))
    assert info["test_accuracy"] >= 0.90 and info["command"].startswith("swiftgan features train --dataset fashion-mnist")
    assert os.path.getsize(DEFAULT) < 400_000
    test, test_labels, _ = load_labelled_dataset("fashion-mnist", "test", image_size=32, channels=1)
    train, _, _ = load_labelled_dataset("fashion-mnist", "train", image_size=32, channels=1)
    noise = np.random.default_rng(0).uniform(-1, 1, test.shape).astype(np.float32)
    with default_network() as net:
        assert net.accuracy(test, test_labels) == pytest.approx(info["test_accuracy"], abs=1e-9)
        test_features, train_features = net.features(test), net.features(train[:10_000])
        same, different = swiftgan.metrics.fid(test_features, train_features), swiftgan.metrics.fid(
            test_features, net.features(noise))
    assert same < different / 50, (same, different)


@needs_fashion_mnist
def test_gan_evaluate_reports_the_figures_and_how_they_were_measured():
    test, _, _ = load_labelled_dataset("fashion-mnist", "test", image_size=32, channels=1)
    with GAN(loss="RaSGAN", image_size=32, channels=1, z_dim=8, ngf=4, ndf=4, seed=1) as gan:
        result = gan.evaluate(test[:500], n=300, kid_subsets=10, kid_subset_size=100)
        again = gan.evaluate(test[:500], n=300, kid_subsets=10, kid_subset_size=100)
    assert result == again  # fixed latents and subsets: the same figures
    assert result["fid"] > 0 and 0 <= result["precision"] <= 1 and 0 <= result["recall"] <= 1
    measured = result["measured"]
    assert measured["network"] == os.path.basename(DEFAULT) and len(measured["network_sha256"]) == 64
    assert (measured["fake_samples"], measured["real_samples"], measured["kid_subset_size"]) == (300, 500, 100)
    with GAN(loss="RaSGAN", image_size=32, channels=3, z_dim=8, ngf=4, ndf=4) as colour:
        with pytest.raises(ValueError, match=r"the feature network takes images of shape \[1, 32, 32\], the GAN makes "
                                             r"\[3, 32, 32\]"):
            colour.evaluate(test[:10], n=10)


def test_features_train_from_the_command_line(tmp_path, capsys):
    from PIL import Image

    images, labels = shapes(90, size=16)
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = tmp_path / "data" / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(((image[0] + 1) * 127.5).astype(np.uint8)).save(folder / f"{i}.png")
    out = tmp_path / "net.safetensors"
    assert cli.main(["features", "train", "--dataset", str(tmp_path / "data"), "--out", str(out), "--image-size", "16",
                     "--width", "2", "--epochs", "1", "--batch-size", "16", "--threads", "1", "--no-progress"]) == 0
    assert "test accuracy" in capsys.readouterr().out
    info = json.load(open(str(out) + ".json"))
    assert info["classes"] == ["0", "1", "2"] and info["command"].startswith("swiftgan features train --dataset")
    assert cli.main(["features", "train", "--dataset", str(tmp_path / "none"), "--out", str(out)]) == 1
    assert capsys.readouterr().err == (f"swiftgan features: error: {out} exists: choose another name, or pass --force "
                                       "(force=True) to replace it\n")  # refused before any training
    assert cli.main(["features", "train", "--dataset", str(tmp_path / "none"), "--out", str(tmp_path / "b.safetensors")]) == 1
    assert "no such folder" in capsys.readouterr().err


@needs_fashion_mnist
def test_evaluate_writes_the_runs_metrics_json(tmp_path, capsys):
    data = tmp_path / "fm.npy"
    test, _, _ = load_labelled_dataset("fashion-mnist", "test", image_size=32, channels=1)
    np.save(data, test[:300])
    run = swiftgan.train(str(tmp_path / "run"), dataset=str(data), iters=3, ngf=4, ndf=4, z_dim=8, batch_size=16,
                         morph=False, tensorboard=False, progress=False)
    assert cli.main(["evaluate", run.path, "--n", "200", "--real-n", "150"]) == 0
    assert "FID " in capsys.readouterr().out
    result = json.load(open(os.path.join(run.path, "metrics.json")))
    assert result["measured"]["iteration"] == 3 and result["measured"]["real_samples"] == 150
    assert result["measured"]["fake_samples"] == 200 and result["fid"] > 0


@needs_fashion_mnist
def test_evaluate_all_checkpoints_measures_each_kept_one_and_plots_them(tmp_path, capsys):
    data = tmp_path / "fm.npy"
    test, _, _ = load_labelled_dataset("fashion-mnist", "test", image_size=32, channels=1)
    np.save(data, test[:300])
    options = dict(dataset=str(data), ngf=4, ndf=4, z_dim=8, batch_size=16, save_every=2, sample_every=2, morph=False,
                   tensorboard=False, progress=False)
    plain = swiftgan.train(str(tmp_path / "plain"), iters=4, **options)
    assert not os.path.exists(os.path.join(plain.path, "checkpoints")) and plain.kept_checkpoints == []
    assert cli.main(["evaluate", plain.path, "--checkpoints", "all"]) == 2
    assert "kept no checkpoints (only its last two): train with --keep-checkpoints" in capsys.readouterr().err

    run = swiftgan.train(str(tmp_path / "run"), iters=4, keep_checkpoints=True, **options)
    run = swiftgan.train(resume=run.path, iters=6, progress=False)  # resumed runs keep theirs too
    assert [it for it, _ in run.kept_checkpoints] == [2, 4, 6]
    with swiftgan.GAN.load(run.kept_checkpoints[0][1]) as early, run.gan() as last:
        assert early.iteration == 2 and last.iteration == 6
    assert os.stat(os.path.join(run.kept_checkpoints[-1][1], "weights.safetensors")).st_ino == \
        os.stat(os.path.join(run.checkpoint, "weights.safetensors")).st_ino  # hard links, not copies
    capsys.readouterr()
    assert cli.main(["evaluate", run.path, "--checkpoints", "all", "--n", "120", "--real-n", "100"]) == 0
    out = capsys.readouterr().out
    assert [line.split(" at iteration ")[1].split(":")[0] for line in out.splitlines() if " at iteration " in line] \
        == ["2", "4", "6"]
    result = json.load(open(os.path.join(run.path, "metrics.json")))
    assert [c["iteration"] for c in result["checkpoints"]] == [2, 4, 6]
    assert all(c["fid"] > 0 and 0 <= c["precision"] <= 1 for c in result["checkpoints"])
    assert result["measured"]["fake_samples"] == 120 and result["measured"]["real_samples"] == 100
    with open(os.path.join(run.path, "fid.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    last = dict(result["checkpoints"][-1])
    assert cli.main(["evaluate", run.path, "--n", "120", "--real-n", "100"]) == 0  # the last alone: the same figures
    alone = json.load(open(os.path.join(run.path, "metrics.json")))
    assert alone["fid"] == last["fid"] and alone["measured"]["iteration"] == 6


@needs_fashion_mnist
def test_train_with_eval_every_adds_fid_and_kid_and_trains_exactly_as_without(tmp_path):
    data = tmp_path / "fm.npy"
    test, _, _ = load_labelled_dataset("fashion-mnist", "test", image_size=32, channels=1)
    np.save(data, test[:400])
    options = dict(dataset=str(data), iters=6, ngf=4, ndf=4, z_dim=8, batch_size=16, sample_every=3, save_every=3,
                   morph=False, progress=False)
    plain = swiftgan.train(str(tmp_path / "plain"), **options)
    measured = swiftgan.train(str(tmp_path / "measured"), eval_every=3, eval_n=100, **options)
    fids = measured.metrics["fid"]
    assert np.isnan(fids[[0, 1, 3, 4]]).all() and np.isfinite(fids[[2, 5]]).all() and (fids[[2, 5]] > 0).all()
    assert np.isfinite(measured.metrics["kid"][[2, 5]]).all() and np.isnan(plain.metrics["fid"]).all()
    for column in ("d_loss", "g_loss"):  # evaluating touched neither the random stream nor the weights
        np.testing.assert_array_equal(plain.metrics[column], measured.metrics[column])
    from test_runs_and_cli import tensorboard_events

    tags = {tag for tag, _, _ in tensorboard_events(os.path.join(measured.path, "tensorboard"))}
    assert {"metrics/fid", "metrics/kid"} <= tags
    with pytest.raises(ValueError, match=r"eval_every must be an int ≥ 0 \(0: never\), got -1"):
        swiftgan.train(str(tmp_path / "bad"), eval_every=-1, **options)
