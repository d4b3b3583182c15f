"""Datasets as float32 [N, C, H, W] in [-1, 1], and a seeded batch sampler.

`load_dataset(spec)` reads, by name or by path, the format detected from the content (a name alone decides
nothing):
  - "fashion-mnist": the real Fashion-MNIST of Debian's dataset-fashion-mnist package;
  - MNIST-format IDX image files, gzipped or not (MNIST, Fashion-MNIST, KMNIST, EMNIST), or a folder of them;
  - the CIFAR-10 / CIFAR-100 python batches (a batch file, or the folder holding them), read by a reader of plain
    data (`untrusted.read_pickled_data`), never by Python's unpickler;
  - folders of JPEG / PNG / BMP / WebP images, recursive, optionally only one class sub-folder;
  - .npy / .npz arrays ([N, H, W], [N, C, H, W] or [N, H, W, C]; uint8 in [0, 255] or floats in [-1, 1]).
Images are resized and centre-cropped to `image_size` and converted to `channels` (1 or 3) when asked.
Only regular files are read, each no further than its header declares and its size holds, and a dataset whose
images would not fit in the memory left is refused (`MemoryError`) before it is read.
"""
from __future__ import annotations

import collections
import concurrent.futures
import io
import os
import stat
import struct
import sys
import time
import zipfile
import zlib
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .untrusted import (DEFLATE_MAX_RATIO, check_memory, is_gzip, open_regular, read_gzip, read_pickled_data,
                        read_regular)

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
MAX_IMAGE_PIXELS = 1 << 26  # 67 M pixels (8192 × 8192): larger images are skipped before they are decoded
IMAGE_SIZES = (1, 4096)  # the image_size a dataset can be converted to
CHANNELS = (1, 3)


