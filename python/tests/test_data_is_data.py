"""Principles 1 and 2 of the Guarantees: no file a user points SwiftGAN at runs code, whatever its name or
content; reading never blocks, never allocates more than the content declares and holds, and options (with what
they imply for memory) are refused before anything is read."""
import gzip
import io
import os
import pickle
import signal
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

import swiftgan
from swiftgan.datasets import load_labelled_dataset, sniff
from swiftgan.untrusted import read_pickled_data


@pytest.fixture(autouse=True)
def no_hang():
    """A read that blocks would hang the suite: an alarm turns it into a failure."""
    def hung(*_):
        raise AssertionError("a read blocked for 20 s")
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


class RunsCode:
    """Unpickling calls os.system: a marker file appears if it ever runs."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def hostile_pickle(marker, protocol=2):
    return pickle.dumps({b"data": RunsCode(marker), b"labels": [0]}, protocol=protocol)


def cifar_pickle(n, protocol=2, seed=0):
    data = np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)
    return pickle.dumps({b"batch_label": b"training batch 1 of 5", b"data": data, b"labels": list(range(n)),
                         b"filenames": [b"x.png"] * n}, protocol=protocol), data


# ---- 1. data is data ----------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("name", ["data_batch_1", "test_batch", "train", "test"])
def test_a_cifar_batch_that_would_run_code_is_refused_and_runs_nothing(tmp_path, name, protocol):
    marker = tmp_path / "ran"
    (tmp_path / "batches").mkdir()
    path = tmp_path / "batches" / name
    path.write_bytes(hostile_pickle(marker, protocol))
    with pytest.raises(ValueError, match=r"not a pickle of plain data \(the name posix\.system, which plain data "
                                         r"does not use at byte \d+\)"):
        swiftgan.load_dataset(str(path))
    with pytest.raises(ValueError, match=r"not a pickle of plain data"):
        load_labelled_dataset(str(tmp_path / "batches"), split="test" if "test" in name else "train")
    if name in ("data_batch_1", "train"):
        with pytest.raises(ValueError, match=r"not a pickle of plain data"):
            swiftgan.load_dataset(str(tmp_path / "batches"))
    assert not marker.exists()


def test_the_command_line_refuses_a_hostile_batch_in_one_line_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "data_batch_1").write_bytes(hostile_pickle(marker))
    done = subprocess.run([sys.executable, "-m", "swiftgan", "train", "--dataset", str(tmp_path / "data_batch_1"),
                           "--out", str(tmp_path / "run"), "--iters", "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and not marker.exists()
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("swiftgan train: error: ") and "not a pickle of plain data" in lines[0]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_real_cifar_batches_of_every_protocol_still_load_with_their_labels(tmp_path, protocol):
    blob, data = cifar_pickle(5, protocol)
    (tmp_path / "data_batch_1").write_bytes(blob)
    (tmp_path / "test_batch").write_bytes(cifar_pickle(2, protocol, seed=1)[0])
    images = swiftgan.load_dataset(str(tmp_path))
    assert images.shape == (5, 3, 32, 32)
    np.testing.assert_allclose(images.reshape(5, -1), data / 127.5 - 1, atol=1e-6)
    test_images, labels, classes = load_labelled_dataset(str(tmp_path), split="test")
    assert test_images.shape == (2, 3, 32, 32) and labels.tolist() == [0, 1] and classes == ["0", "1"]


@pytest.mark.parametrize("payload", [
    pickle.dumps(np.array([1, "a"], dtype=object), protocol=4),             # an array of objects
    pickle.dumps({b"data": {1, 2}}, protocol=4),                            # a set: not data of the format
    b"\x80\x02cbuiltins\neval\nX\x06\x00\x00\x00print()\x85R.",            # GLOBAL of eval
    b"\x80\x04\x8c\x02os\x8c\x06system\x93.",                               # STACK_GLOBAL of os.system
    b"\x80\x02}q\x00(U\x04dataq\x01T\xff\xff\xff\x7f",                      # BINSTRING declaring 2 GB
    b"\x80\x05\x8e\x00\x00\x00\x00\x00\x00\x00\x40",                        # BINBYTES8 declaring 2^62 bytes
    b"\x80\x02h\x05.",                                                      # memo read before written
    b"\x80\x02.",                                                           # STOP on an empty stack
    b"\x80\x02(((((((((((((((",                                             # no STOP
])
def test_the_plain_data_reader_refuses_every_other_pickle_with_a_message(payload):
    with pytest.raises(ValueError, match=r"^evil: not a pickle of plain data \(.+ at byte \d+\)$"):
        read_pickled_data(payload, "evil")


def test_a_stray_file_named_like_a_cifar_batch_does_not_make_a_folder_cifar(tmp_path):
    for i in range(3):
        Image.new("RGB", (12, 12), (40 * i, 0, 0)).save(tmp_path / f"{i}.png")
    (tmp_path / "train").write_text("my notes, not a dataset")
    (tmp_path / "test").write_bytes(b"\x00" * 100)
    assert swiftgan.load_dataset(str(tmp_path), image_size=8).shape == (3, 3, 8, 8)
    assert sniff(str(tmp_path / "train")) is None
    with pytest.raises(ValueError, match=r"train: unknown dataset format \(expected from its content"):
        swiftgan.load_dataset(str(tmp_path / "train"))


def test_formats_are_told_by_content_not_by_name(tmp_path):
    blob, _ = cifar_pickle(3)
    (tmp_path / "anything.bin").write_bytes(blob)
    assert swiftgan.load_dataset(str(tmp_path / "anything.bin")).shape == (3, 3, 32, 32)
    np.save(tmp_path / "arr.npy", np.zeros((2, 8, 8), np.uint8))
    os.rename(tmp_path / "arr.npy", tmp_path / "images.dat")
    assert swiftgan.load_dataset(str(tmp_path / "images.dat")).shape == (2, 1, 8, 8)
    (tmp_path / "fake.npy").write_bytes(blob)  # a pickle named .npy is read as what it is, plain data
    assert swiftgan.load_dataset(str(tmp_path / "fake.npy")).shape == (3, 3, 32, 32)


def test_an_npy_of_objects_is_refused_without_unpickling(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([RunsCode(tmp_path / "ran")], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"objects.npy: an array of Python objects: only arrays of numbers are read"):
        swiftgan.load_dataset(str(tmp_path / "objects.npy"))
    assert not (tmp_path / "ran").exists()


# ---- 2. bounded by the content, refused before the work ----------------------------------------------

@pytest.mark.parametrize("name", ["data_batch_1", "x.npy", "train-images-idx3-ubyte", "x.png"])
def test_a_fifo_is_refused_without_blocking(tmp_path, name):
    os.mkfifo(tmp_path / name)
    with pytest.raises(ValueError, match=r"a FIFO, not a regular file: only regular files are read"):
        swiftgan.load_dataset(str(tmp_path / name))


def test_a_fifo_or_device_inside_a_folder_is_never_opened(tmp_path):
    Image.new("L", (8, 8), 3).save(tmp_path / "a.png")
    os.mkfifo(tmp_path / "b.png")
    os.mkfifo(tmp_path / "data_batch_1")
    os.symlink("/dev/zero", tmp_path / "c.png")
    assert swiftgan.load_dataset(str(tmp_path), image_size=8, channels=1).shape == (1, 1, 8, 8)


def test_a_device_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"/dev/zero: a device, not a regular file"):
        swiftgan.load_dataset("/dev/zero")


def gzip_bytes(data):
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb") as f:
        f.write(data)
    return out.getvalue()


def test_a_gzip_whose_header_declares_more_than_it_can_hold_is_refused_before_decompressing(tmp_path):
    header = bytes([0, 0, 8, 3]) + b"".join(v.to_bytes(4, "big") for v in (60000, 28, 28))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip_bytes(header + b"\x00" * 1000))
    with pytest.raises(ValueError, match=r"the header declares 47,040,000 bytes, more than a gzip file of \d+ bytes "
                                         r"can hold \(1032:1 at most\)"):
        swiftgan.load_dataset(str(path))
    path.write_bytes(gzip_bytes(header + os.urandom(200000)))  # a plausible ratio, but the stream is short
    with pytest.raises(ValueError, match=r"truncated: the header declares 47,040,000 bytes, the stream holds 200,000"):
        swiftgan.load_dataset(str(path))


def test_headers_that_declare_more_than_the_file_holds_are_refused_before_allocating(tmp_path):
    header = bytes([0, 0, 8, 3]) + b"".join(v.to_bytes(4, "big") for v in (2 ** 31, 2 ** 16, 2 ** 16))
    (tmp_path / "huge-idx3-ubyte").write_bytes(header + b"\x00" * 64)
    with pytest.raises(MemoryError, match=r"huge-idx3-ubyte: 2,147,483,648 images of 1×65536×65536 needs [\d.]+ TB of "
                                          r"memory"):  # 2^63 bytes: refused from the header, before the size check
        swiftgan.load_dataset(str(tmp_path / "huge-idx3-ubyte"))
    with open(tmp_path / "huge.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (10 ** 6, 3, 64, 64)})
        f.write(b"\x00" * 100)
    with pytest.raises(ValueError, match=r"huge.npy: truncated: header says 49,152,000,000 bytes, file holds 100"):
        swiftgan.load_dataset(str(tmp_path / "huge.npy"))


def test_an_npz_member_that_declares_more_than_its_compressed_size_is_refused(tmp_path):
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, images=np.zeros((4, 8, 8), np.uint8))
    blob = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # uncompressed size: local, central
        at = blob.index(signature) + offset
        blob[at:at + 4] = (2 ** 31 - 1).to_bytes(4, "little")
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match=r"bomb.npz: images.npy declares 2,147,483,647 bytes, more than \d+ "
                                         r"compressed bytes can hold"):
        swiftgan.load_dataset(str(path))


def test_an_encrypted_npz_member_is_refused_not_asked_a_password_for(tmp_path):
    """Found by properties_files.py: zipfile raised RuntimeError ("password required") for a member whose
    encryption flag is set."""
    path = tmp_path / "locked.npz"
    np.savez_compressed(path, images=np.zeros((4, 8, 8), np.uint8))
    blob = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # general purpose flags: local, central
        blob[blob.index(signature) + offset] |= 1
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match=r"locked.npz: images.npy is encrypted; SwiftGAN reads unencrypted .npz archives"):
        swiftgan.load_dataset(str(path))


def test_an_image_declaring_a_hundred_million_pixels_is_skipped_before_decoding(tmp_path):
    Image.new("L", (8, 8), 3).save(tmp_path / "small.png")
    png = bytearray((tmp_path / "small.png").read_bytes())
    png[16:24] = (10000).to_bytes(4, "big") * 2  # IHDR width and height
    png[29:33] = zlib.crc32(bytes(png[12:29])).to_bytes(4, "big")
    (tmp_path / "bomb.png").write_bytes(bytes(png))
    reported = []
    images = swiftgan.datasets.load_image_folder(str(tmp_path), 8, 1, report=lambda p, r: reported.append((p, r)))
    assert images.shape == (1, 1, 8, 8)
    assert reported == [(str(tmp_path / "bomb.png"),
                         "ValueError: 10000×10000 pixels, more than the 67,108,864 an image may have")]


def test_options_are_refused_before_anything_is_read(tmp_path):
    os.mkfifo(tmp_path / "x.npy")  # reading it would block: the refusal comes first
    with pytest.raises(TypeError, match=r"image_size must be an integer, got bool True"):
        swiftgan.load_dataset(str(tmp_path / "x.npy"), image_size=True)
    with pytest.raises(ValueError, match=r"image_size must be in \[1, 4096\], got 0"):
        swiftgan.load_dataset(str(tmp_path / "x.npy"), image_size=0)
    with pytest.raises(ValueError, match=r"channels must be 1 or 3, got 2"):
        swiftgan.load_dataset(str(tmp_path / "x.npy"), channels=2)


def test_a_size_that_would_not_fit_in_memory_is_refused_from_the_header_before_reading():
    # 60,000 Fashion-MNIST images at 4096 × 4096 × 3 in float32: 12 TB
    with pytest.raises(MemoryError, match=r"train-images-idx3-ubyte.gz: 60,000 images of 1×28×28 converted to "
                                          r"3×4096×4096 needs [\d.]+ TB of memory, [\d.]+ [TGM]B are available: "
                                          r"choose a smaller image_size"):
        swiftgan.load_dataset("fashion-mnist", image_size=4096, channels=3)


def test_a_chunk_declaring_4_gb_is_never_allocated(tmp_path):
    """Found by the property test: Pillow reads a PNG chunk by its declared length (here 0xFFFFFFFF); from a file
    it asked for 4 GB. Under a 3 GB address-space limit the image still loads (Pillow tolerates the bad chunk)."""
    Image.new("RGB", (9, 7), (10, 200, 30)).save(tmp_path / "x.png")
    png = bytearray((tmp_path / "x.png").read_bytes())
    at = png.index(b"IDAT") - 4
    png[at:at + 4] = b"\xff\xff\xff\xff"
    (tmp_path / "x.png").write_bytes(bytes(png))
    script = ("import resource, swiftgan; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, resource.RLIM_INFINITY)); "
              f"print(swiftgan.load_dataset({str(tmp_path / 'x.png')!r}, image_size=8).shape)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "(1, 3, 8, 8)", done.stderr[-2000:]


def test_a_npy_of_an_unknown_format_version_is_refused_by_name(tmp_path):
    """Version bytes ff ff made NumPy read the header length as 4 GiB: a MemoryError without a message (found by
    properties_files.py). Only versions 1.0 to 3.0 are read; the refusal names the file and the version."""
    header = b"{'descr': '|u1', 'fortran_order': False, 'shape': (2, 1, 6, 6), }"
    path = tmp_path / "x.npy"
    path.write_bytes(b"\x93NUMPY\xff\xff\xff\xff\xff\xff\xff\xff" + header + b" " * 52 + b"\n" + bytes(72))
    with pytest.raises(ValueError, match=r"x\.npy: a \.npy file of format version 255\.255: versions 1\.0 to 3\.0"):
        swiftgan.load_dataset(str(path))
    np.save(tmp_path / "ok.npy", np.zeros((2, 1, 6, 6), np.uint8))
    assert swiftgan.load_dataset(str(tmp_path / "ok.npy")).shape == (2, 1, 6, 6)
