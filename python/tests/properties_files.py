"""Property test of every reader of untrusted files (run in a child process by test_properties.py, under an
address-space limit, so that a crash, a hang or an allocation the limit refuses is reported rather than ending
the session): hypothesis draws file contents — random bytes, and valid files of each format truncated, with bytes
changed, or with a size field set to an adversarial value — and conversion options from their documented ranges.

Every read either returns images (float32, [N, C, H, W], in [-1, 1]) or raises ValueError or MemoryError (or
FileNotFoundError, when a file the format needs is missing); nothing runs, nothing blocks. Prints the number of
reads tried."""
import gzip
import hashlib
import io
import json
import os
import pickle
import resource
import shutil
import signal
import tempfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import swiftgan
from swiftgan.datasets import load_labelled_dataset
from swiftgan.features import FeatureNetwork
from swiftgan.run import read_config

READS = {"tried": 0, "refused": 0}
FOLDER = tempfile.mkdtemp(prefix="swiftgan-files-")
MARKER = os.path.join(FOLDER, "ran")


def _limit_memory(on: bool) -> None:
    """During a read, an address-space limit 1.5 GB above what the process maps: a reader that allocated what a
    header declares instead of what the file holds fails there. Lifted after each read, so that hypothesis and
    pytest can always report."""
    if not on:
        resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        return
    with open("/proc/self/status") as f:
        mapped = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (mapped + (3 << 29), resource.RLIM_INFINITY))


class _RunsCode:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


def _idx(n=3, h=5, w=4):
    return bytes([0, 0, 8, 3]) + b"".join(v.to_bytes(4, "big") for v in (n, h, w)) + \
        np.random.default_rng(0).integers(0, 256, n * h * w, dtype=np.uint8).tobytes()


def _gzip(data):
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as f:
        f.write(data)
    return out.getvalue()


def _cifar(protocol):
    data = np.random.default_rng(1).integers(0, 256, (3, 3072), dtype=np.uint8)
    return pickle.dumps({b"data": data, b"labels": [0, 1, 2], b"batch_label": b"b"}, protocol=protocol)


def _npy(array):
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def _npz(array):
    out = io.BytesIO()
    np.savez_compressed(out, images=array)
    return out.getvalue()


def _image(kind):
    out = io.BytesIO()
    Image.new("RGB", (9, 7), (10, 200, 30)).save(out, kind)
    return out.getvalue()


