"""A dataset decoded once into an on-disk image cache, read batch by batch: memory that does not grow with the data.

    plan = plan_dataset("celeba/", image_size=64, channels=3)   # the files listed, nothing decoded
    print(plan.describe())          # what it holds, where its cache is, what the cache takes on disk
    images = plan.open()            # decodes in worker processes (a progress bar) unless the cache is there
    batch = images[[3, 17, 42]]     # float32 [3, 3, 64, 64] in [-1, 1], read from the cache

A cache entry is a folder in the cache directory (`cache_dir`; default $SWIFTGAN_CACHE, else
$XDG_CACHE_HOME/swiftgan/datasets, else ~/.cache/swiftgan/datasets):

    <S>px-<C>ch-<key>/images.u8     the images, uint8 [N, C, S, S] in row order, resized and centre-cropped
    <S>px-<C>ch-<key>/index.json    what they are: the source, the conversion, the shape, the SHA-256 of images.u8,
                                    the files skipped (unreadable) when it was made

The key is a SHA-256 of the source's file list (each file's path, size and modification time) and the
conversion, so a file added, removed or changed makes a new entry; an entry is written into a folder of its own
and renamed into place when complete (a build that stops leaves no entry a later run would read), under a lock
that makes concurrent runs on the same data wait for one build instead of making two. Batches are read with
`pread` (no mapping: the pages read count in no process's memory) and converted to float32 batch by batch.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import datasets as data
from .checkpoint import sha256_of_file
from .ownership import process_is_gone
from .untrusted import format_bytes

CACHE_FORMAT = "swiftgan-image-cache-1"
CHUNK = 64  # images a worker decodes per task


def default_cache_dir() -> str:
    """$SWIFTGAN_CACHE, else $XDG_CACHE_HOME/swiftgan/datasets, else ~/.cache/swiftgan/datasets."""
    if os.environ.get("SWIFTGAN_CACHE"):
        return os.environ["SWIFTGAN_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "swiftgan", "datasets")


class ImageCache:
    """A cache entry opened for reading: `shape` [N, C, S, S], `len()`, and `cache[indices]` → float32 images in
    [-1, 1] (the indices' order kept), read from the file at each call. `sha256` is the digest of its uint8 values."""

    def __init__(self, folder: str):
        with open(os.path.join(folder, "index.json")) as f:
            self.index = json.load(f)
        if self.index.get("format") != CACHE_FORMAT:
            raise ValueError(f"{folder}: not a SwiftGAN image cache of format {CACHE_FORMAT}")
        self.folder = folder
        self.shape = tuple(int(s) for s in self.index["shape"])
        self.sha256 = str(self.index["sha256"])
        self._row = int(np.prod(self.shape[1:]))
        self._fd = os.open(os.path.join(folder, "images.u8"), os.O_RDONLY)
        held = os.fstat(self._fd).st_size
        if held != self.shape[0] * self._row:
            os.close(self._fd)
            raise ValueError(f"{folder}/images.u8 holds {held:,} bytes, its index says {self.shape[0] * self._row:,}: "
                             "a damaged cache (remove the folder; it is remade from the dataset)")

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def ndim(self) -> int:
        return 4

    def uint8(self, indices) -> np.ndarray:
        """The images at `indices` as stored: uint8 [n, C, S, S]."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(indices) and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"image index out of range [0, {len(self)})")
        out = np.empty((len(indices),) + self.shape[1:], dtype=np.uint8)
        flat = out.reshape(len(indices), -1)
        for i, index in enumerate(indices):
            if os.preadv(self._fd, [flat[i]], int(index) * self._row) != self._row:
                raise OSError(errno.EIO, f"short read of image {index}", os.path.join(self.folder, "images.u8"))
        return out

    def __getitem__(self, indices) -> np.ndarray:
        if isinstance(indices, slice):
            indices = np.arange(len(self))[indices]
        pixels = self.uint8(indices)
        return pixels.astype(np.float32) / 127.5 - 1.0  # as the images were always read

    def __array__(self, dtype=None, copy=None) -> np.ndarray:  # the whole dataset: for small ones only
        return self[np.arange(len(self))] if dtype is None else self[np.arange(len(self))].astype(dtype)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return f"ImageCache({self.folder!r}, {self.shape[0]:,} images of {'×'.join(map(str, self.shape[1:]))})"


# ---- the plan: what a dataset is, before anything is decoded ---------------------------------------------------


class DatasetPlan:
    """A dataset resolved and listed (files found, headers read) but not decoded: its name, its source, the
    images' shape [N, C, S, S] (N: files found, before unreadable ones are skipped), and its cache entry."""

    def __init__(self, spec: str, source: str, kind: str, shape: Tuple[int, int, int, int], key: str,
                 cache_dir: str, files: Sequence[str] = (), array: Optional[np.ndarray] = None,
                 class_name: Optional[str] = None, default_name: bool = False):
        self.spec, self.source, self.kind, self.shape, self.key = spec, source, kind, shape, key
        self.cache_dir, self.files, self.class_name, self.default_name = cache_dir, list(files), class_name, default_name
        self._array = array
        n, c, s, _ = shape
        self.folder = os.path.join(cache_dir, f"{s}px-{c}ch-{key[:20]}")

    @property
    def cached(self) -> bool:
        return os.path.isfile(os.path.join(self.folder, "index.json"))

    @property
    def cache_bytes(self) -> int:
        return int(np.prod(self.shape, dtype=object))

    def describe(self) -> str:
        """One line: the dataset (and that it is the default when it is), its images, its cache."""
        n, c, s, _ = self.shape
        what = "image files" if self.kind == "folder" else "images"
        name = f"{self.spec} (the default: give --dataset to train on your own)" if self.default_name else self.spec
        cache = (f"cached in {self.folder}" if self.cached else
                 f"to be cached in {self.folder} ({format_bytes(self.cache_bytes)} on disk)")
        return f"dataset {name}: {n:,} {what} → {c}×{s}×{s}, {cache}"

    def check_disk(self) -> None:
        """Refuses (OSError ENOSPC) a cache that would not fit on its disk, before anything is decoded."""
        if self.cached:
            return
        where = self.cache_dir
        while not os.path.exists(where):
            where = os.path.dirname(where) or "."
        free = shutil.disk_usage(where).free
        if self.cache_bytes > free:
            n, c, s, _ = self.shape
            raise OSError(errno.ENOSPC, f"the cache of {n:,} images of {c}×{s}×{s} takes "
                                        f"{format_bytes(self.cache_bytes)}, {format_bytes(free)} are free in {where}: "
                                        "choose a smaller image_size, fewer channels, another cache_dir, or a subset",
                          self.cache_dir)

    def open(self, progress: bool = True, workers: Optional[int] = None,
             report: Optional[Callable[[str, str], None]] = None) -> ImageCache:
        """The cache, made first if it is not there (decoding in `workers` processes, default one per core, with a
        progress bar). Files that cannot be decoded are reported (`report(path, reason)`, default a line on
        stderr) and skipped."""
        if self.cached:
            return ImageCache(self.folder)
        self.check_disk()
        os.makedirs(self.cache_dir, exist_ok=True)
        with open(os.path.join(self.cache_dir, f".{os.path.basename(self.folder)}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another process building this entry: wait for it, then read its
            if not self.cached:
                self._remove_stale_builds()
                self._build(progress, workers, report)
        return ImageCache(self.folder)

    # ---- building -------------------------------------------------------------------------------------

    def _remove_stale_builds(self) -> None:
        """Removes this entry's `<entry>.partial-<pid>` folders whose process is gone (killed mid-build: a build
        that stops otherwise removes its own); only names of exactly that form, under the entry's lock."""
        prefix = os.path.basename(self.folder) + ".partial-"
        for name in os.listdir(self.cache_dir):
            pid = name[len(prefix):]
            if name.startswith(prefix) and pid.isdigit() and process_is_gone(int(pid)):
                shutil.rmtree(os.path.join(self.cache_dir, name), ignore_errors=True)

    def _build(self, progress: bool, workers: Optional[int], report) -> None:
        from tqdm.auto import tqdm

        report = report or (lambda path, reason: print(f"swiftgan: skipping {path}: {reason}", file=sys.stderr))
        partial = f"{self.folder}.partial-{os.getpid()}"
        os.makedirs(partial)
        try:
            target = os.path.join(partial, "images.u8")
            n, c, s, _ = self.shape
            with open(target, "wb") as f:
                f.truncate(self.cache_bytes)
            started = time.monotonic()
            bar = tqdm(total=n, disable=not progress, unit="img", dynamic_ncols=True, delay=1,  # shown after 1 s
                       desc=f"caching {os.path.basename(self.source.rstrip(os.sep)) or self.source} at {c}×{s}×{s}")
            try:
                if self.kind == "folder":
                    failed = _decode_files(self.files, target, s, c, workers, bar.update)
                else:
                    failed = []
                    _write_array(self.array(), target, s, c, bar.update)
            finally:
                bar.close()
            for index, reason in failed:
                report(self.files[index], reason)
            kept = _compact(target, n, c * s * s, sorted(i for i, _ in failed))
            if kept == 0:
                where = self.source + (f" (class {self.class_name!r})" if self.class_name else "")
                raise ValueError(f"{where}: no usable image among {n} image files ({', '.join(data.IMAGE_EXTENSIONS)})")
            index = {"format": CACHE_FORMAT, "source": self.source, "class_name": self.class_name, "kind": self.kind,
                     "image_size": s, "channels": c, "shape": [kept, c, s, s], "key": self.key,
                     "sha256": sha256_of_file(target), "skipped": [self.files[i] for i, _ in failed],
                     "seconds": round(time.monotonic() - started, 3)}
            with open(os.path.join(partial, "index.json"), "w") as f:
                json.dump(index, f, indent=1)
            os.rename(partial, self.folder)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)  # ours: made above, named by our pid
            raise

    def array(self) -> np.ndarray:
        """The images of an array source as read (float32 [N, C, H, W]), converted a chunk at a time when cached."""
        return self._array


def _decode_files(paths: Sequence[str], target: str, size: int, channels: int, workers: Optional[int],
                  advance: Callable[[int], None]) -> List[Tuple[int, str]]:
    """Decodes `paths` into rows of `target`, in `workers` processes (default one per core); the (index, reason) of
    files that failed. The workers are fresh interpreters that run `_worker` and nothing of the caller's: a user's
    script that trains at its top level (no `if __name__ == "__main__"`) is not run again in them, as
    multiprocessing's spawn would, and nothing of the caller's threads is inherited, as fork would."""
    tasks = [(list(paths[i:i + CHUNK]), i, target, size, channels) for i in range(0, len(paths), CHUNK)]
    workers = min(workers or _cores(), len(tasks))
    failed: List[Tuple[int, str]] = []
    if workers <= 1:
        for task in tasks:
            failed += _decode_chunk(task)
            advance(len(task[0]))
        return failed
    queue, lock, errors = list(reversed(tasks)), threading.Lock(), []
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # this swiftgan, wherever it is
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [package_parent] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}

    def feed() -> None:  # one thread per worker process: a task out, its failures back
        process = subprocess.Popen([sys.executable, "-c", "from swiftgan.datacache import _worker; _worker()"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=environment)
        try:
            while not errors:
                with lock:
                    if not queue:
                        break
                    task = queue.pop()
                process.stdin.write(json.dumps(task) + "\n")
                process.stdin.flush()
                answer = process.stdout.readline()
                if not answer:
                    raise RuntimeError(f"an image-decoding worker stopped (exit status {process.wait()})")
                with lock:
                    failed.extend((int(i), str(reason)) for i, reason in json.loads(answer))
                    advance(len(task[0]))
        except BaseException as error:
            errors.append(error)
        finally:
            process.stdin.close()
            process.wait()

    threads = [threading.Thread(target=feed, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return failed


def _worker() -> None:
    """An image-decoding worker: decodes each task read from stdin (a JSON line) into the cache file it names, and
    writes the failures (a JSON line) to stdout."""
    for line in sys.stdin:
        print(json.dumps(_decode_chunk(json.loads(line))), flush=True)


def _decode_chunk(task) -> List[Tuple[int, str]]:
    paths, start, target, size, channels = task
    row = channels * size * size
    failed = []
    fd = os.open(target, os.O_WRONLY)
    try:
        for i, path in enumerate(paths):
            try:
                pixels = data.read_image_uint8(path, size, channels)
            except Exception as error:  # Pillow raises OSError, SyntaxError, ValueError, ... on bad files
                failed.append((start + i, f"{error.__class__.__name__}: {error}"))
                continue
            os.pwrite(fd, pixels.tobytes(), (start + i) * row)
    finally:
        os.close(fd)
    return failed


def _write_array(images: np.ndarray, target: str, size: int, channels: int, advance) -> None:
    """Converts an array source chunk by chunk (bounded memory) into uint8 rows of `target`."""
    fd = os.open(target, os.O_WRONLY)
    try:
        step = max(1, (64 << 20) // (4 * channels * size * size))  # ~64 MB of float32 per chunk
        offset = 0
        for start in range(0, len(images), step):
            converted = data.convert(images[start:start + step], size, channels)
            pixels = np.rint((converted + 1.0) * 127.5).clip(0, 255).astype(np.uint8)
            os.pwrite(fd, pixels.tobytes(), offset)
            offset += pixels.nbytes
            advance(len(pixels))
    finally:
        os.close(fd)


def _compact(target: str, n: int, row: int, holes: Sequence[int]) -> int:
    """Moves the rows after each hole down over it and truncates: the number of rows kept."""
    if not holes:
        return n
    holes_set = set(holes)
    with open(target, "r+b") as f:
        write = 0
        for read in range(n):
            if read in holes_set:
                continue
            if read != write:
                f.seek(read * row)
                chunk = f.read(row)
                f.seek(write * row)
                f.write(chunk)
            write += 1
        f.truncate(write * row)
    return write


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# ---- planning ------------------------------------------------------------------------------------------


def _key(parts: Dict[str, object]) -> str:
    import hashlib  # here, not at import (see checkpoint.sha256_of_file)

    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _listing(paths: Sequence[str], root: str) -> List[Tuple[str, int, int]]:
    listed = []
    for path in paths:
        st = os.stat(path)
        listed.append((os.path.relpath(path, root), st.st_size, st.st_mtime_ns))
    return listed


def plan_dataset(spec: str, image_size: Optional[int] = None, channels: Optional[int] = None,
                 class_name: Optional[str] = None, cache_dir: Optional[str] = None) -> DatasetPlan:
    """The dataset `spec` (a name or a path, see `datasets.resolve`) listed for caching at `image_size` and
    `channels`: folders of images are listed (nothing decoded; defaults 64 and 3); arrays (IDX, CIFAR batches,
    .npy/.npz) are read, as they are small, unless their cache is there.

    Raises:
        TypeError, ValueError: for options out of range (checked before anything is read).
        FileNotFoundError: for a dataset that is not there.
        ValueError: for a file or folder in no known format, or a folder without image files.
    """
    data.check_conversion(image_size, channels)
    cache_dir = os.path.abspath(cache_dir or default_cache_dir())
    default_name = spec.lower() in data.FASHION_MNIST_NAMES
    source, kind = data.resolve(spec, class_name)
    if kind in ("folder", "image"):  # an image file alone: a folder of one
        paths = data.find_images(source, class_name) if kind == "folder" else [source]
        kind = "folder"
        if not paths:
            where = source + (f" (class {class_name!r})" if class_name else "")
            raise ValueError(f"{where}: no image files ({', '.join(data.IMAGE_EXTENSIONS)})")
        size, c = image_size or 64, channels or 3
        root = source if os.path.isdir(source) else os.path.dirname(source)
        key = _key({"format": CACHE_FORMAT, "source": os.path.realpath(source), "class": class_name, "size": size,
                    "channels": c, "files": _listing(paths, root)})
        return DatasetPlan(spec, source, kind, (len(paths), c, size, size), key, cache_dir, files=paths,
                           class_name=class_name, default_name=default_name)
    files = data.source_files(source)
    conversion = {"format": CACHE_FORMAT, "source": os.path.realpath(source), "size": image_size,
                  "channels": channels, "files": _listing(files, os.path.dirname(source) if os.path.isfile(source)
                                                                  else source)}
    key = _key(conversion)
    found = _entries(cache_dir, key)
    if found:  # cached: its shape from its index, the source not read
        with open(os.path.join(found[0], "index.json")) as f:
            shape = tuple(int(s) for s in json.load(f)["shape"])
        return DatasetPlan(spec, source, kind, shape, key, cache_dir, default_name=default_name)
    images = data.load_source(source, image_size, channels)
    n, c, h, w = images.shape
    size = image_size or min(h, w)
    return DatasetPlan(spec, source, kind, (n, channels or c, size, size), key, cache_dir, array=images,
                       default_name=default_name)


def _entries(cache_dir: str, key: str) -> List[str]:
    try:
        names = os.listdir(cache_dir)
    except FileNotFoundError:
        return []
    return [os.path.join(cache_dir, n) for n in names if n.endswith(f"ch-{key[:20]}")
            and os.path.isfile(os.path.join(cache_dir, n, "index.json"))]


def open_dataset(spec: str, image_size: Optional[int] = None, channels: Optional[int] = None,
                 class_name: Optional[str] = None, cache_dir: Optional[str] = None, progress: bool = True,
                 workers: Optional[int] = None) -> ImageCache:
    """`plan_dataset(...).open(...)`: the dataset's cache, made first if it is not there."""
    return plan_dataset(spec, image_size, channels, class_name, cache_dir).open(progress, workers)
