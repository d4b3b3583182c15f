"""Feature networks, whose features are the space the sample-quality metrics (`swiftgan.metrics`) are measured in:
FID's Inception-v3 (`InceptionNetwork`), from the weights file of pytorch-fid the user has (nothing is downloaded),
for images of any size; and small CNN classifiers trained by SwiftGAN's core (`swiftgan features train`), of which
the Fashion-MNIST one is shipped (`default_network()`). `load_network(path)` opens either, told by the file's content.

A network file is a safetensors file of the weights and a JSON description beside it (`<file>.json`): format,
configuration, feature width, the dataset and split it was trained on, its test accuracy, the command that made
it, and the SHA-256 of the weights file, which `FeatureNetwork.load` verifies. Every figure measured with a network
carries its name and checksum, so that two figures are only compared when they were measured the same way.
"""
from __future__ import annotations

import json
import os
from collections import OrderedDict
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from . import _native
from .checkpoint import sha256_of_file as _sha256
from .engine import Engine, float32_array, serialised

FORMAT = "swiftgan-features-1"
DEFAULT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "fashion-mnist-features.safetensors")


class FeatureNetwork(Engine):
    """Conv3×3(channels, w) BN ReLU, then three Conv3×3 stride 2 (to 2w, 4w, 4w) with BN ReLU; the features are
    the spatial mean of the last ([N, 4w]); a Linear head gives the class logits. Trained with Adam by the core.
    Images are float32 [N, channels, image_size, image_size] in [-1, 1]."""

    _what = "feature network"

    def __init__(self, channels: int = 1, image_size: int = 32, classes: int = 10, width: int = 16,
                 lr: float = 1e-3, seed: int = 1, threads: Optional[int] = None):
        options = {"channels": channels, "image_size": image_size, "classes": classes, "width": width, "lr": lr,
                   "seed": seed}
        for name, value in options.items():
            kinds = (int, float, np.integer, np.floating) if name == "lr" else (int, np.integer)
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise TypeError(f"{name} must be an {'number' if name == 'lr' else 'int'}, got {type(value).__name__}")
        super().__init__(_native.create_features("\n".join(f"{k}={v!r}" for k, v in options.items())))
        config = self._config_lines()  # the core's option table checked every value
        self.channels, self.image_size = int(config["channels"]), int(config["image_size"])
        self.classes, self.width, self.feature_count = int(config["classes"]), int(config["width"]), int(config["features"])
        self.lr, self.seed = float(config["lr"]), int(config["seed"])
        self.description: Dict[str, object] = {}  # of the file it was loaded from
        if threads is not None:
            self.threads = threads

    @property
    def config(self) -> Dict[str, object]:
        return {"channels": self.channels, "image_size": self.image_size, "classes": self.classes,
                "width": self.width, "lr": self.lr, "seed": self.seed}

    def __repr__(self) -> str:
        return (f"FeatureNetwork(channels={self.channels}, image_size={self.image_size}, classes={self.classes}, "
                f"width={self.width}, features={self.feature_count})")

    def _refuse_copy(self, *_):
        raise TypeError(f"cannot copy or pickle {self!r}: it holds a handle to the Swift core; "
                        "save it (net.save(path)) and load the file (FeatureNetwork.load(path)) instead")

    __copy__ = __deepcopy__ = __reduce__ = __reduce_ex__ = _refuse_copy

    def _images(self, images: np.ndarray) -> np.ndarray:
        return float32_array(images, "images")  # the core checks the shape

    def takes(self, shape: Sequence[int]) -> bool:
        """Whether images of `shape` [C, H, W] can be measured: the network's own image shape only."""
        return tuple(shape) == (self.channels, self.image_size, self.image_size)

    def train_step(self, images: np.ndarray, labels: np.ndarray) -> Tuple[float, float]:
        """One Adam step on a labelled batch; returns its mean cross-entropy and accuracy (before the step)."""
        labels = np.ascontiguousarray(np.asarray(labels), dtype=np.int32)
        with self._lock:
            return self._handle.features_train_step(self._images(images), labels)

    def train(self, images: np.ndarray, labels: np.ndarray, epochs: int = 5, batch_size: int = 128, seed: int = 0,
              progress: bool = True) -> Dict[str, list]:
        """`epochs` passes over (images, labels) in seeded random batches; returns the per-epoch mean loss and
        accuracy."""
        try:
            from tqdm.auto import tqdm  # the progress bar, when the lab's libraries are installed
        except ImportError:
            progress, tqdm = False, None

        labels = np.asarray(labels)
        if len(labels) != len(images):
            raise ValueError(f"labels must hold one label per image ({len(images)}), got {len(labels)}")
        rng = np.random.default_rng(seed)
        history: Dict[str, list] = {"loss": [], "accuracy": []}
        steps = len(images) // batch_size
        with (tqdm(total=epochs * steps, disable=not progress, unit="step", desc="features") if tqdm else _NoBar()) as bar:
            for _ in range(epochs):
                order = rng.permutation(len(images))
                losses, right = [], []
                for i in range(steps):
                    picks = np.sort(order[i * batch_size:(i + 1) * batch_size])
                    loss, accuracy = self.train_step(np.ascontiguousarray(images[picks]), labels[picks])
                    losses.append(loss)
                    right.append(accuracy)
                    bar.update(1)
                    if i % 50 == 0:
                        bar.set_postfix(loss=f"{loss:.3f}", accuracy=f"{accuracy:.3f}", refresh=False)
                history["loss"].append(float(np.mean(losses)))
                history["accuracy"].append(float(np.mean(right)))
        return history

    def _evaluate(self, images: np.ndarray, logits: bool, batch: int = 1024) -> np.ndarray:
        images = self._images(images)
        width = self.classes if logits else self.feature_count
        rows = images.shape[0] if images.ndim else 0
        out = np.empty((rows, width), np.float32)
        with self._lock:
            for start in range(0, rows, batch) if rows else [0]:  # no images: one call, whose shape the core checks
                part = images[start:start + batch] if images.ndim else images
                self._handle.features_evaluate(part, logits, out[start:start + batch])
        return out

    def features(self, images: np.ndarray) -> np.ndarray:
        """The features float32 [N, feature_count] of images, in evaluation mode."""
        return self._evaluate(images, logits=False)

    def logits(self, images: np.ndarray) -> np.ndarray:
        """The class logits float32 [N, classes] of images, in evaluation mode."""
        return self._evaluate(images, logits=True)

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        """The share of images whose largest logit is their label."""
        return float((self.logits(images).argmax(axis=1) == np.asarray(labels)).mean())

    @serialised
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        return self._tensors(range(self._model_count))

    @serialised
    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Overwrites every tensor from `state` (all checked first: a failed load changes nothing)."""
        self._write(state, range(self._model_count), strict=True)

    def save(self, path: str, **description) -> str:
        """Writes the weights to `path` (safetensors) and the description to `path`.json (with `description`'s
        entries: dataset, accuracy, command, ...); returns `path`."""
        self.description = _save_files(path, self.state_dict(), {
            "format": FORMAT, "config": self.config, "features": self.feature_count,
            "feature_layer": "spatial mean of the last convolution block", **description})
        return path

    @classmethod
    def load(cls, path: str, threads: Optional[int] = None) -> "FeatureNetwork":
        """The network saved at `path` (with `path`.json), its weights verified against the recorded SHA-256.

        Raises:
            FileNotFoundError: when either file is missing.
            ValueError: for another format, or weights whose checksum differs (damaged or replaced).
        """
        info, state = _load_files(path, FORMAT)
        config = info.get("config")
        keys = ("channels", "image_size", "classes", "width", "lr", "seed")
        if not isinstance(config, dict) or not set(config) <= set(keys) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in config.values()):
            raise ValueError(f"{path}.json: config must map {', '.join(keys)} to numbers, got {config!r}")
        try:
            net = cls(**config, threads=threads)
        except TypeError as error:
            raise ValueError(f"{path}.json: {error}") from None
        try:
            net.load_state_dict(state)
        except (KeyError, ValueError, TypeError) as error:
            net.close()
            raise ValueError(f"{path}: the weights do not fit the network {path}.json describes: {error}") from None
        net.description = {**info, "path": path}
        return net


INCEPTION_LAYER = "Inception-v3 pool3, 2048 features (pytorch-fid's FID Inception)"
INCEPTION_FORMAT = "swiftgan-inception-1"


class InceptionNetwork(Engine):
    """FID's Inception-v3, as pytorch-fid's `InceptionV3([3])` (the FID Inception of TensorFlow's graph, up to the
    2048 pool features), computed by the core. Images are float32 [N, 1 or 3, H, W] in [-1, 1], of any size: they
    are resized to 299×299 (bilinear, align_corners=False, as pytorch-fid; 1 channel repeated to 3), which is
    pytorch-fid's input in [0, 1] after its `2x - 1`. Built with zero weights: `load` reads pytorch-fid's
    `pt_inception-2015-12-05-*.pth` (or `load_state_dict` takes them by name)."""

    _what = "Inception network"
    feature_count = 2048

    def __init__(self, threads: Optional[int] = None):
        super().__init__(_native.create_features("network=inception-v3"))
        self.description: Dict[str, object] = {"feature_layer": INCEPTION_LAYER}
        if threads is not None:
            self.threads = threads

    def __repr__(self) -> str:
        return f"InceptionNetwork({os.path.basename(str(self.description.get('path', 'no weights loaded')))})"

    def _refuse_copy(self, *_):
        raise TypeError(f"cannot copy or pickle {self!r}: it holds a handle to the Swift core; load the weights file "
                        "again (InceptionNetwork.load(path)) instead")

    __copy__ = __deepcopy__ = __reduce__ = __reduce_ex__ = _refuse_copy

    def takes(self, shape: Sequence[int]) -> bool:
        """Whether images of `shape` [C, H, W] can be measured: 1 or 3 channels, any size."""
        return len(shape) == 3 and shape[0] in (1, 3)

    def features(self, images: np.ndarray, batch: int = 256) -> np.ndarray:
        """The 2048 pool features float32 [N, 2048] of images [N, 1 or 3, H, W] in [-1, 1]."""
        images = float32_array(images, "images")
        rows = images.shape[0] if images.ndim else 0
        out = np.empty((rows, self.feature_count), np.float32)
        with self._lock:
            for start in range(0, rows, batch) if rows else [0]:
                part = images[start:start + batch] if images.ndim else images
                self._handle.features_evaluate(part, False, out[start:start + batch])
        return out

    @serialised
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        return self._tensors(range(self._model_count))

    @serialised
    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Overwrites every tensor from `state`, named as pytorch-fid's network names them (its classifier `fc.*`
        and the batch norms' `num_batches_tracked` are not used and are left out); all checked first."""
        used = {k: v for k, v in state.items() if not k.startswith("fc.") and not k.endswith(".num_batches_tracked")}
        self._write(used, range(self._model_count), strict=True)

    def save(self, path: str, **description) -> str:
        """Writes the weights to `path` (safetensors) and their description to `path`.json (`description`'s
        entries, e.g. the file they were converted from); returns `path`."""
        self.description = _save_files(path, self.state_dict(), {
            "format": INCEPTION_FORMAT, "features": self.feature_count, "feature_layer": INCEPTION_LAYER,
            **description})
        return path

    @classmethod
    def load(cls, path: str, threads: Optional[int] = None) -> "InceptionNetwork":
        """The network with the weights of `path`: pytorch-fid's file (`pt_inception-2015-12-05-6726825d.pth`, as
        pytorch-fid downloads it into ~/.cache/torch/hub/checkpoints/), read as data (no code of the file runs),
        or the safetensors file `save` (`swiftgan features convert-inception`) wrote, its checksum verified.

        Raises:
            FileNotFoundError: for a missing file.
            ValueError: for a file that is neither, or not the weights of this network.
        """
        from .untrusted import read_torch_state_dict

        if is_torch_file(path):
            state, info = read_torch_state_dict(path), {"weights_sha256": _sha256(path)}
        else:
            info, state = _load_files(path, INCEPTION_FORMAT)
        net = cls(threads=threads)
        try:
            net.load_state_dict(state)
        except (KeyError, ValueError, TypeError) as error:
            net.close()
            raise ValueError(f"{path}: not the weights of pytorch-fid's Inception-v3: {error}") from None
        net.description = {**info, "path": path, "feature_layer": INCEPTION_LAYER}
        return net


