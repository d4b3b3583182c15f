"""FID's Inception-v3 in the core against pytorch-fid's own network (fixtures of reference/make_inception_fixture.py),
and the PyTorch weights files it is read from, as data."""
import json
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import swiftgan as sg
from swiftgan.features import InceptionNetwork, Reference, load_network, network_fit
from swiftgan.untrusted import read_torch_state_dict

from inception_weights import random_inception_state

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


@pytest.fixture(scope="module")
def fixture():
    with np.load(os.path.join(FIXTURES, "inception.npz")) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def inception(fixture):
    shapes = json.loads(fixture["shapes"].tobytes())
    with InceptionNetwork(threads=2) as net:
        net.load_state_dict(random_inception_state(shapes, int(fixture["seed"])))
        yield net


def test_the_network_names_and_shapes_its_tensors_as_pytorch_fid(fixture):
    shapes = json.loads(fixture["shapes"].tobytes())
    with InceptionNetwork() as net:
        ours = {name: list(value.shape) for name, value in net.state_dict().items()}
    assert ours == shapes
    assert sum(int(np.prod(s)) for s in shapes.values()) == 21_820_000


@pytest.mark.parametrize("batch", ["colour", "grey"])
def test_features_equal_pytorch_fids_network_on_the_same_weights(fixture, inception, batch):
    images = fixture[batch].astype(np.float32) / 127.5 - 1.0  # pytorch-fid was given (images + 1) / 2
    reference = fixture[batch + "_features"]
    ours = inception.features(images)
    assert ours.shape == reference.shape == (len(images), 2048)
    # float32 through 94 convolutions: measured at most 3.6e-7 of the largest feature (~50), on AVX-512, AVX2, SSE4.1
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=5e-5 * np.abs(reference).max())


def test_fid_equals_pytorch_fids_formula(fixture):
    ours = sg.metrics.fid(fixture["features_a"], fixture["features_b"])
    assert ours == pytest.approx(float(fixture["frechet_distance"]), rel=1e-6)


def test_images_of_any_size_and_1_or_3_channels_others_refused(inception):
    rng = np.random.default_rng(0)
    assert inception.features(rng.uniform(-1, 1, (2, 3, 17, 300)).astype(np.float32)).shape == (2, 2048)
    assert inception.features(np.zeros((0, 3, 64, 64), np.float32)).shape == (0, 2048)
    with pytest.raises(ValueError, match=r"images must have shape \[N, 1 or 3, H, W\], got \[2, 2, 8, 8\]"):
        inception.features(np.zeros((2, 2, 8, 8), np.float32))
    assert inception.takes((1, 28, 28)) and inception.takes((3, 64, 64)) and not inception.takes((4, 64, 64))


def test_it_is_not_trained_here():
    with InceptionNetwork() as net, pytest.raises(ValueError, match="Inception-v3 is not trained by SwiftGAN"):
        net._handle.features_train_step(np.zeros((2, 3, 8, 8), np.float32), np.zeros(2, np.int32))


@pytest.mark.parametrize("kind", ["zip", "legacy"])
def test_torch_state_dicts_of_both_formats_are_read_as_data(kind):
    state = read_torch_state_dict(os.path.join(FIXTURES, f"torch-state-dict-{kind}.pth"))
    with np.load(os.path.join(FIXTURES, "torch-state-dict.npz")) as expected:
        assert list(state) == list(expected.files)
        for name in expected.files:
            assert state[name].dtype == expected[name].dtype and np.array_equal(state[name], expected[name]), name


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"w": Evil()}, protocol=2))
    with pytest.raises(ValueError, match=r"evil.pth: not a pickle of plain data \(the name posix.system"):
        read_torch_state_dict(str(path))
    with pytest.raises(ValueError, match="not a pickle of plain data"):
        InceptionNetwork.load(str(path))
    assert not marker.exists()


def test_damaged_weights_files_are_refused(tmp_path):
    source = os.path.join(FIXTURES, "torch-state-dict-legacy.pth")
    data = open(source, "rb").read()
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(data[:-10])
    with pytest.raises(ValueError, match=r"truncated.pth: storage \d+ declares \d+ elements"):
        read_torch_state_dict(str(truncated))
    text = tmp_path / "text.pth"
    text.write_text("not weights")
    with pytest.raises(ValueError, match="text.pth: not a PyTorch file"):
        read_torch_state_dict(str(text))
    with pytest.raises(ValueError, match=r"torch-state-dict-zip.pth: not the weights of pytorch-fid's Inception-v3"):
        InceptionNetwork.load(os.path.join(FIXTURES, "torch-state-dict-zip.pth"))


def test_converted_weights_load_checked_and_measure_a_colour_gan(tmp_path, fixture, inception):
    path = str(tmp_path / "inception.safetensors")
    inception.save(path, converted_from="seeded random weights")
    with load_network(path, threads=2) as loaded:
        assert isinstance(loaded, InceptionNetwork)
        images = fixture["colour"].astype(np.float32) / 127.5 - 1.0
        assert np.array_equal(loaded.features(images), inception.features(images))
    assert network_fit(path, (3, 64, 64)) is None and network_fit(path, (1, 28, 28)) is None
    assert network_fit(path, (4, 64, 64)) == "inception.safetensors takes images of 1 or 3 channels, not 4×64×64"
    with sg.GAN(loss="RaSGAN", image_size=32, channels=3, ngf=4, ndf=4, seed=1) as gan:
        real = np.random.default_rng(1).uniform(-1, 1, (6, 3, 32, 32)).astype(np.float32)
        with Reference(real, 6, gan.sample_shape, path, seed=0) as reference:
            result = reference.evaluate(gan, n=6, kid_subset_size=3, kid_subsets=2)
    assert np.isfinite(result["fid"]) and result["measured"]["features"] == 2048
    assert result["measured"]["network"] == "inception.safetensors"
    assert result["measured"]["feature_layer"].startswith("Inception-v3 pool3")
    with open(path, "r+b") as f:  # a flipped byte: refused by its checksum
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 1]))
    with pytest.raises(ValueError, match="inception.safetensors: its SHA-256 .* is not the one"):
        load_network(path)


def test_convert_inception_command(tmp_path):
    out = tmp_path / "converted.safetensors"
    source = os.path.join(FIXTURES, "torch-state-dict-zip.pth")
    done = subprocess.run([sys.executable, "-m", "swiftgan", "features", "convert-inception", source, "--out", str(out)],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "not the weights of pytorch-fid's Inception-v3" in done.stderr
    assert not out.exists()
