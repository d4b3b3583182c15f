"""The on-disk image cache: decoded once (in worker processes), keyed by the file list, written atomically, read
batch by batch; the sampler's prefetching changes no batch."""
import errno
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from swiftgan import datacache
from swiftgan.datacache import ImageCache, open_dataset, plan_dataset
from swiftgan.datasets import BatchSampler, load_dataset


def write_folder(folder, count, seed=0, size=(37, 45)):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(folder, f"{i:04d}.png"))
    return folder


@pytest.fixture
def cache_dir(tmp_path):
    return str(tmp_path / "cache")


def test_a_folder_is_cached_once_with_the_values_the_loader_reads(tmp_path, cache_dir):
    folder = write_folder(str(tmp_path / "images"), 9)
    plan = plan_dataset(folder, image_size=16, channels=3, cache_dir=cache_dir)
    assert plan.shape == (9, 3, 16, 16) and not plan.cached
    assert "9 image files → 3×16×16, to be cached in" in plan.describe()
    cache = plan.open(progress=False, workers=2)
    assert isinstance(cache, ImageCache) and cache.shape == (9, 3, 16, 16)
    expected = load_dataset(folder, image_size=16, channels=3)
    assert np.array_equal(cache[np.arange(9)], expected)
    assert np.array_equal(cache[[7, 2]], expected[[7, 2]])  # any order, as an array would give them
    again = plan_dataset(folder, image_size=16, channels=3, cache_dir=cache_dir)
    assert again.cached and "cached in" in again.describe() and again.folder == plan.folder
    assert sorted(os.listdir(plan.folder)) == ["images.u8", "index.json"]
    assert os.path.getsize(os.path.join(plan.folder, "images.u8")) == 9 * 3 * 16 * 16
    cache.close()


def test_one_worker_and_several_write_the_same_cache(tmp_path):
    folder = write_folder(str(tmp_path / "images"), 140, seed=3)  # three chunks of 64
    one = open_dataset(folder, image_size=8, channels=1, cache_dir=str(tmp_path / "a"), progress=False, workers=1)
    two = open_dataset(folder, image_size=8, channels=1, cache_dir=str(tmp_path / "b"), progress=False, workers=2)
    assert one.sha256 == two.sha256 and np.array_equal(one[np.arange(140)], two[np.arange(140)])


def test_a_script_without_a_main_guard_caches_once_in_its_workers(tmp_path):
    """A user's script that caches (or trains) at its top level: the decoding workers do not run it again."""
    import subprocess
    import sys

    folder = write_folder(str(tmp_path / "images"), 130, seed=5)
    script = tmp_path / "train.py"
    script.write_text("import swiftgan.datacache as dc\n"
                      "print('top level ran', flush=True)\n"
                      f"cache = dc.open_dataset({folder!r}, image_size=8, cache_dir={str(tmp_path / 'c')!r}, "
                      "workers=2, progress=False)\n"
                      "print('cached', len(cache), flush=True)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["top level ran", "cached 130"]


def test_a_changed_file_list_makes_a_new_entry(tmp_path, cache_dir):
    folder = write_folder(str(tmp_path / "images"), 4)
    first = plan_dataset(folder, image_size=8, cache_dir=cache_dir)
    first.open(progress=False)
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(os.path.join(folder, "new.png"))
    second = plan_dataset(folder, image_size=8, cache_dir=cache_dir)
    assert second.folder != first.folder and not second.cached and second.shape[0] == 5
    other_size = plan_dataset(folder, image_size=12, cache_dir=cache_dir)
    assert other_size.folder not in (first.folder, second.folder)


def test_unreadable_files_are_reported_skipped_and_recorded(tmp_path, cache_dir):
    folder = write_folder(str(tmp_path / "images"), 5)
    with open(os.path.join(folder, "0002.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\nbroken")
    reported = []
    cache = plan_dataset(folder, image_size=8, cache_dir=cache_dir).open(
        progress=False, report=lambda path, reason: reported.append(path))
    assert reported == [os.path.join(folder, "0002.png")]
    assert len(cache) == 4 and cache.index["skipped"] == reported
    expected = load_dataset(folder, image_size=8, channels=3)
    assert np.array_equal(cache[np.arange(4)], expected)


def test_a_build_that_stops_leaves_no_entry(tmp_path, cache_dir, monkeypatch):
    folder = write_folder(str(tmp_path / "images"), 3)

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(datacache, "_decode_files", stop)
    plan = plan_dataset(folder, image_size=8, cache_dir=cache_dir)
    with pytest.raises(KeyboardInterrupt):
        plan.open(progress=False)
    assert not plan.cached and [n for n in os.listdir(cache_dir) if not n.startswith(".")] == []
    monkeypatch.undo()
    stale = f"{plan.folder}.partial-{2**22 + 12345}"  # a build killed outright (no pid this large is alive)
    os.makedirs(stale)
    other = os.path.join(cache_dir, "user-notes.partial-1")  # not of this form: never touched
    os.makedirs(other)
    plan.open(progress=False).close()
    assert plan.cached and not os.path.exists(stale) and os.path.isdir(other)


def test_a_cache_that_would_not_fit_on_its_disk_is_refused_before_decoding(tmp_path, cache_dir, monkeypatch):
    folder = write_folder(str(tmp_path / "images"), 3)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 100, 100))
    monkeypatch.setattr(datacache, "_decode_files", lambda *a, **k: pytest.fail("decoded"))
    with pytest.raises(OSError, match=r"the cache of 3 images of 3×64×64 takes 36.0 kB, 100 bytes are free in") as error:
        plan_dataset(folder, cache_dir=cache_dir).open(progress=False)
    assert error.value.errno == errno.ENOSPC