def is_torch_file(path: str) -> bool:
    """Whether `path` holds a file `torch.save` writes (a zip archive, or a legacy pickle), told by its first bytes."""
    from .untrusted import read_regular

    head = read_regular(path, 4)
    return head == b"PK\x03\x04" or head[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


def load_network(path: str, threads: Optional[int] = None):
    """The feature network of the file `path`: Inception-v3 from pytorch-fid's weights file or from its conversion
    (`swiftgan features convert-inception`), else a network SwiftGAN trained (safetensors with its .json)."""
    if is_torch_file(path) or _description(path).get("format") == INCEPTION_FORMAT:
        return InceptionNetwork.load(path, threads=threads)
    return FeatureNetwork.load(path, threads=threads)


def _save_files(path: str, state: Mapping[str, np.ndarray], info: Dict[str, object]) -> Dict[str, object]:
    """Writes `state` to `path` (safetensors) and `info` with the weights' SHA-256 to `path`.json, each atomically;
    returns what was written to the .json."""
    from safetensors.numpy import save_file

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_file(dict(state), path + ".partial", metadata={"format": str(info["format"])})
    os.replace(path + ".partial", path)
    info = {**info, "weights_sha256": _sha256(path)}
    with open(path + ".json.partial", "w") as f:
        json.dump(info, f, indent=2)
    os.replace(path + ".json.partial", path + ".json")
    return info


def _description(path: str) -> Dict[str, object]:
    """`path`.json, the description of a network file (read as JSON, at most 1 MB)."""
    from .untrusted import read_regular

    try:
        info = json.loads(read_regular(path + ".json", 1 << 20))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}.json: not JSON ({error})") from None
    if not isinstance(info, dict):
        raise ValueError(f"{path}.json: unsupported feature network format {type(info).__name__!r}")
    return info


