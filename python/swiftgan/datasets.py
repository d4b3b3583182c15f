"""Datasets as float32 [N, C, H, W] in [-1, 1], and a seeded batch sampler.

`load_dataset(spec)` reads, by name or by path (the format is detected):
  - "fashion-mnist": the real Fashion-MNIST of Debian's dataset-fashion-mnist package;
  - MNIST-format IDX image files, gzipped or not (MNIST, Fashion-MNIST, KMNIST, EMNIST), or a folder of them;
  - the CIFAR-10 / CIFAR-100 python batches (a batch file, or the folder holding them);
  - folders of JPEG / PNG / BMP / WebP images, recursive, optionally only one class sub-folder;
  - .npy / .npz arrays ([N, H, W], [N, C, H, W] or [N, H, W, C]; uint8 in [0, 255] or floats in [-1, 1]).
Images are resized and centre-cropped to `image_size` and converted to `channels` (1 or 3) when asked.
"""
from __future__ import annotations

import gzip
import os
import pickle
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


# ---- IDX -------------------------------------------------------------------------

def load_idx_images(path: str) -> np.ndarray:
    """Reads an MNIST-format IDX image file (gzipped or not): uint8 [N, H, W] → float32 [N, 1, H, W] in [-1, 1].

    Raises:
        FileNotFoundError: when `path` does not exist.
        ValueError: when the file is not an IDX file of unsigned bytes with 3 dimensions, or is truncated.
    """
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 16 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    if data[2] != 0x08 or data[3] != 3:
        raise ValueError(f"{path}: expected 3-D unsigned-byte IDX images, got type 0x{data[2]:02x} with {data[3]} dims")
    n, h, w = (int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(3))
    if len(data) - 16 < n * h * w:
        raise ValueError(f"{path}: truncated: header says {n}×{h}×{w} bytes, file holds {len(data) - 16}")
    pixels = np.frombuffer(data, dtype=np.uint8, count=n * h * w, offset=16).reshape(n, 1, h, w)
    return pixels.astype(np.float32) / 127.5 - 1.0


def fashion_mnist(split: str = "train") -> np.ndarray:
    """The real Fashion-MNIST from Debian's dataset-fashion-mnist package (`split` "train" or "test")."""
    name = {"train": "train-images-idx3-ubyte.gz", "test": "t10k-images-idx3-ubyte.gz"}[split]
    path = os.path.join(FASHION_MNIST_DIR, name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: install Debian's package with "
                                "`apt-get install dataset-fashion-mnist`")
    return load_idx_images(path)


def _is_idx_images(name: str) -> bool:
    return "idx3-ubyte" in name


# ---- CIFAR -----------------------------------------------------------------------

def _is_cifar_batch(name: str) -> bool:
    return name.startswith("data_batch_") or name in ("test_batch", "train", "test")


def load_cifar_batch(path: str) -> np.ndarray:
    """One CIFAR-10 or CIFAR-100 python batch (a pickled dict with b"data" [N, 3072] uint8) →
    float32 [N, 3, 32, 32] in [-1, 1]."""
    with open(path, "rb") as f:
        try:
            batch = pickle.load(f, encoding="bytes")
        except Exception as error:  # pickle raises many kinds on foreign files
            raise ValueError(f"{path}: not a CIFAR python batch ({error.__class__.__name__}: {error})") from None
    data = batch.get(b"data") if isinstance(batch, dict) else None
    if data is None:
        data = batch.get("data") if isinstance(batch, dict) else None
    if data is None or np.asarray(data).ndim != 2 or np.asarray(data).shape[1] != 3072:
        raise ValueError(f"{path}: not a CIFAR python batch (expected a dict with 'data' of shape [N, 3072])")
    return np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32).astype(np.float32) / 127.5 - 1.0


def _load_cifar_folder(folder: str, names: Sequence[str]) -> np.ndarray:
    train = [n for n in names if n.startswith("data_batch_") or n == "train"]
    chosen = sorted(train) if train else sorted(names)
    return np.concatenate([load_cifar_batch(os.path.join(folder, n)) for n in chosen])


# ---- arrays ----------------------------------------------------------------------