# (file name, valid content): a name alone never decides the format, so names and contents are also mixed
VALID = [
    ("train-images-idx3-ubyte", _idx()), ("train-images-idx3-ubyte.gz", _gzip(_idx())),
    ("data_batch_1", _cifar(2)), ("test_batch", _cifar(4)), ("train", _cifar(5)),
    ("x.npy", _npy(np.zeros((2, 1, 6, 6), np.uint8))), ("x.npy", _npy(np.zeros((2, 6, 6, 3), np.float32))),
    ("x.npz", _npz(np.zeros((2, 6, 6), np.uint8))),
    ("x.png", _image("PNG")), ("x.jpg", _image("JPEG")), ("x.bmp", _image("BMP")), ("x.webp", _image("WEBP")),
    ("data_batch_2", pickle.dumps({b"data": _RunsCode()}, protocol=2)),
]
ADVERSARIAL = [b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x00", b"\xff" * 8, b"\x80\x00\x00\x00"]


@st.composite
def contents(draw):
    name, data = draw(st.sampled_from(VALID))
    how = draw(st.sampled_from(["random", "truncate", "change", "size field", "as is", "other name"]))
    data = bytearray(data)
    if how == "random":
        data = bytearray(draw(st.binary(max_size=4096)))
    elif how == "truncate":
        data = data[:draw(st.integers(0, max(0, len(data) - 1)))]
    elif how == "change":
        for _ in range(draw(st.integers(1, 8))):
            if data:
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    elif how == "size field":
        if len(data) > 8:
            at = draw(st.integers(0, min(len(data), 64) - 4))
            data[at:at + 4] = draw(st.sampled_from(ADVERSARIAL))
    elif how == "other name":
        name = draw(st.sampled_from([n for n, _ in VALID]))
    return name, bytes(data)


def _check_images(images):
    assert isinstance(images, np.ndarray) and images.dtype == np.float32 and images.ndim == 4, images
    assert np.isfinite(images).all() and images.min() >= -1.0001 and images.max() <= 1.0001


def _read(call):
    READS["tried"] += 1
    signal.alarm(30)  # a read that blocks fails the test
    _limit_memory(True)
    try:
        return call()
    except (ValueError, MemoryError, FileNotFoundError) as error:  # FileNotFoundError: a labels file missing
        READS["refused"] += 1
        assert str(error), f"{type(error).__name__} without a message"
        return None
    finally:
        _limit_memory(False)
        signal.alarm(0)
        assert not os.path.exists(MARKER), "a file ran code"


@settings(max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(file=contents(), image_size=st.sampled_from([None, 1, 7, 28, 32, 4096]),
       channels=st.sampled_from([None, 1, 3]), as_folder=st.booleans())
def test_every_dataset_reader_returns_images_or_refuses(file, image_size, channels, as_folder):
    name, data = file
    where = tempfile.mkdtemp(dir=FOLDER)
    try:
        with open(os.path.join(where, name), "wb") as f:
            f.write(data)
        target = where if as_folder else os.path.join(where, name)
        images = _read(lambda: swiftgan.load_dataset(target, image_size=image_size, channels=channels))
        if images is not None:
            _check_images(images)
        if as_folder:
            labelled = _read(lambda: load_labelled_dataset(where, "train"))
            if labelled is not None:
                _check_images(labelled[0])
    finally:
        shutil.rmtree(where)


def _checkpoint():
    folder = os.path.join(FOLDER, "checkpoint-base")
    if not os.path.isdir(folder):
        with swiftgan.GAN(image_size=32, channels=1, ngf=2, ndf=2, z_dim=2) as gan:
            gan.save(folder)
    return folder


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(which=st.sampled_from(["weights.safetensors", "optimizer.safetensors", "trainer.json"]),
       file=contents(), recompute_checksums=st.booleans(), json_value=st.recursive(
           st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8),
       json_key=st.sampled_from(["config", "scalars", "format", "iteration", "extra", None]))
def test_a_damaged_or_forged_checkpoint_loads_or_is_refused(which, file, recompute_checksums, json_value, json_key):
    """Files replaced by random or damaged content, or trainer.json with a field forged, the checksums recomputed
    (as a forger would) or not."""
    where = tempfile.mkdtemp(dir=FOLDER)
    try:
        folder = os.path.join(where, "ckpt")
        shutil.copytree(_checkpoint(), folder)
        path = os.path.join(folder, which)
        if which == "trainer.json" and json_key is not None:
            with open(path) as f:
                state = json.load(f)
            state[json_key] = json_value
            data = json.dumps(state).encode()
        else:
            data = file[1]
        with open(path, "wb") as f:
            f.write(data)
        if recompute_checksums:
            with open(os.path.join(folder, "checksums.sha256"), "w") as f:
                for name in ("weights.safetensors", "optimizer.safetensors", "trainer.json"):
                    with open(os.path.join(folder, name), "rb") as g:
                        f.write(f"{hashlib.sha256(g.read()).hexdigest()}  {name}\n")
        gan = _read(lambda: swiftgan.GAN.load(folder))
        if gan is not None:
            gan.close()
    finally:
        shutil.rmtree(where)


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(text=st.text(max_size=300) | st.sampled_from([
    "!!python/object/apply:os.system ['touch " + MARKER + "']\n", "a: &a [*a]\n", "loss: [1, 2]\n",
    "iters: 1e400\n", "tensorboard: maybe\n", "dataset: {a: b}\n"]))
def test_a_config_file_reads_as_options_or_is_refused(text):
    path = os.path.join(FOLDER, "config.yaml")
    with open(path, "w") as f:
        f.write(text)
    _read(lambda: read_config(path))


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(file=contents(), info=st.dictionaries(st.sampled_from(["format", "config", "weights_sha256"]),
                                             st.none() | st.integers() | st.text(max_size=8) |
                                             st.dictionaries(st.text(max_size=8), st.integers(-5, 5), max_size=4)),
       replace_weights=st.booleans())
def test_a_feature_network_file_loads_or_is_refused(file, info, replace_weights):
    where = tempfile.mkdtemp(dir=FOLDER)
    try:
        path = os.path.join(where, "net.safetensors")
        with FeatureNetwork(channels=1, image_size=8, classes=3, width=2) as net:
            net.save(path)
        if replace_weights:
            with open(path, "wb") as f:
                f.write(file[1])
        else:
            with open(path + ".json") as f:
                recorded = json.load(f)
            with open(path + ".json", "w") as f:
                json.dump({**recorded, **info}, f)
        net = _read(lambda: FeatureNetwork.load(path))
        if net is not None:
            net.close()
    finally:
        shutil.rmtree(where)


def test_report():
    shutil.rmtree(FOLDER, ignore_errors=True)
    print(f"\ncalls tried: {READS['tried']} ({READS['refused']} refused)")
    assert READS["tried"] >= 1000

