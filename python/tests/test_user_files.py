"""Principles 6, 7 and 9 of the Guarantees: a user's files are theirs (SwiftGAN writes only into folders it created
or recognises, never removes what it did not write, locks a run while training, names temporaries so they cannot
collide); one source of truth on resume; every CLI failure on a bad file, a full disk, a read-only folder or an
unreachable scheduler is one line, exit status non-zero."""
import hashlib
import os
import resource
import subprocess
import sys
import time

import numpy as np
import pytest

import swiftgan
from swiftgan import GAN
from swiftgan.ownership import FolderInUseError

TINY = dict(ngf=8, ndf=8, z_dim=8, batch_size=16, sample_every=5, save_every=5, n_samples=16, progress=False,
            morph=False)
SMALL = dict(image_size=32, channels=1, ngf=4, ndf=4, z_dim=4)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("data") / "noise.npy"
    np.save(path, rng.uniform(-1, 1, (64, 1, 32, 32)).astype(np.float32))
    return str(path)


def tree(folder):
    """Every file below `folder` with its SHA-256 (what must stay exactly as the user had it)."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return found


def users_folder(path):
    path.mkdir()
    (path / "thesis.tex").write_text("my thesis")
    (path / "data").mkdir()
    (path / "data" / "notes.txt").write_text("notes")
    return tree(path)


def cli(*args, cwd=None, limit_file_size=None):
    def limits():
        if limit_file_size is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size, limit_file_size))
    return subprocess.run([sys.executable, "-m", "swiftgan", *map(str, args)], capture_output=True, text=True,
                          timeout=600, cwd=cwd, preexec_fn=limits)


def one_line_error(done, command="train"):
    assert done.returncode != 0, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"swiftgan {command}: error: "), lines[0]
    return lines[0]


# ---- 6. a user's files are theirs ---------------------------------------------------------------------

def test_train_into_a_folder_of_the_users_is_refused_and_changes_nothing(dataset, tmp_path):
    before = users_folder(tmp_path / "mine")
    with pytest.raises(FileExistsError, match=r"mine holds files SwiftGAN did not write \(data, thesis.tex\): choose "
                                              r"another folder, or pass --force"):
        swiftgan.train(str(tmp_path / "mine"), dataset=dataset, iters=2, **TINY)
    line = one_line_error(cli("train", "--dataset", dataset, "--iters", 2, "--out", tmp_path / "mine"))
    assert "holds files SwiftGAN did not write" in line
    assert tree(tmp_path / "mine") == before and sorted(os.listdir(tmp_path / "mine")) == ["data", "thesis.tex"]


def test_force_writes_the_run_beside_the_users_files_and_never_over_one(dataset, tmp_path):
    before = users_folder(tmp_path / "mine")
    run = swiftgan.train(str(tmp_path / "mine"), dataset=dataset, iters=3, force=True, **TINY)
    assert run.iteration == 3
    assert {k: v for k, v in tree(tmp_path / "mine").items() if k in before} == before
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "config.yaml").write_text("my own config")
    (tmp_path / "theirs" / "samples").mkdir()
    with pytest.raises(FileExistsError, match=r"theirs: config.yaml, samples already exist and are not SwiftGAN's: "
                                              r"choose another folder \(even with --force"):
        swiftgan.train(str(tmp_path / "theirs"), dataset=dataset, iters=2, force=True, **TINY)
    assert (tmp_path / "theirs" / "config.yaml").read_text() == "my own config"
    with pytest.raises(FileExistsError, match=r"already holds a run: resume it"):  # a run is never restarted over
        swiftgan.train(str(tmp_path / "mine"), dataset=dataset, iters=2, force=True, **TINY)


def test_a_file_as_the_run_folder_is_refused(dataset, tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(FileExistsError, match=r"f is a file, not a folder: choose another path"):
        swiftgan.train(str(tmp_path / "f"), dataset=dataset, iters=2, **TINY)
    assert (tmp_path / "f").read_text() == "x"


def test_save_never_replaces_or_removes_a_folder_that_is_not_a_checkpoint(tmp_path):
    before = users_folder(tmp_path / "mine")
    with GAN(**SMALL) as gan:
        for _ in range(2):  # the second save once removed what the first had moved aside
            with pytest.raises(FileExistsError, match=r"mine exists and is not a SwiftGAN checkpoint: choose another "
                                                      r"path \(SwiftGAN never replaces or removes what it did not write\)"):
                gan.save(str(tmp_path / "mine"))
        assert tree(tmp_path / "mine") == before and not os.path.exists(tmp_path / "mine.previous")
        (tmp_path / "mine.txt").write_text("a file")
        with pytest.raises(FileExistsError, match=r"mine.txt exists and is not a SwiftGAN checkpoint"):
            gan.save(str(tmp_path / "mine.txt"))
        users_folder(tmp_path / "ckpt.previous")  # the name the previous checkpoint would take
        with pytest.raises(FileExistsError, match=r"ckpt.previous exists and is not a SwiftGAN checkpoint"):
            gan.save(str(tmp_path / "ckpt"))
        assert not os.path.exists(tmp_path / "ckpt")
        gan.save(str(tmp_path / "real"))
        gan.save(str(tmp_path / "real"))  # replaces its own checkpoint, keeps the one before as .previous
        assert sorted(os.listdir(tmp_path / "real.previous")) == sorted(os.listdir(tmp_path / "real"))
        (tmp_path / "empty").mkdir()
        gan.save(str(tmp_path / "empty"))  # an empty folder holds nothing to lose
        assert GAN.load(str(tmp_path / "empty")).iteration == 0


def test_temporary_folders_of_other_paths_and_live_processes_are_never_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    live = str(os.getppid())
    names = {f".swiftgan-tmp.{dead}.0123456789ab.run": False,      # a killed save of exactly this path: removed
             f".swiftgan-tmp.{dead}.0123456789ab.run-2": True,     # of another path sharing the prefix: kept
             f".swiftgan-tmp.{live}.0123456789ab.run": True,       # of a live process: kept
             ".tmp-run-xyz": True}                                 # not ours at all: kept
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "file").write_text("x")
    with GAN(**SMALL) as gan:
        gan.save(str(tmp_path / "run"))
    assert {name: os.path.exists(tmp_path / name) for name in names} == names


def test_a_second_process_on_a_run_is_refused_naming_the_first(dataset, tmp_path):
    run = swiftgan.train(str(tmp_path / "run"), dataset=dataset, iters=2, **TINY)
    first = subprocess.Popen([sys.executable, "-m", "swiftgan", "train", "--resume", run.path, "--iters", "100000",
                              "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lock = os.path.join(run.path, ".swiftgan-lock")
        deadline = time.monotonic() + 60
        while not (os.path.exists(lock) and f"process {first.pid} " in open(lock).read()):
            if time.monotonic() > deadline or first.poll() is not None:
                first.kill()
                raise AssertionError(f"the first process took no lock in 60 s: {first.communicate()}")
            time.sleep(0.1)
        rows = len(open(os.path.join(run.path, "metrics.csv")).readlines())
        with pytest.raises(FolderInUseError, match=rf"run: the run is in use by process {first.pid} on .+ since .+: "
                                                   r"wait for it to end, or choose another folder"):
            swiftgan.train(resume=run.path, iters=200000, progress=False)
        line = one_line_error(cli("train", "--resume", run.path, "--iters", 200000))
        assert f"in use by process {first.pid}" in line
    finally:
        first.kill()
        first.wait()
    resumed = swiftgan.train(resume=run.path, iters=run.iteration + 5 if run.iteration else 7, progress=False)
    metrics = resumed.metrics
    assert list(metrics["iteration"]) == list(range(1, resumed.iteration + 1)), "no row lost or doubled"
    assert rows >= 3


def test_single_file_outputs_are_never_replaced_without_force(dataset, tmp_path):
    run = swiftgan.train(str(tmp_path / "run"), dataset=dataset, iters=2, **TINY)
    (tmp_path / "mine.png").write_bytes(b"my picture")
    line = one_line_error(cli("sample", run.path, "--out", tmp_path / "mine.png"), "sample")
    assert line.endswith("mine.png exists: choose another name, or pass --force (force=True) to replace it")
    assert (tmp_path / "mine.png").read_bytes() == b"my picture"
    assert cli("sample", run.path, "--out", tmp_path / "mine.png", "--force").returncode == 0
    os.mkdir(tmp_path / "pngs")
    (tmp_path / "pngs" / "000001.png").write_bytes(b"mine")
    line = one_line_error(cli("sample", run.path, "--n", 3, "--out", str(tmp_path / "pngs") + "/"), "sample")
    assert "already holds 1 of the files this writes (000001.png, ...)" in line
    assert (tmp_path / "pngs" / "000001.png").read_bytes() == b"mine"


def test_a_study_into_a_folder_of_the_users_is_refused(tmp_path):
    before = users_folder(tmp_path / "mine")
    line = one_line_error(cli("study", "--losses", "RaSGAN", "--dataset", "fashion-mnist", "--iters", 2,
                              "--out", tmp_path / "mine"), "study")
    assert "holds files SwiftGAN did not write" in line and tree(tmp_path / "mine") == before


# ---- 7. one source of truth on resume ------------------------------------------------------------

def test_a_run_whose_config_was_edited_is_refused_naming_the_setting(dataset, tmp_path):
    run = swiftgan.train(str(tmp_path / "run"), dataset=dataset, iters=5, **TINY)
    config = os.path.join(run.path, "config.yaml")
    text = open(config).read()
    open(config, "w").write(text.replace("loss: RaSGAN", "loss: RaLSGAN"))
    with pytest.raises(ValueError, match=r"config.yaml says loss = 'RaLSGAN', its checkpoint holds a GAN with loss = "
                                         r"'RaSGAN': the run's records disagree"):
        swiftgan.train(resume=run.path, iters=10, progress=False)


def test_a_resume_from_another_directory_reads_the_same_data_and_notices_a_change(tmp_path):
    data = tmp_path / "work" / "data.npy"
    data.parent.mkdir()
    np.save(data, np.random.default_rng(1).uniform(-1, 1, (64, 1, 32, 32)).astype(np.float32))
    done = cli("train", "--dataset", "data.npy", "--iters", 5, "--save-every", 5, "--batch-size", 16, "--ngf", 8,
               "--ndf", 8, "--z-dim", 8, "--no-morph", "--no-progress", "--out", tmp_path / "run", cwd=tmp_path / "work")
    assert done.returncode == 0, done.stderr
    assert swiftgan.Run(str(tmp_path / "run")).config["dataset"] == str(data)  # recorded absolute
    done = cli("train", "--resume", tmp_path / "run", "--iters", 7, "--no-progress", cwd="/")
    assert done.returncode == 0, done.stderr
    np.save(data, np.random.default_rng(2).uniform(-1, 1, (64, 1, 32, 32)).astype(np.float32))
    line = one_line_error(cli("train", "--resume", tmp_path / "run", "--iters", 9, cwd="/"))
    assert "data.npy changed since the run started (the same number of images, with other values)" in line
    np.save(data, np.zeros((40, 1, 32, 32), np.float32))
    line = one_line_error(cli("train", "--resume", tmp_path / "run", "--iters", 9, cwd="/"))
    assert "changed since the run started (64 images of [1, 32, 32], now 40 of [1, 32, 32])" in line


# ---- 9. errors, not tracebacks -------------------------------------------------------------------

@pytest.mark.parametrize("limit", [4096, 60_000, 400_000])  # fails on the latents, a grid, a checkpoint
def test_a_full_disk_is_one_line(dataset, tmp_path, limit):
    done = cli("train", "--dataset", dataset, "--iters", 5, "--batch-size", 16, "--ngf", 8, "--ndf", 8, "--no-progress",
               "--out", tmp_path / "run", limit_file_size=limit)
    line = one_line_error(done)
    assert ("File too large" in line or "while writing the run (a full disk" in line) and str(tmp_path / "run") in line


def test_a_read_only_folder_is_one_line(dataset):
    line = one_line_error(cli("train", "--dataset", dataset, "--iters", 2, "--out", "/sys/swiftgan-run"))
    assert "/sys/swiftgan-run" in line and ("not permitted" in line or "Read-only" in line or "denied" in line)


def test_a_damaged_checkpoint_and_a_missing_run_are_one_line(dataset, tmp_path):
    run = swiftgan.train(str(tmp_path / "run"), dataset=dataset, iters=5, **TINY)
    for name in ("checkpoint", "checkpoint.previous"):
        path = os.path.join(run.path, name, "weights.safetensors")
        if os.path.exists(path):
            with open(path, "r+b") as f:
                f.truncate(100)
    line = one_line_error(cli("train", "--resume", run.path, "--iters", 9))
    assert "weights.safetensors" in line
    line = one_line_error(cli("sample", tmp_path / "nothing"), "sample")
    assert "no SwiftGAN run at" in line


def test_an_unreachable_scheduler_is_one_line(tmp_path):
    done = cli("study", "--losses", "RaSGAN", "--dataset", "fashion-mnist", "--iters", 2, "--scheduler",
               "tcp://127.0.0.1:9", "--out", tmp_path / "study")
    line = one_line_error(done, "study")
    assert "127.0.0.1:9" in line