def load_array(path: str) -> np.ndarray:
    """A .npy file, or the first (or only) array of a .npz, as float32 [N, C, H, W] in [-1, 1]: uint8
    arrays are scaled from [0, 255]; [N, H, W] gets one channel; [N, H, W, C] (C ≤ 4) is made channels-first."""
    loaded = np.load(path, allow_pickle=False)
    if isinstance(loaded, np.lib.npyio.NpzFile):
        keys = list(loaded.keys())
        if not keys:
            raise ValueError(f"{path}: the .npz holds no array")
        array = loaded["images"] if "images" in keys else loaded[keys[0]]
    else:
        array = loaded
    array = np.asarray(array)
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4:
        raise ValueError(f"{path}: expected images of shape [N, H, W], [N, C, H, W] or [N, H, W, C], got {list(array.shape)}")
    if array.shape[1] not in (1, 3, 4) and array.shape[3] in (1, 3, 4):
        array = array.transpose(0, 3, 1, 2)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 127.5 - 1.0
    array = array.astype(np.float32)
    if array.size and (array.min() < -1.0001 or array.max() > 1.0001):
        raise ValueError(f"{path}: float images must lie in [-1, 1], got values in [{array.min()}, {array.max()}]")
    return array


# ---- image folders ------------------------------------------------------------------

def find_images(root: str, class_name: Optional[str] = None) -> List[str]:
    """Image files (JPEG, PNG, BMP, WebP) below `root`, recursively and sorted; with `class_name`, only
    those below the sub-folder of that name (`--class Benign` for `root/Benign/...`)."""
    if class_name is not None:
        classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
        if class_name not in classes:
            raise ValueError(f"{root}: no class sub-folder {class_name!r}; classes: {', '.join(classes) or 'none'}")
        root = os.path.join(root, class_name)
    found = []
    for folder, _, files in os.walk(root):
        found += [os.path.join(folder, f) for f in files if f.lower().endswith(IMAGE_EXTENSIONS)]
    return sorted(found)


def load_image_folder(root: str, image_size: int, channels: int = 3, class_name: Optional[str] = None,
                      report=None) -> np.ndarray:
    """Every image below `root` resized (shorter side) and centre-cropped to `image_size`, as 1 or 3
    channels. Unreadable or corrupt files are reported (`report(path, reason)`, default: a line on
    stderr) and skipped.

    Raises:
        ValueError: when no usable image is found.
    """
    from PIL import Image

    report = report or (lambda path, reason: print(f"swiftgan: skipping {path}: {reason}", file=sys.stderr))
    paths = find_images(root, class_name)
    images = []
    for path in paths:
        try:
            with Image.open(path) as image:
                image.load()
                images.append(_to_array(image, image_size, channels))
        except Exception as error:  # Pillow raises OSError, SyntaxError, ValueError, ... on bad files
            report(path, f"{error.__class__.__name__}: {error}")
    if not images:
        where = root + (f" (class {class_name!r})" if class_name else "")
        raise ValueError(f"{where}: no usable image among {len(paths)} image files "
                         f"({', '.join(IMAGE_EXTENSIONS)})")
    return np.stack(images)


def _to_array(image, size: int, channels: int) -> np.ndarray:
    """A PIL image → float32 [C, size, size] in [-1, 1]: shorter side resized to `size` (bilinear), centre crop."""
    from PIL import Image

    image = image.convert("L" if channels == 1 else "RGB")
    w, h = image.size
    scale = size / min(w, h)
    image = image.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BILINEAR)
    w, h = image.size
    left, top = (w - size) // 2, (h - size) // 2
    pixels = np.asarray(image.crop((left, top, left + size, top + size)), dtype=np.float32)
    pixels = pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)
    return pixels / 127.5 - 1.0


# ---- conversion --------------------------------------------------------------------

def convert(images: np.ndarray, image_size: Optional[int] = None, channels: Optional[int] = None) -> np.ndarray:
    """Images [N, C, H, W] in [-1, 1] resized to `image_size` (shorter side, then centre crop; bilinear,
    antialiased when shrinking, as Pillow's BILINEAR) and converted to `channels`: 1 → 3 repeats the grey
    channel, 3 → 1 takes the luminance (ITU-R 601)."""
    if channels is not None and channels != images.shape[1]:
        if channels == 3 and images.shape[1] == 1:
            images = np.repeat(images, 3, axis=1)
        elif channels == 1 and images.shape[1] in (3, 4):
            images = (0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2])[:, None].astype(np.float32)
        else:
            raise ValueError(f"cannot convert {images.shape[1]} channels to {channels}")
    h, w = images.shape[2:]
    if image_size is not None and (h, w) != (image_size, image_size):
        scale = image_size / min(h, w)
        rows = _resize_matrix(h, max(image_size, round(h * scale)))  # [H', H]
        columns = _resize_matrix(w, max(image_size, round(w * scale)))  # [W', W]
        top, left = (rows.shape[0] - image_size) // 2, (columns.shape[0] - image_size) // 2
        rows, columns = rows[top:top + image_size], columns[left:left + image_size]
        resized = np.empty(images.shape[:2] + (image_size, image_size), dtype=np.float32)
        for start in range(0, len(images), 4096):  # bounded memory for large datasets
            resized[start:start + 4096] = np.einsum("oh,nchw,pw->ncop", rows, images[start:start + 4096], columns,
                                                    optimize=True)
        images = np.clip(resized, -1, 1)
    return images


