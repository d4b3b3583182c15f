"""Checkpoints on disk: a file truncated, altered or replaced is refused with CheckpointDamagedError, never loaded.

(Runs killed at random moments, and `--resume` falling back to the previous checkpoint, are tried in
test_runs_and_cli.py.)
"""
import json
import os
import random
import re
import shutil
import subprocess

import numpy as np
import pytest

import swiftgan
from swiftgan import GAN
from swiftgan.checkpoint import CHECKSUMS, FILES

SMALL = dict(image_size=32, channels=1, z_dim=8, ngf=4, ndf=4, seed=3, loss="RaSGAN-GP", ema_decay=0.9)
CASES_PER_FILE = 60  # truncations and as many byte changes, for each of the four files


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A checkpoint after two steps, and the state_dict it holds."""
    path = tmp_path_factory.mktemp("ckpt") / "c"
    with GAN(**SMALL) as gan:
        for seed in range(2):
            gan.train_step(np.random.default_rng(seed).uniform(-1, 1, (4, 1, 32, 32)).astype(np.float32))
        gan.save(str(path))
        return path, gan.state_dict()


def damaged_copies(original, tmp_path, rng):
    """(description, folder) of copies of the checkpoint at `original`, each with one file truncated at a random
    offset or one random byte changed to another value; and, for every file, the damage a lenient parser forgives:
    the last byte lost, a newline turned into \r or \f."""
    for name in FILES + (CHECKSUMS,):
        data = (original / name).read_bytes()
        newline = data.find(b"\n") if b"\n" in data else len(data) - 1
        fixed = [(data[:-1], f"{name} without its last byte")] + [
            (data[:newline] + other + data[newline + 1:], f"{name} byte {newline} changed to {other!r}")
            for other in (b"\r", b"\f")]
        for case in range(2 * CASES_PER_FILE + len(fixed)):
            if case < CASES_PER_FILE:
                offset = rng.randrange(len(data))
                damaged, what = data[:offset], f"{name} truncated to {offset} of {len(data)} bytes"
            elif case < 2 * CASES_PER_FILE:
                offset = rng.randrange(len(data))
                value = (data[offset] + rng.randrange(1, 256)) % 256
                damaged = data[:offset] + bytes([value]) + data[offset + 1:]
                what = f"{name} byte {offset} changed from {data[offset]} to {value}"
            else:
                damaged, what = fixed[case - 2 * CASES_PER_FILE]
            folder = tmp_path / "copy"
            shutil.rmtree(folder, ignore_errors=True)
            shutil.copytree(original, folder)
            (folder / name).write_bytes(damaged)
            yield what, folder


def test_every_truncated_or_altered_checkpoint_file_is_refused(saved, tmp_path):
    original, state = saved
    seed = random.SystemRandom().randrange(1 << 30)
    tried = 0
    for what, folder in damaged_copies(original, tmp_path, random.Random(seed)):
        try:
            GAN.load(str(folder)).close()
        except swiftgan.CheckpointDamagedError as error:
            assert re.search(r"the checkpoint at .*copy is damaged: ", str(error)), f"seed {seed}, {what}: {error}"
            assert any(name in str(error) for name in FILES + (CHECKSUMS,)), f"seed {seed}, {what}: {error}"
        else:
            pytest.fail(f"seed {seed}, {what}: loaded")
        tried += 1
    assert tried == 4 * (2 * CASES_PER_FILE + 3)
    with GAN.load(str(original)) as gan:  # the original still loads, with the weights it was saved with
        for key, value in state.items():
            np.testing.assert_array_equal(gan.state_dict()[key], value, err_msg=key)


def test_a_damaged_checkpoint_names_the_complete_previous_one(saved, tmp_path):
    original, _ = saved
    with GAN.load(str(original)) as gan:
        gan.save(str(tmp_path / "c"))  # iteration 2
        gan.train_step(np.zeros((4, 1, 32, 32), np.float32))
        gan.save(str(tmp_path / "c"))  # iteration 3; iteration 2 is kept as c.previous
    with open(tmp_path / "c" / "optimizer.safetensors", "r+b") as f:
        f.seek(100)
        f.write(b"\0\0\0\0")
    with pytest.raises(swiftgan.CheckpointDamagedError, match=r"c is damaged: optimizer.safetensors \(\d+ bytes\) does "
                       r"not match .*; the previous checkpoint, .*c.previous \(iteration 2\), is complete: load it"):
        GAN.load(str(tmp_path / "c"))
    with GAN.load(str(tmp_path / "c.previous")) as previous:
        assert previous.iteration == 2


def test_missing_and_foreign_files_are_refused(saved, tmp_path):
    original, _ = saved
    folder = tmp_path / "c"

    def fresh():
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(original, folder)

    def reseal():  # checksums made over whatever the folder now holds, as a user's hand-assembled folder would be
        listing = subprocess.run(["sha256sum", *FILES], cwd=folder, capture_output=True, text=True, check=True).stdout
        (folder / CHECKSUMS).write_text(listing)

    for name in FILES:
        fresh()
        os.remove(folder / name)
        with pytest.raises(swiftgan.CheckpointDamagedError, match=f"damaged: {name} is missing"):
            GAN.load(str(folder))
    fresh()
    os.remove(folder / CHECKSUMS)
    with pytest.raises(swiftgan.CheckpointDamagedError, match="checksums.sha256 is missing"):
        GAN.load(str(folder))
    fresh()
    (folder / "weights.safetensors").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    reseal()
    with pytest.raises(swiftgan.CheckpointDamagedError, match="weights.safetensors is not a readable safetensors file"):
        GAN.load(str(folder))
    for foreign, message in [("[1, 2]", "trainer.json holds a JSON list, not the object of a trainer state"),
                             ('{"format": "swiftgan-checkpoint-3", "config": "x"}', "trainer.json lacks config, "
                                                                                   "iteration, scalars"),
                             ("{not json", "trainer.json is not valid JSON")]:
        fresh()
        (folder / "trainer.json").write_text(foreign)
        reseal()
        with pytest.raises(swiftgan.CheckpointDamagedError, match=message):
            GAN.load(str(folder))
    fresh()
    state = json.loads((folder / "trainer.json").read_text())
    state["format"] = "keras-h5"
    (folder / "trainer.json").write_text(json.dumps(state))
    reseal()
    with pytest.raises(ValueError, match="unsupported checkpoint format 'keras-h5', expected 'swiftgan-checkpoint-3'"):
        GAN.load(str(folder))
    fresh()
    state = json.loads((folder / "trainer.json").read_text())
    state["config"]["ngf"] = "8"  # another architecture than the weights'
    (folder / "trainer.json").write_text(json.dumps(state))
    reseal()
    with pytest.raises(ValueError, match=r"the files do not fit the GAN their trainer.json describes: .*G.main.0.weight: "
                       r"expected shape \[8, 32, 4, 4\], got \[8, 16, 4, 4\]"):
        GAN.load(str(folder))
