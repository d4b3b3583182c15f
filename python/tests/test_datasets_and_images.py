"""IDX reading, sample grids and the dataset formats, on files the tests write themselves."""
import json
import gzip

import numpy as np
import pytest
from PIL import Image

from swiftgan import load_idx_images, make_grid, save_grid


def write_idx(path, pixels, compress=False):
    n, h, w = pixels.shape
    data = bytes([0, 0, 0x08, 3]) + b"".join(int(v).to_bytes(4, "big") for v in (n, h, w)) + pixels.tobytes()
    with (gzip.open if compress else open)(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_images_are_scaled_to_minus_one_one(tmp_path, compress):
    pixels = np.array([[[0, 255], [127, 64]], [[1, 2], [3, 4]]], dtype=np.uint8)
    path = str(tmp_path / ("x.idx.gz" if compress else "x.idx"))
    write_idx(path, pixels, compress)
    images = load_idx_images(path)
    assert images.shape == (2, 1, 2, 2) and images.dtype == np.float32
    np.testing.assert_allclose(images[0, 0], pixels[0] / 127.5 - 1)


def test_truncated_and_foreign_idx_files_are_clear_errors(tmp_path):
    path = str(tmp_path / "short.idx")
    write_idx(path, np.zeros((3, 4, 4), np.uint8))
    with open(path, "r+b") as f:
        f.truncate(30)
    with pytest.raises(ValueError, match=r"truncated: header says 3×4×4 bytes, file holds 14"):
        load_idx_images(path)
    other = str(tmp_path / "labels.idx")
    with open(other, "wb") as f:
        f.write(bytes([0, 0, 0x08, 1]) + (5).to_bytes(4, "big") + bytes(5) + bytes(8))
    with pytest.raises(ValueError, match="expected 3-D unsigned-byte IDX images, got type 0x08 with 1 dims"):
        load_idx_images(other)


def test_grid_tiles_images_with_padding(tmp_path):
    images = np.full((5, 3, 4, 4), -1, np.float32)
    images[4] = 1
    grid = make_grid(images, nrow=3, padding=1)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1, 3) and grid.dtype == np.uint8
    assert grid[6:10, 6:10].min() == 255 and grid[1:5, 1:5].max() == 0
    path = save_grid(images[:, :1], str(tmp_path / "g.png"))
    assert Image.open(path).size == (3 * 6 + 2, 2 * 6 + 2)
    with pytest.raises(ValueError, match=r"images must have shape \[N, 1 or 3, H, W\], got \[2, 2, 4, 4\]"):
        make_grid(np.zeros((2, 2, 4, 4)))


# ---- the formats load_dataset detects ------------------------------------------------------

import pickle

from swiftgan import BatchSampler, load_dataset


def write_cifar_batch(path, n, seed=0):
    data = np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)
    with open(path, "wb") as f:
        pickle.dump({b"data": data, b"labels": list(range(n))}, f)
    return data


def test_cifar_batches_load_as_files_and_folders(tmp_path):
    data = write_cifar_batch(tmp_path / "data_batch_1", 4)
    write_cifar_batch(tmp_path / "data_batch_2", 3, seed=1)
    write_cifar_batch(tmp_path / "test_batch", 5, seed=2)
    one = load_dataset(str(tmp_path / "data_batch_1"))
    assert one.shape == (4, 3, 32, 32)
    np.testing.assert_allclose(one[0, 0, 0, :3], data[0, :3] / 127.5 - 1, atol=1e-6)
    np.testing.assert_allclose(one[0, 1, 0, 0], data[0, 1024] / 127.5 - 1, atol=1e-6)  # channel-major rows
    assert load_dataset(str(tmp_path)).shape == (7, 3, 32, 32)  # the training batches only
    assert load_dataset(str(tmp_path), image_size=16, channels=1).shape == (7, 1, 16, 16)


def test_idx_folders_load_their_training_images(tmp_path):
    write_idx(str(tmp_path / "train-images-idx3-ubyte.gz"), np.zeros((6, 28, 28), np.uint8), compress=True)
    write_idx(str(tmp_path / "t10k-images-idx3-ubyte"), np.zeros((2, 28, 28), np.uint8))
    images = load_dataset(str(tmp_path), image_size=32, channels=3)
    assert images.shape == (6, 3, 32, 32) and np.allclose(images, -1)


def write_image(path, size, colour, mode="RGB"):
    Image.new(mode, size, colour).save(path)


def test_image_folders_resize_crop_filter_classes_and_skip_corrupt_files(tmp_path):
    (tmp_path / "Benign" / "deeper").mkdir(parents=True)
    (tmp_path / "Malignant").mkdir()
    write_image(tmp_path / "Benign" / "a.png", (40, 20), (255, 0, 0))
    write_image(tmp_path / "Benign" / "deeper" / "b.jpg", (20, 20), (0, 0, 255))
    write_image(tmp_path / "Malignant" / "c.bmp", (10, 30), (0, 255, 0))
    write_image(tmp_path / "Malignant" / "d.webp", (16, 16), (255, 255, 255))
    (tmp_path / "Malignant" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "notes.txt").write_text("ignored")
    images = load_dataset(str(tmp_path), image_size=8, channels=3)
    assert images.shape == (4, 3, 8, 8)
    assert np.allclose(images[0, 0], 1, atol=0.02) and np.allclose(images[0, 1], -1, atol=0.02)  # a.png, red
    benign = load_dataset(str(tmp_path), image_size=8, channels=1, class_name="Benign")
    assert benign.shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match=r"no class sub-folder 'Cats'; classes: Benign, Malignant"):
        load_dataset(str(tmp_path), image_size=8, class_name="Cats")