def _resize_matrix(size_in: int, size_out: int) -> np.ndarray:
    """The [size_out, size_in] weights of Pillow's BILINEAR resampling along one axis: a triangle filter on
    pixel centres, widened by the shrink factor when shrinking (antialiasing), each row normalised."""
    scale = size_in / size_out
    support = max(scale, 1.0)
    centres = (np.arange(size_out) + 0.5) * scale  # in input pixel units
    distance = np.abs((np.arange(size_in) + 0.5)[None, :] - centres[:, None]) / support
    weights = np.clip(1.0 - distance, 0.0, None)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


# ---- the entry point -------------------------------------------------------------------

def load_dataset(spec: str, image_size: Optional[int] = None, channels: Optional[int] = None,
                 class_name: Optional[str] = None) -> np.ndarray:
    """A dataset by name ("fashion-mnist") or path, format detected, as float32 [N, C, H, W] in [-1, 1],
    converted to `image_size` and `channels` when given.

    Raises:
        FileNotFoundError: for a path that does not exist.
        ValueError: for a file or folder in no known format, or with no usable image.
    """
    if spec.lower() in ("fashion-mnist", "fashion_mnist", "fashionmnist"):
        return convert(fashion_mnist("train"), image_size, channels)
    if not os.path.exists(spec):
        raise FileNotFoundError(f"dataset {spec!r}: no such file or folder, and not a known name (fashion-mnist)")
    if os.path.isfile(spec):
        name = os.path.basename(spec)
        if name.endswith((".npy", ".npz")):
            images = load_array(spec)
        elif _is_idx_images(name):
            images = load_idx_images(spec)
        elif _is_cifar_batch(name):
            images = load_cifar_batch(spec)
        elif name.lower().endswith(IMAGE_EXTENSIONS):
            from PIL import Image

            with Image.open(spec) as image:  # just this image, not its folder
                image.load()
                return _to_array(image, image_size or 64, channels or 3)[None]
        else:
            raise ValueError(f"{spec}: unknown dataset format (expected IDX, a CIFAR batch, .npy/.npz or an image)")
        return convert(images, image_size, channels)
    names = sorted(os.listdir(spec))
    if class_name is None and any(_is_idx_images(n) for n in names):
        train = [n for n in names if _is_idx_images(n) and n.startswith("train")]
        chosen = train or [n for n in names if _is_idx_images(n)]
        return convert(np.concatenate([load_idx_images(os.path.join(spec, n)) for n in chosen]), image_size, channels)
    if class_name is None and any(_is_cifar_batch(n) for n in names):
        return convert(_load_cifar_folder(spec, [n for n in names if _is_cifar_batch(n)]), image_size, channels)
    return load_image_folder(spec, image_size or 64, channels or 3, class_name)


# ---- labelled datasets (for feature networks) ------------------------------------------