def check_conversion(image_size: Optional[int], channels: Optional[int]) -> None:
    """Validates the conversion options before anything is read.

    Raises:
        TypeError: for a non-integer (or a boolean).
        ValueError: for an image_size outside [1, 4096] or channels other than 1 or 3.
    """
    for name, value in (("image_size", image_size), ("channels", channels)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
            raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if image_size is not None and not IMAGE_SIZES[0] <= image_size <= IMAGE_SIZES[1]:
        raise ValueError(f"image_size must be in [{IMAGE_SIZES[0]}, {IMAGE_SIZES[1]}], got {image_size}")
    if channels is not None and channels not in CHANNELS:
        raise ValueError(f"channels must be 1 or 3, got {channels}")


def check_dataset_memory(what: str, count: int, shape: Sequence[int], image_size: Optional[int],
                         channels: Optional[int], stored_bytes: int = 1) -> None:
    """Refuses, before reading, `count` images of `shape` [C, H, W] (stored in `stored_bytes` per value) whose
    reading and conversion to `image_size` and `channels` would not fit in memory: the stored values, their float32
    copy and the converted float32 images are held at once at the peak."""
    c, h, w = shape
    native = count * c * h * w
    converted = count * (channels or c) * (image_size or h) * (image_size or w)
    check_memory(native * stored_bytes + 4 * native + 4 * converted, f"{what}: {count:,} images of {c}×{h}×{w}"
                 + (f" converted to {channels or c}×{image_size or h}×{image_size or w}" if converted != native else ""),
                 "choose a smaller image_size, fewer channels, or a subset of the data")


# ---- IDX -------------------------------------------------------------------------

def _idx_header(header: bytes, path: str, dims: int) -> Tuple[int, ...]:
    if len(header) < 4 + 4 * dims or header[0] != 0 or header[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    if header[2] != 0x08 or header[3] != dims:
        raise ValueError(f"{path}: expected {dims}-D unsigned-byte IDX {'images' if dims == 3 else 'labels'}, got type 0x{header[2]:02x} with "
                         f"{header[3]} dims")
    return tuple(int.from_bytes(header[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))


def _read_idx(path: str, dims: int, plan=None) -> Tuple[Tuple[int, ...], bytes]:
    """An IDX file of `dims` dimensions (gzipped or not, told by its content): its sizes and its bytes, read only
    after the header's size is checked against what the file can hold and against `plan(sizes)`."""
    header_size = 4 + 4 * dims

    def body_size(header: bytes) -> int:
        sizes = _idx_header(header, path, dims)
        if plan is not None:
            plan(sizes)
        return int(np.prod(sizes, dtype=object))

    if is_gzip(path):
        header, body = read_gzip(path, header_size, body_size)
        return _idx_header(header, path, dims), body
    with open_regular(path) as f:
        held = os.fstat(f.fileno()).st_size - header_size
        header = f.read(header_size)
        wanted = body_size(header)
        if wanted > held:
            sizes = "×".join(str(s) for s in _idx_header(header, path, dims))
            raise ValueError(f"{path}: truncated: header says {sizes} bytes, file holds {max(held, 0):,}")
        return _idx_header(header, path, dims), f.read(wanted)


def load_idx_images(path: str, image_size: Optional[int] = None, channels: Optional[int] = None) -> np.ndarray:
    """Reads an MNIST-format IDX image file (gzipped or not): uint8 [N, H, W] → float32 [N, 1, H, W] in [-1, 1].
    `image_size` and `channels`, when given, are the conversion planned after: they only size the memory check.

    Raises:
        FileNotFoundError: when `path` does not exist.
        ValueError: when the file is not an IDX file of unsigned bytes with 3 dimensions, is truncated, or is
            not a regular file.
        MemoryError: when the images would not fit in memory (checked from the header, before reading).
    """
    plan = lambda sizes: check_dataset_memory(path, sizes[0], (1, sizes[1], sizes[2]), image_size, channels)
    (n, h, w), body = _read_idx(path, 3, plan)
    pixels = np.frombuffer(body, dtype=np.uint8).reshape(n, 1, h, w)
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


# ---- what a file holds, from its first bytes ---------------------------------------------------

def sniff(path: str) -> Optional[str]:
    """The format of the regular file `path` told by its first bytes: "idx", "pickle", "npy", "npz", "image"
    or None. A name is never enough: `data_batch_1` holding text is None, not a CIFAR batch."""
    head = read_regular(path, 16)
    if head[:2] == b"\x1f\x8b":
        try:
            head = read_gzip(path, 4, lambda header: 0)[0]
        except ValueError:
            return None
        return "idx" if head[:3] == b"\x00\x00\x08" else None
    if head[:3] == b"\x00\x00\x08":
        return "idx"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"
    if head[:6] == b"\x93NUMPY":
        return "npy"
    if head[:4] == b"PK\x03\x04":
        return "npz"
    if head[:8] == b"\x89PNG\r\n\x1a\n" or head[:3] == b"\xff\xd8\xff" or head[:2] == b"BM" or (
            head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    return None


def _is_regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


# ---- CIFAR -----------------------------------------------------------------------

CIFAR_TRAIN = ("data_batch_", "train")  # the names of training batches; the others are test batches


def _is_cifar_name(name: str) -> bool:
    return name.startswith("data_batch_") or name in ("test_batch", "train", "test")


def _cifar_files(folder: str, names: Sequence[str]) -> List[str]:
    """The CIFAR batches of `folder`: files named as the CIFAR-10/100 python batches are named that hold a pickle."""
    return [n for n in names if _is_cifar_name(n) and _is_regular(os.path.join(folder, n))
            and sniff(os.path.join(folder, n)) == "pickle"]


def read_cifar_batch(path: str, image_size: Optional[int] = None,
                     channels: Optional[int] = None) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """One CIFAR-10 or CIFAR-100 python batch: its images uint8 [N, 3, 32, 32] and its labels int64 [N] (the
    fine labels of CIFAR-100; None when the batch has none), read as plain data (no code runs, whatever the file).

    Raises:
        ValueError: when the file is not a pickle of plain data holding a dict with 'data' of shape [N, 3072]
            uint8 (and labels, when present, of N integers).
        MemoryError: when the images would not fit in memory (checked from the file's size, before reading).
    """
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        check_dataset_memory(path, size // 3072, (3, 32, 32), image_size, channels)
        batch = read_pickled_data(f.read(size), path)
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: not a CIFAR python batch (expected a dict, got {type(batch).__name__})")
    data = next((batch[k] for k in (b"data", "data") if k in batch), None)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{path}: not a CIFAR python batch (expected a dict with 'data' of shape [N, 3072] uint8)")
    labels = next((batch[k] for k in (b"labels", b"fine_labels", "labels", "fine_labels") if k in batch), None)
    if labels is not None:
        labels = np.asarray(labels) if isinstance(labels, (list, tuple, np.ndarray)) else None
        if labels is None or labels.shape != (len(data),) or labels.dtype.kind not in "iu":
            raise ValueError(f"{path}: a CIFAR batch whose labels are not {len(data)} integers")
        labels = labels.astype(np.int64)
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar_batch(path: str, image_size: Optional[int] = None, channels: Optional[int] = None) -> np.ndarray:
    """One CIFAR-10 or CIFAR-100 python batch → float32 [N, 3, 32, 32] in [-1, 1] (see `read_cifar_batch`)."""
    return read_cifar_batch(path, image_size, channels)[0].astype(np.float32) / 127.5 - 1.0


# ---- arrays ----------------------------------------------------------------------

def _npy_header(f, path: str) -> Tuple[Tuple[int, ...], bool, np.dtype, int]:
    """The shape, order (Fortran or not), dtype and data size declared by a .npy header read from `f`."""
    try:
        version = np.lib.format.read_magic(f)
    except Exception as error:  # a short file, a damaged stream
        raise ValueError(f"{path}: not a .npy array ({error.__class__.__name__}: {error})") from None
    if version not in ((1, 0), (2, 0), (3, 0)):  # another version's header length would be read as any size
        raise ValueError(f"{path}: a .npy file of format version {version[0]}.{version[1]}: versions 1.0 to 3.0 are read")
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    try:
        shape, fortran, dtype = read_header(f, max_header_size=10000)
    except ValueError as error:
        raise ValueError(f"{path}: not a .npy array (ValueError: {error})") from None
    except MemoryError as error:
        raise MemoryError(f"{path}: the .npy header could not be read: out of memory ({error})") from None
    except Exception as error:  # NumPy parses the header with ast.literal_eval: SyntaxError, tokenize's errors, ...
        raise ValueError(f"{path}: not a .npy array ({error.__class__.__name__}: {error})") from None
    if dtype.hasobject:
        raise ValueError(f"{path}: an array of Python objects: only arrays of numbers are read")
    return shape, fortran, dtype, int(np.prod(shape, dtype=object)) * dtype.itemsize


def load_array(path: str, image_size: Optional[int] = None, channels: Optional[int] = None) -> np.ndarray:
    """A .npy file, or the array named "images" (else the first) of a .npz, as float32 [N, C, H, W] in [-1, 1]:
    uint8 arrays are scaled from [0, 255]; [N, H, W] gets one channel; [N, H, W, C] (C ≤ 4) is made
    channels-first. The header is checked against the file's size (and a .npz member's against its compressed
    size) and against the memory left before the data is read; arrays of objects are refused."""
    kind = sniff(path)
    with open_regular(path) as f:
        if kind == "npy":
            shape, fortran, dtype, size = _npy_header(f, path)
            held = os.fstat(f.fileno()).st_size - f.tell()
            if size > held:
                raise ValueError(f"{path}: truncated: header says {size:,} bytes, file holds {held:,}")
            _check_array_memory(path, shape, dtype, image_size, channels)
            array = np.frombuffer(f.read(size), dtype=dtype).reshape(shape, order="F" if fortran else "C")
        elif kind == "npz":
            array = _load_npz_member(f, path, image_size, channels)
        else:
            raise ValueError(f"{path}: not a .npy or .npz array")
    return _as_images(np.asarray(array), path)


def _load_npz_member(f, path: str, image_size, channels) -> np.ndarray:
    try:
        archive = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, OSError, EOFError, struct.error, NotImplementedError) as error:  # bad records
        raise ValueError(f"{path}: not a .npz archive ({error.__class__.__name__}: {error})") from None
    with archive:
        members = [i for i in archive.infolist() if i.filename.endswith(".npy")]
        if not members:
            raise ValueError(f"{path}: the .npz holds no array")
        member = next((i for i in members if i.filename == "images.npy"), members[0])
        if member.flag_bits & 0x1:  # zipfile would ask for a password (RuntimeError)
            raise ValueError(f"{path}: {member.filename} is encrypted; SwiftGAN reads unencrypted .npz archives")
        if member.compress_type != zipfile.ZIP_STORED and member.file_size > DEFLATE_MAX_RATIO * member.compress_size:
            raise ValueError(f"{path}: {member.filename} declares {member.file_size:,} bytes, more than "
                             f"{member.compress_size:,} compressed bytes can hold")
        try:
            with archive.open(member) as stream:
                shape, fortran, dtype, size = _npy_header(stream, f"{path}:{member.filename}")
                if size > member.file_size:
                    raise ValueError(f"{path}: {member.filename} truncated: header says {size:,} bytes, the "
                                     f"member holds {member.file_size:,}")
                _check_array_memory(path, shape, dtype, image_size, channels)
                data = stream.read(size)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError, struct.error) as error:
            raise ValueError(f"{path}: damaged .npz ({error.__class__.__name__}: {error})") from None
        if len(data) != size:
            raise ValueError(f"{path}: {member.filename} truncated")
        return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _check_array_memory(path: str, shape, dtype: np.dtype, image_size, channels) -> None:
    if len(shape) in (3, 4) and shape[0] > 0:
        c = 1 if len(shape) == 3 else (shape[1] if shape[1] in (1, 3, 4) else shape[3])
        h, w = (shape[1:3] if len(shape) == 3 else shape[2:4] if shape[1] in (1, 3, 4) else shape[1:3])
        check_dataset_memory(path, shape[0], (c, h, w), image_size, channels, stored_bytes=dtype.itemsize)


def _as_images(array: np.ndarray, path: str) -> np.ndarray:
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4:
        raise ValueError(f"{path}: expected images of shape [N, H, W], [N, C, H, W] or [N, H, W, C], got {list(array.shape)}")
    if array.shape[1] not in (1, 3, 4) and array.shape[3] in (1, 3, 4):
        array = array.transpose(0, 3, 1, 2)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 127.5 - 1.0
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{path}: expected an array of numbers, got {array.dtype}")
    array = array.astype(np.float32)
    if array.size and not np.isfinite(array).all():
        raise ValueError(f"{path}: the images hold NaN or infinite values")
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
    return sorted(p for p in found if _is_regular(p))  # a FIFO or device named x.png is never opened


def load_image_folder(root: str, image_size: int, channels: int = 3, class_name: Optional[str] = None,
                      report=None) -> np.ndarray:
    """Every image below `root` resized (shorter side) and centre-cropped to `image_size`, as 1 or 3
    channels. Unreadable, corrupt, non-regular or too large (over `MAX_IMAGE_PIXELS`) files are reported
    (`report(path, reason)`, default: a line on stderr) and skipped.

    Raises:
        ValueError: when no usable image is found.
        MemoryError: when the converted images would not fit in memory (checked before any is decoded).
    """
    report = report or (lambda path, reason: print(f"swiftgan: skipping {path}: {reason}", file=sys.stderr))
    paths = find_images(root, class_name)
    check_memory(2 * 4 * len(paths) * channels * image_size * image_size,
                 f"{root}: {len(paths):,} images converted to {channels}×{image_size}×{image_size}",
                 "choose a smaller image_size, fewer channels, or a subset of the data")
    images = []
    for path in paths:
        try:
            images.append(read_image(path, image_size, channels))
        except Exception as error:  # Pillow raises OSError, SyntaxError, ValueError, ... on bad files
            report(path, f"{error.__class__.__name__}: {error}")
    if not images:
        where = root + (f" (class {class_name!r})" if class_name else "")
        raise ValueError(f"{where}: no usable image among {len(paths)} image files "
                         f"({', '.join(IMAGE_EXTENSIONS)})")
    return np.stack(images)


def read_image(path: str, image_size: int, channels: int) -> np.ndarray:
    """One image file (a regular file of at most `MAX_IMAGE_PIXELS` pixels, checked before decoding) as
    float32 [channels, image_size, image_size] in [-1, 1]."""
    return read_image_uint8(path, image_size, channels).astype(np.float32) / 127.5 - 1.0


def read_image_uint8(path: str, image_size: int, channels: int) -> np.ndarray:
    """One image file as uint8 [channels, image_size, image_size]: decoded (a regular file of at most
    `MAX_IMAGE_PIXELS` pixels, checked before decoding), its shorter side resized to `image_size` (bilinear),
    centre-cropped, converted to 1 (luminance) or 3 channels."""
    from PIL import Image

    # Pillow reads a chunk by the length its header declares (a PNG chunk of 0xFFFFFFFF asks for 4 GB): it reads
    # from the file's bytes in memory instead, where a read never returns, nor allocates, more than the file holds
    with Image.open(io.BytesIO(read_regular(path))) as image:
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise ValueError(f"{width}×{height} pixels, more than the {MAX_IMAGE_PIXELS:,} an image may have")
        image.load()
        image = image.convert("L" if channels == 1 else "RGB")
        w, h = image.size
        scale = image_size / min(w, h)
        image = image.resize((max(image_size, round(w * scale)), max(image_size, round(h * scale))), Image.BILINEAR)
        w, h = image.size
        left, top = (w - image_size) // 2, (h - image_size) // 2
        pixels = np.asarray(image.crop((left, top, left + image_size, top + image_size)), dtype=np.uint8)
        return np.ascontiguousarray(pixels[None] if channels == 1 else pixels.transpose(2, 0, 1))


# ---- conversion --------------------------------------------------------------------

def convert(images: np.ndarray, image_size: Optional[int] = None, channels: Optional[int] = None) -> np.ndarray:
    """Images [N, C, H, W] in [-1, 1] resized to `image_size` (shorter side, then centre crop; bilinear,
    antialiased when shrinking, as Pillow's BILINEAR) and converted to `channels`: 1 → 3 repeats the grey
    channel, 3 → 1 takes the luminance (ITU-R 601).

    Raises:
        ValueError: for no images, or images with a side of 0 pixels.
    """
    if images.ndim != 4 or 0 in images.shape:
        raise ValueError(f"no images to convert: the dataset holds {list(images.shape)} values (N, C, H, W)")
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
        for start in range(0, len(images), 1024):  # bounded memory for large datasets
            chunk = images[start:start + 1024].astype(np.float64)
            resized[start:start + 1024] = _weighted_taps(_weighted_taps(chunk, rows, axis=2), columns, axis=3)
        images = np.clip(resized, -1, 1)
    return images


def _weighted_taps(x: np.ndarray, weights: np.ndarray, axis: int) -> np.ndarray:
    """`x` (float64) resampled along `axis` by `weights` [O, I]: output o = Σ_i weights[o, i]·x_i, summed in input
    order i = 0, 1, … with element-wise float64 operations. Not a matrix product: BLAS sums in an order that
    depends on the thread count and the processor, and a value at a rounding boundary would then become another
    8-bit pixel in the image cache on another machine or with another thread count (a run resumed there would
    find its dataset "changed")."""
    out_shape = list(x.shape)
    out_shape[axis] = weights.shape[0]
    out = np.zeros(out_shape, dtype=np.float64)
    for i in range(weights.shape[1]):
        reached = np.flatnonzero(weights[:, i])  # the outputs input i reaches: a run of the triangle filter
        if reached.size == 0:
            continue
        lo, hi = int(reached[0]), int(reached[-1]) + 1
        shape = [1] * x.ndim
        shape[axis] = hi - lo
        window = [slice(None)] * x.ndim
        window[axis] = slice(lo, hi)
        out[tuple(window)] += weights[lo:hi, i].reshape(shape) * np.expand_dims(np.take(x, i, axis=axis), axis)
    return out


def _resize_matrix(size_in: int, size_out: int) -> np.ndarray:
    """The [size_out, size_in] weights of Pillow's BILINEAR resampling along one axis: a triangle filter on
    pixel centres, widened by the shrink factor when shrinking (antialiasing), each row normalised."""
    scale = size_in / size_out
    support = max(scale, 1.0)
    centres = (np.arange(size_out) + 0.5) * scale  # in input pixel units
    distance = np.abs((np.arange(size_in) + 0.5)[None, :] - centres[:, None]) / support
    weights = np.clip(1.0 - distance, 0.0, None)
    return weights / weights.sum(axis=1, keepdims=True)


# ---- the entry point -------------------------------------------------------------------

FASHION_MNIST_NAMES = ("fashion-mnist", "fashion_mnist", "fashionmnist")
# Datasets SwiftGAN knows by name but does not have (nothing is downloaded): the folder to give instead.
ELSEWHERE = {"mnist": "MNIST", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "kmnist": "KMNIST", "emnist": "EMNIST",
             "celeba": "CelebA", "lsun": "LSUN", "svhn": "SVHN", "stl10": "STL-10"}
# The folders torchvision downloads into below its root (`root=./data`): the files of the dataset.
TORCHVISION_LAYOUTS = ("FashionMNIST/raw", "MNIST/raw", "KMNIST/raw", "EMNIST/raw", "QMNIST/raw",
                       "cifar-10-batches-py", "cifar-100-python")


def resolve(spec: str, class_name: Optional[str] = None) -> Tuple[str, str]:
    """The dataset `spec` names, as (source, kind): kind "array" for arrays read whole (an IDX, CIFAR or
    .npy/.npz file, or a folder of IDX files or CIFAR batches), "folder" for a folder of image files, "image" for
    one image file. "fashion-mnist" is Debian's; a torchvision root (a folder holding MNIST/raw,
    cifar-10-batches-py, ...) is the dataset below it.

    Raises:
        FileNotFoundError: for a path that does not exist (for a known dataset's name: how to give its files).
        ValueError: for a file in no known format, or a torchvision root holding several datasets.
    """
    if spec.lower() in FASHION_MNIST_NAMES:
        path = os.path.join(FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz")
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} not found: install Debian's package with "
                                    "`apt-get install dataset-fashion-mnist`")
        return path, "array"
    if not os.path.exists(spec):
        known = ELSEWHERE.get(spec.lower().replace("-", "").replace("_", ""))
        if known:
            raise FileNotFoundError(f"dataset {spec!r}: SwiftGAN downloads nothing; give the folder holding "
                                    f"{known}'s files (a torchvision root such as ./data, holding MNIST/raw or "
                                    "cifar-10-batches-py, the folder of its IDX files or CIFAR batches, or a folder "
                                    "of images)")
        raise FileNotFoundError(f"dataset {spec!r}: no such file or folder, and not a known name (fashion-mnist)")
    if not os.path.isdir(spec):
        kind = sniff(spec)
        if kind in ("npy", "npz", "idx", "pickle"):
            return spec, "array"
        if kind == "image":
            return spec, "image"
        raise ValueError(f"{spec}: unknown dataset format (expected from its content an IDX file, gzipped or "
                         "not, a CIFAR python batch, a .npy/.npz array or a JPEG/PNG/BMP/WebP image)")
    if class_name is not None:
        return spec, "folder"
    if _array_files(spec):
        return spec, "array"
    below = [layout for layout in TORCHVISION_LAYOUTS if os.path.isdir(os.path.join(spec, layout))
             and _array_files(os.path.join(spec, layout))]
    if len(below) > 1:
        raise ValueError(f"{spec}: a torchvision root holding several datasets ({', '.join(below)}): give one of "
                         "those folders")
    if below:
        return os.path.join(spec, below[0]), "array"
    return spec, "folder"


def _array_files(folder: str) -> List[str]:
    """The files of a folder that make its dataset of arrays: its training IDX image files (else all of them), or
    its CIFAR training batches (else all of them); [] for a folder of neither."""
    names = sorted(os.listdir(folder))
    idx = [n for n in names if _is_idx_images(n) and _is_regular(os.path.join(folder, n))
           and sniff(os.path.join(folder, n)) == "idx"]
    if idx:
        return [os.path.join(folder, n) for n in ([n for n in idx if n.startswith("train")] or idx)]
    cifar = _cifar_files(folder, names)
    train = [n for n in cifar if n.startswith(CIFAR_TRAIN)]
    return [os.path.join(folder, n) for n in sorted(train or cifar)]


def source_files(source: str) -> List[str]:
    """The files an "array" source (see `resolve`) is read from."""
    return [source] if os.path.isfile(source) else _array_files(source)


def load_source(source: str, image_size: Optional[int] = None, channels: Optional[int] = None) -> np.ndarray:
    """The images of an "array" source (see `resolve`) as read, float32 [N, C, H, W] in [-1, 1], not converted
    (`image_size` and `channels`, when given, size the memory check of a conversion held whole after)."""
    files = source_files(source)
    kind = sniff(files[0]) if files else None
    if kind in ("npy", "npz"):
        return load_array(files[0], image_size, channels)
    if kind == "idx":
        return np.concatenate([load_idx_images(f, image_size, channels) for f in files])
    if kind == "pickle":
        total = sum(os.stat(f).st_size for f in files)
        check_dataset_memory(source, total // 3072, (3, 32, 32), image_size, channels)
        return np.concatenate([load_cifar_batch(f) for f in files])
    raise ValueError(f"{source}: no IDX images, CIFAR batches or arrays")


def load_dataset(spec: str, image_size: Optional[int] = None, channels: Optional[int] = None,
                 class_name: Optional[str] = None) -> np.ndarray:
    """A dataset by name ("fashion-mnist") or path (see `resolve`), the format detected from the content, as
    float32 [N, C, H, W] in [-1, 1], converted to `image_size` and `channels` when given; held whole in memory
    (a training run reads its dataset from an on-disk cache instead: `datacache`).

    Raises:
        TypeError, ValueError: for options out of their range (checked before anything is read).
        FileNotFoundError: for a path that does not exist.
        ValueError: for a file or folder in no known format, with no usable image, or not a regular file.
        MemoryError: for a dataset that would not fit in memory (checked from its headers, before reading).
    """
    check_conversion(image_size, channels)
    source, kind = resolve(spec, class_name)
    if kind == "image":  # just this image, not its folder
        try:
            return read_image(source, image_size or 64, channels or 3)[None]
        except (ValueError, MemoryError):
            raise
        except Exception as error:  # Pillow raises OSError, SyntaxError, DecompressionBombError, ... on bad files
            raise ValueError(f"{source}: not a readable image ({error.__class__.__name__}: {error})") from None
    if kind == "folder":
        return load_image_folder(source, image_size or 64, channels or 3, class_name)
    return convert(load_source(source, image_size, channels), image_size, channels)


# ---- labelled datasets (for feature networks) ------------------------------------------

def load_idx_labels(path: str) -> np.ndarray:
    """An MNIST-format IDX label file (gzipped or not, told by its content): int64 [N]."""
    _, body = _read_idx(path, 1)
    return np.frombuffer(body, dtype=np.uint8).astype(np.int64)


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
    if spec.lower() in FASHION_MNIST_NAMES:
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
    cifar = _cifar_files(spec, names)
    if cifar:
        chosen = [n for n in cifar if n.startswith(CIFAR_TRAIN) == (split == "train")]
        if not chosen:
            raise ValueError(f"{spec}: no {split} CIFAR batches")
        images, labels = [], []
        for name in chosen:
            pixels, found = read_cifar_batch(os.path.join(spec, name), image_size, channels)
            if found is None:
                raise ValueError(f"{spec}/{name}: a CIFAR batch without labels")
            images.append(pixels.astype(np.float32) / 127.5 - 1.0)
            labels.append(found)
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
    sampler's state (`state_dict`) restores the exact stream of batches.

    `images` is an array [N, C, H, W] or anything indexed as one by an array of indices (an `ImageCache`: then
    each batch is read from disk). With `prefetch` > 0, that many batches ahead are read in a background thread
    while the caller trains (the training step releases the GIL); the batches, and the state, are the same as
    without. `waited` is the time `next` spent waiting for a batch, over `batches` batches."""

    def __init__(self, images, batch_size: int, seed: int = 0, prefetch: int = 0):
        if batch_size < 1 or batch_size > len(images):
            raise ValueError(f"batch_size must be in [1, {len(images)}] for a dataset of {len(images)}, got {batch_size}")
        self.images, self.batch_size = images, batch_size
        self._rng = np.random.default_rng(seed)
        self._new_epoch()
        self.prefetch, self._pending = prefetch, collections.deque()
        self._reader = concurrent.futures.ThreadPoolExecutor(1, "swiftgan-batches") if prefetch else None
        self.waited, self.batches = 0.0, 0

    def _new_epoch(self) -> None:
        self._epoch_start = self._rng.bit_generator.state  # regenerates this epoch's permutation
        self._order = self._rng.permutation(len(self.images))
        self._position = 0

    def _take(self) -> np.ndarray:
        """The next batch's indices (sorted), the sampler moved past them."""
        if self._position + self.batch_size > len(self._order):
            self._new_epoch()
        picks = self._order[self._position:self._position + self.batch_size]
        self._position += self.batch_size
        return np.sort(picks)

    def _upcoming(self, count: int) -> List[np.ndarray]:
        """The indices of the `count` batches after the current one, the sampler not moved."""
        saved = (self._rng.bit_generator.state, self._epoch_start, self._order, self._position)
        try:
            return [self._take() for _ in range(count)]
        finally:
            self._rng.bit_generator.state, self._epoch_start, self._order, self._position = saved

    def _read(self, picks: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(self.images[picks], dtype=np.float32)

    def next(self) -> np.ndarray:
        """The next batch, float32 [batch_size, C, H, W] (contiguous)."""
        picks = self._take()
        started = time.perf_counter()
        if self._pending and np.array_equal(self._pending[0][0], picks):
            batch = self._pending.popleft()[1].result()
        else:
            self._drop_pending()
            batch = self._read(picks)
        self.waited += time.perf_counter() - started
        self.batches += 1
        if self._reader is not None:
            ahead = self._upcoming(self.prefetch)
            for picks in ahead[len(self._pending):]:
                self._pending.append((picks, self._reader.submit(self._read, picks)))
        return batch

    def _drop_pending(self) -> None:
        while self._pending:
            self._pending.popleft()[1].cancel()

    def close(self) -> None:
        """Stops the background reader (if any); `next` still works, reading in the caller's thread."""
        self._drop_pending()
        if self._reader is not None:
            self._reader.shutdown(wait=True)
            self._reader = None

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
        self._drop_pending()
        self._rng.bit_generator.state = state["epoch_start"]
        self._new_epoch()
        self._position = int(state["position"])