def test_corrupt_images_are_reported_with_their_path(tmp_path, capsys):
    write_image(tmp_path / "good.png", (8, 8), (0, 0, 0))
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff garbage")
    assert load_dataset(str(tmp_path), image_size=8).shape == (1, 3, 8, 8)
    err = capsys.readouterr().err
    assert f"swiftgan: skipping {tmp_path / 'bad.jpg'}:" in err


def test_a_folder_without_a_usable_image_is_a_clear_error(tmp_path):
    (tmp_path / "x.png").write_bytes(b"nothing")
    with pytest.raises(ValueError, match=r"no usable image among 1 image files"):
        load_dataset(str(tmp_path), image_size=8)
    with pytest.raises(FileNotFoundError, match=r"no such file or folder, and not a known name"):
        load_dataset(str(tmp_path / "missing"))


def test_arrays_load_from_npy_and_npz(tmp_path):
    nhwc = np.random.default_rng(0).integers(0, 256, (5, 6, 6, 3), dtype=np.uint8)
    np.save(tmp_path / "a.npy", nhwc)
    a = load_dataset(str(tmp_path / "a.npy"))
    assert a.shape == (5, 3, 6, 6)
    np.testing.assert_allclose(a[1, 2, 3, 4], nhwc[1, 3, 4, 2] / 127.5 - 1, atol=1e-6)
    np.savez(tmp_path / "b.npz", images=np.zeros((2, 4, 4), np.float32))
    assert load_dataset(str(tmp_path / "b.npz")).shape == (2, 1, 4, 4)
    np.save(tmp_path / "c.npy", np.full((2, 1, 4, 4), 3.0, np.float32))
    with pytest.raises(ValueError, match=r"float images must lie in \[-1, 1\]"):
        load_dataset(str(tmp_path / "c.npy"))


def test_the_sampler_is_seeded_covers_each_epoch_and_restores_its_state(tmp_path):
    data = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    sampler = BatchSampler(data, 5, seed=3)
    epoch = np.concatenate([sampler.next(), sampler.next()]).ravel()
    assert sorted(epoch) == list(range(10))
    state = sampler.state_dict()
    ahead = [sampler.next() for _ in range(3)]
    again = BatchSampler(data, 5, seed=99)
    again.load_state_dict(state)
    for batch in ahead:
        np.testing.assert_array_equal(again.next(), batch)
    middle = BatchSampler(data, 2, seed=4)
    middle.next()
    state = json.loads(json.dumps(middle.state_dict()))  # mid-epoch, through JSON as a checkpoint stores it
    ahead = [middle.next() for _ in range(7)]
    again = BatchSampler(data, 2, seed=0)
    again.load_state_dict(state)
    for batch in ahead:
        np.testing.assert_array_equal(again.next(), batch)
    with pytest.raises(ValueError, match="sampler state is for a dataset of 10 images, this one has 9"):
        BatchSampler(data[:9], 2).load_state_dict(state)
    np.testing.assert_array_equal(BatchSampler(data, 5, seed=3).next(), BatchSampler(data, 5, seed=3).next())
    with pytest.raises(ValueError, match=r"batch_size must be in \[1, 10\] for a dataset of 10, got 11"):
        BatchSampler(data, 11)


def test_array_resizing_matches_pillows_bilinear_filter():
    from swiftgan.datasets import convert

    rng = np.random.default_rng(3)
    images = rng.uniform(-1, 1, (2, 1, 28, 28)).astype(np.float32)
    for size in (32, 20):  # enlarging and (antialiased) shrinking
        ours = convert(images, image_size=size)
        for i in range(2):
            pil = Image.fromarray(images[i, 0], mode="F").resize((size, size), Image.BILINEAR)
            np.testing.assert_allclose(ours[i, 0], np.clip(np.asarray(pil), -1, 1), atol=1e-4)
    wide = convert(rng.uniform(-1, 1, (1, 3, 10, 20)).astype(np.float32), image_size=8, channels=1)
    assert wide.shape == (1, 1, 8, 8)  # shorter side to 8, centre crop of the longer


def test_a_single_image_file_loads_alone(tmp_path):
    write_image(tmp_path / "one.png", (12, 12), (255, 255, 255))
    write_image(tmp_path / "other.png", (12, 12), (0, 0, 0))
    images = load_dataset(str(tmp_path / "one.png"), image_size=8, channels=1)
    assert images.shape == (1, 1, 8, 8) and np.allclose(images, 1, atol=0.01)