def test_a_damaged_cache_is_refused_with_the_remedy(tmp_path, cache_dir):
    folder = write_folder(str(tmp_path / "images"), 3)
    plan = plan_dataset(folder, image_size=8, cache_dir=cache_dir)
    plan.open(progress=False).close()
    with open(os.path.join(plan.folder, "images.u8"), "r+b") as f:
        f.truncate(10)
    with pytest.raises(ValueError, match=r"images.u8 holds 10 bytes, its index says 576: a damaged cache \(remove"):
        ImageCache(plan.folder)


def test_one_image_file_is_a_dataset_of_one(tmp_path, cache_dir):
    path = str(tmp_path / "one.png")
    Image.fromarray(np.arange(30 * 20 * 3, dtype=np.uint8).reshape(20, 30, 3)).save(path)
    cache = open_dataset(path, image_size=8, cache_dir=cache_dir, progress=False)
    assert cache.shape == (1, 3, 8, 8) and np.array_equal(cache[[0]], load_dataset(path, image_size=8))


def test_arrays_are_cached_converted(tmp_path, cache_dir):
    path = str(tmp_path / "digits.npy")
    pixels = np.random.default_rng(0).integers(0, 256, (20, 28, 28), dtype=np.uint8)
    np.save(path, pixels)
    cache = open_dataset(path, cache_dir=cache_dir, progress=False)  # native size: exact
    assert cache.shape == (20, 1, 28, 28)
    assert np.array_equal(cache[np.arange(20)], load_dataset(path))
    resized = open_dataset(path, image_size=32, channels=3, cache_dir=cache_dir, progress=False)
    reference = load_dataset(path, image_size=32, channels=3)  # float; the cache holds it as 8-bit pixels
    assert resized.shape == (20, 3, 32, 32) and np.abs(resized[np.arange(20)] - reference).max() <= 1 / 127.5 + 1e-6


def test_prefetching_changes_no_batch_and_no_state(tmp_path, cache_dir):
    folder = write_folder(str(tmp_path / "images"), 23)
    cache = open_dataset(folder, image_size=8, cache_dir=cache_dir, progress=False)
    plain, ahead = BatchSampler(cache, 5, seed=3), BatchSampler(cache, 5, seed=3, prefetch=2)
    for step in range(12):  # across epoch boundaries (4 batches of 5 per epoch of 23)
        assert np.array_equal(plain.next(), ahead.next()), step
        assert plain.state_dict() == ahead.state_dict()
    saved = ahead.state_dict()
    expected = [plain.next() for _ in range(3)]
    resumed = BatchSampler(cache, 5, seed=99, prefetch=2)
    resumed.load_state_dict(saved)
    assert all(np.array_equal(resumed.next(), e) for e in expected)
    assert ahead.batches == 12 and ahead.waited >= 0
    for sampler in (plain, ahead, resumed):
        sampler.close()


def test_resizing_gives_the_same_pixels_whatever_the_thread_count():
    # A matrix product's sums depend on the threads (and the processor) that BLAS uses; a resize written with them
    # turned some values at a rounding boundary into other 8-bit pixels, and a run resumed with another thread
    # count found its dataset "changed". The resize sums its taps in a fixed order: the same bytes with 1 and 2.
    code = ("import hashlib, numpy as np; from swiftgan.datasets import convert\n"
            "x = np.random.default_rng(3).integers(0, 256, (4096, 1, 28, 28)).astype(np.float32) / 127.5 - 1\n"
            "y = convert(x, 32, 1)\n"
            "print(hashlib.sha256(np.rint((y + 1) * 127.5).astype(np.uint8).tobytes()).hexdigest())\n")
    digests = set()
    for threads in ("1", "2"):
        env = {**os.environ, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == 0, done.stderr
        digests.add(done.stdout.strip())
    assert len(digests) == 1, f"the resized pixels differ with the thread count: {digests}"