def _load_files(path: str, expected: str) -> "tuple[Dict[str, object], Dict[str, np.ndarray]]":
    """The description and the weights of a network file of format `expected`, the weights verified against the
    SHA-256 the description records."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    from .untrusted import read_regular

    info = _description(path)
    if info.get("format") != expected:
        raise ValueError(f"{path}.json: unsupported feature network format {info.get('format')!r}, expected "
                         f"{expected!r}")
    weights = read_regular(path)
    import hashlib  # here, not at import (see checkpoint.sha256_of_file)

    digest = hashlib.sha256(weights).hexdigest()
    if digest != info.get("weights_sha256"):
        raise ValueError(f"{path}: its SHA-256 ({digest[:12]}…) is not the one {path}.json records "
                         f"({str(info.get('weights_sha256'))[:12]}…): the weights are damaged or were replaced")
    try:
        return info, load(weights)
    except SafetensorError as error:
        raise ValueError(f"{path}: not a safetensors file ({error})") from None


class _NoBar:
    """What `train` updates when tqdm is not installed."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def update(self, n: int) -> None:
        pass

    def set_postfix(self, **values) -> None:
        pass


def default_network(threads: Optional[int] = None) -> FeatureNetwork:
    """The Fashion-MNIST feature network shipped in the package (1 channel, 32×32; its description gives its test
    accuracy and the command that rebuilt it)."""
    if not os.path.exists(DEFAULT):
        raise FileNotFoundError(f"{DEFAULT} is missing from this installation: train one with "
                                "`swiftgan features train --dataset fashion-mnist --out FILE`")
    return FeatureNetwork.load(DEFAULT, threads=threads)