def load_idx_labels(path: str) -> np.ndarray:
    """An MNIST-format IDX label file (gzipped or not): int64 [N]."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 8 or data[:4] != b"\x00\x00\x08\x01":
        raise ValueError(f"{path}: not an IDX label file (1-D unsigned bytes)")
    n = int.from_bytes(data[4:8], "big")
    if len(data) - 8 < n:
        raise ValueError(f"{path}: truncated: header says {n} labels, file holds {len(data) - 8}")
    return np.frombuffer(data, dtype=np.uint8, count=n, offset=8).astype(np.int64)


def _idx_pairs(folder: str, split: str) -> List[Tuple[str, str]]:
    """(images, labels) IDX files of `split` ("train": train-*, "test": t10k-* or test-*) in `folder`."""
    names = sorted(os.listdir(folder))
    prefixes = ("train",) if split == "train" else ("t10k", "test")
    pairs = []
    for name in names:
        if _is_idx_images(name) and name.startswith(prefixes):
            labels = name.replace("images-idx3", "labels-idx1")
            if labels not in names:
                raise FileNotFoundError(f"{folder}: {name} has no labels file {labels}")
            pairs.append((os.path.join(folder, name), os.path.join(folder, labels)))
    return pairs


def load_labelled_dataset(spec: str, split: str = "train", image_size: Optional[int] = None,
                          channels: Optional[int] = None, holdout: float = 0.1) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """Labelled images (images float32 [N, C, H, W] in [-1, 1], labels int64 [N], class names) of `split`
    ("train" or "test"): "fashion-mnist" or a folder of IDX files with their label files (train-*/t10k-*), CIFAR-10/100
    python batches (data_batch_*/test_batch, or train/test), or image files in one sub-folder per class (the test
    split is a seeded `holdout` share of each class, the train split the rest).

    Raises:
        FileNotFoundError: for a missing dataset or labels file.
        ValueError: for a split other than train/test, or a dataset without labels.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if spec.lower() in ("fashion-mnist", "fashion_mnist", "fashionmnist"):
        spec = FASHION_MNIST_DIR
        if not os.path.isdir(spec):
            raise FileNotFoundError(f"{spec} not found: install Debian's package with "
                                    "`apt-get install dataset-fashion-mnist`")
    if not os.path.isdir(spec):
        raise FileNotFoundError(f"labelled dataset {spec!r}: no such folder, and not a known name (fashion-mnist)")
    names = sorted(os.listdir(spec))
    if any(_is_idx_images(n) for n in names):
        pairs = _idx_pairs(spec, split)
        if not pairs:
            raise ValueError(f"{spec}: no {split} IDX images")
        images = np.concatenate([load_idx_images(i) for i, _ in pairs])
        labels = np.concatenate([load_idx_labels(l) for _, l in pairs])
        if len(images) != len(labels):
            raise ValueError(f"{spec}: {len(images)} images but {len(labels)} labels")
        return convert(images, image_size, channels), labels, [str(c) for c in range(int(labels.max()) + 1)]
    if any(_is_cifar_batch(n) for n in names):
        chosen = [n for n in names if (n.startswith("data_batch_") or n == "train") == (split == "train")
                  and _is_cifar_batch(n)]
        images, labels = [], []
        for name in chosen:
            images.append(load_cifar_batch(os.path.join(spec, name)))
            with open(os.path.join(spec, name), "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            found = next((batch[k] for k in (b"labels", b"fine_labels", "labels", "fine_labels") if k in batch), None)
            if found is None:
                raise ValueError(f"{spec}/{name}: a CIFAR batch without labels")
            labels.append(np.asarray(found, np.int64))
        labels_all = np.concatenate(labels)
        return convert(np.concatenate(images), image_size, channels), labels_all, [
            str(c) for c in range(int(labels_all.max()) + 1)]
    classes = [d for d in names if os.path.isdir(os.path.join(spec, d))]
    if len(classes) < 2:
        raise ValueError(f"{spec}: no labels: expected IDX label files, CIFAR batches or one sub-folder per class")
    images, labels = [], []
    for index, name in enumerate(classes):
        found = load_image_folder(spec, image_size or 64, channels or 3, class_name=name)
        held = np.random.default_rng(index).permutation(len(found)) < max(1, int(round(holdout * len(found))))
        keep = held if split == "test" else ~held
        images.append(found[keep])
        labels.append(np.full(int(keep.sum()), index, np.int64))
    return np.concatenate(images), np.concatenate(labels), classes


# ---- sampling ------------------------------------------------------------------------

class BatchSampler:
    """Draws batches of a dataset with a seeded generator: each epoch is a fresh permutation, and the
    sampler's state (`state_dict`) restores the exact stream of batches."""

    def __init__(self, images: np.ndarray, batch_size: int, seed: int = 0):
        if batch_size < 1 or batch_size > len(images):
            raise ValueError(f"batch_size must be in [1, {len(images)}] for a dataset of {len(images)}, got {batch_size}")
        self.images, self.batch_size = images, batch_size
        self._rng = np.random.default_rng(seed)
        self._new_epoch()

    def _new_epoch(self) -> None:
        self._epoch_start = self._rng.bit_generator.state  # regenerates this epoch's permutation
        self._order = self._rng.permutation(len(self.images))
        self._position = 0

    def next(self) -> np.ndarray:
        """The next batch, float32 [batch_size, C, H, W] (contiguous)."""
        if self._position + self.batch_size > len(self._order):
            self._new_epoch()
        picks = self._order[self._position:self._position + self.batch_size]
        self._position += self.batch_size
        return np.ascontiguousarray(self.images[np.sort(picks)])

    def state_dict(self) -> Dict[str, object]:
        """JSON-able state: the generator's state at the start of the current epoch and the position in it."""
        return {"epoch_start": self._epoch_start, "position": self._position, "dataset_size": len(self.images)}

    def load_state_dict(self, state: Dict[str, object]) -> None:
        """Restores a state from `state_dict` of a sampler over a dataset of the same size.

        Raises:
            ValueError: when the dataset's size differs from the one the state was taken on.
        """
        if int(state["dataset_size"]) != len(self.images):
            raise ValueError(f"sampler state is for a dataset of {state['dataset_size']} images, this one has "
                             f"{len(self.images)}")
        self._rng.bit_generator.state = state["epoch_start"]
        self._new_epoch()
        self._position = int(state["position"])