def network_fit(network: Optional[str], image_shape: Sequence[int]) -> Optional[str]:
    """None when the feature network `network` (a file, or None for the shipped one) takes images of `image_shape`
    [C, S, S]; else why it does not.

    Raises:
        FileNotFoundError, ValueError: for a network file that is missing or not a feature network."""
    with (load_network(network, threads=1) if network else default_network(threads=1)) as net:
        if net.takes(image_shape):
            return None
        expected = ("1 or 3 channels" if isinstance(net, InceptionNetwork) else
                    "×".join(map(str, (net.channels, net.image_size, net.image_size))))
    name = os.path.basename(network) if network else "the shipped feature network (Fashion-MNIST)"
    return f"{name} takes images of {expected}, not {'×'.join(map(str, image_shape))}"


def draw_latents(rng: np.random.Generator, shape: Tuple[int, ...], latent: str = "normal") -> np.ndarray:
    """Latents float32 of `shape` (z last) from a GAN's latent distribution, "normal" or "uniform" on [-1, 1], drawn
    with `rng`: the one rule for latents drawn outside the core (fixed grids, evaluations, `compare`'s inputs)."""
    if latent == "uniform":
        return rng.uniform(-1, 1, shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def real_subset(count: int, n: int, seed: int) -> np.ndarray:
    """The indices, ascending, of a seeded subset of at most `n` of `count` images (all of them when n ≥ count)."""
    return np.sort(np.random.default_rng(seed).permutation(count)[:n])


class Reference:
    """What sample quality is measured against: a feature network (a file, an open `FeatureNetwork`, or None for
    the shipped one) and the features of a seeded subset of at most `n` of `images`, checked to be of the shape
    `sample_shape` the network takes. Used as a context manager (it closes a network it opened). Images are read
    and measured `chunk` at a time (bounded memory for 50,000 images of 299×299 in Inception), and `progress(k)` is
    called after each chunk of k images, real or generated, when given.

    Raises:
        ValueError: when the network takes images of another shape than `sample_shape` (`remedy` says what to do).
    """

    def __init__(self, images: np.ndarray, n: int, sample_shape: Tuple[int, ...], network=None, seed: int = 0,
                 threads: Optional[int] = None, real_name: str = "given",
                 remedy: str = "train a network for this data (swiftgan features train) and pass it",
                 progress: Optional[Callable[[int], None]] = None, chunk: int = 500, communicator=None):
        self.communicator = communicator if communicator is not None and communicator.size > 1 else None
        self.owned = not isinstance(network, (FeatureNetwork, InceptionNetwork))
        self.network = network if not self.owned else (
            load_network(network, threads=threads) if network else default_network(threads))
        for what, shape in (("the GAN makes", tuple(sample_shape)), ("the real images are", tuple(images.shape[1:]))):
            if not self.network.takes(shape):
                expected = ("1 or 3 channels" if isinstance(self.network, InceptionNetwork) else
                            f"shape {[self.network.channels, self.network.image_size, self.network.image_size]}")
                self.close()
                raise ValueError(f"the feature network takes images of {expected}, {what} {list(shape)}: {remedy}")
        self.seed, self.real_name, self.progress, self.chunk = seed, real_name, progress, chunk
        picks = real_subset(len(images), n, seed)
        self.real = self._features(len(picks), lambda start, stop: images[picks[start:stop]])

    def _features(self, count: int, take: Callable[[int, int], np.ndarray]) -> np.ndarray:
        """The features of `count` images, `take(start, stop)` giving each chunk. With a `communicator` of several
        ranks (a training over MPI), each rank measures its share of the images, in rank order, and every rank
        receives them all (`allgather_rows`): every rank must call this with the same count."""
        first, last = 0, count
        if self.communicator is not None:
            shares = np.array_split(np.arange(count), self.communicator.size)
            mine = shares[self.communicator.rank]
            first, last = (int(mine[0]), int(mine[-1]) + 1) if len(mine) else (0, 0)
        parts = []
        for start in range(first, last, self.chunk):
            parts.append(self.network.features(np.ascontiguousarray(take(start, min(start + self.chunk, last)),
                                                                    dtype=np.float32)))
            if self.progress is not None:
                self.progress(len(parts[-1]))
        features = np.concatenate(parts) if parts else np.zeros((0, self.network.feature_count), np.float32)
        if self.communicator is not None:
            features = self.communicator.allgather_rows(features, [len(share) for share in shares])
        return features

    def fake_features(self, samples=None, gan=None, latents: Optional[np.ndarray] = None) -> np.ndarray:
        """The features of `samples`, or of `gan`'s samples of `latents`, a chunk at a time."""
        if gan is not None:
            return self._features(len(latents), lambda start, stop: gan.generate(latents[start:stop]))
        return self._features(len(samples), lambda start, stop: samples[start:stop])

    def measured(self, fake_samples: int, **more: object) -> Dict[str, object]:
        """How a figure against this reference was measured: the network's file, SHA-256, feature layer and
        width, the sample counts, the real set and its subset's seed (and `more`)."""
        description = self.network.description
        return {"network": os.path.basename(description.get("path", DEFAULT if self.owned else "given")),
                "network_sha256": description.get("weights_sha256"),
                "feature_layer": description.get("feature_layer", "spatial mean of the last convolution block"),
                "features": self.network.feature_count, "fake_samples": int(fake_samples),
                "real_samples": len(self.real), "real": self.real_name, "seed": self.seed, **more}

    def evaluate(self, gan, n: int = 10_000, seed: int = 0, kid_subsets: int = 100, kid_subset_size: int = 1000,
                 k: int = 3) -> Dict[str, object]:
        """FID, KID (mean, std), precision and recall of `n` samples of `gan` from `gan.latents(n, seed)` (the GAN's
        own random stream untouched), with "measured"."""
        from .metrics import all_metrics

        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
            raise ValueError(f"n must be an int of at least 2, got {n!r}")
        fake = self.fake_features(gan=gan, latents=gan.latents(int(n), seed=seed))
        figures = all_metrics(self.real, fake, kid_subsets, kid_subset_size, k, seed)
        return {**figures, "measured": self.measured(
            n, seed=seed, kid_subsets=kid_subsets, kid_subset_size=min(kid_subset_size, int(n), len(self.real)), k=k)}

    def close(self) -> None:
        if self.owned and self.network is not None:
            self.network.close()
        self.network = None

    def __enter__(self) -> "Reference":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def evaluate(gan, real: np.ndarray, n: int = 10_000, network: Optional[FeatureNetwork] = None, seed: int = 0,
             kid_subsets: int = 100, kid_subset_size: int = 1000, k: int = 3,
             real_name: str = "given") -> Dict[str, object]:
    """FID, KID (mean, std), precision and recall of `n` samples of `gan` (from `gan.latents(n, seed)`, so the
    GAN's own random stream is untouched) against the images `real`, in the features of `network` (default: the
    shipped Fashion-MNIST network). The result also says how the figures were measured: the network's file and
    SHA-256, its feature layer, the sample counts, the real set's name and the seed."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an int of at least 2, got {n!r}")
    with Reference(real, len(real), gan.sample_shape, network, seed, real_name=real_name) as reference:
        return reference.evaluate(gan, n, seed, kid_subsets, kid_subset_size, k)
