"""`swiftgan study`: losses × seeds on a local Dask cluster (or a scheduler's), killed midway and resumed exactly,
diverged runs reported, failed runs named, settings that differ from the folder's refused."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from swiftgan import run as runs
from swiftgan.study import StudyError, study

TINY = ["--ngf", "4", "--ndf", "4", "--z-dim", "8", "--no-tensorboard", "--eval-n", "100"]
ITERS, EVERY = 80, 20


def command(out, *extra):
    return [sys.executable, "-m", "swiftgan", "study", "--losses", "RaSGAN,LSGAN", "--seeds", "2", "--iters",
            str(ITERS), "--eval-every", str(EVERY), "--no-progress", "--out", str(out), *TINY, *extra]


def checkpoint_iteration(folder):
    try:
        with open(os.path.join(folder, "checkpoint", "trainer.json")) as f:
            return json.load(f)["iteration"]
    except (FileNotFoundError, ValueError):
        return 0


def test_a_study_killed_midway_resumes_where_it_stopped_and_trains_as_if_it_had_not(tmp_path):
    out = tmp_path / "study"
    names = [f"{loss}-seed{seed}" for seed in (1, 2) for loss in ("RaSGAN", "LSGAN")]
    process = subprocess.Popen(command(out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)  # the command, its scheduler and its workers: one group
    deadline = time.monotonic() + 300
    try:
        while True:  # kill it once a run is over and another has a checkpoint but is not over
            finished = [n for n in names if os.path.isfile(out / "runs" / n / "study-run.json")]
            midway = [n for n in names if n not in finished and 0 < checkpoint_iteration(out / "runs" / n) < ITERS]
            if finished and midway:
                break
            assert process.poll() is None, f"the study ended before it could be killed midway:\n{process.stdout.read()}"
            assert time.monotonic() < deadline, "no run reached a checkpoint in 300 s"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    over = {n: (out / "runs" / n / "metrics.csv").read_bytes() for n in finished}
    result = subprocess.run(command(out), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"({len(over)} runs were already finished)" in (out / "study.md").read_text()
    assert "| RaSGAN | 2 | 0 |" in result.stdout and "| LSGAN | 2 | 0 |" in result.stdout, result.stdout
    for name in names:
        record = json.loads((out / "runs" / name / "study-run.json").read_text())
        assert record["iterations"] == ITERS and record["diverged"] is None
        assert [e["iteration"] for e in record["evaluations"]] == list(range(EVERY, ITERS + 1, EVERY))
        metrics = runs.read_metrics(str(out / "runs" / name / "metrics.csv"))
        np.testing.assert_array_equal(metrics["iteration"], np.arange(1, ITERS + 1), err_msg=name)
        assert (out / "grids" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name, data in over.items():  # a finished run is not trained again
        assert (out / "runs" / name / "metrics.csv").read_bytes() == data, name
    # the run that was midway continued exactly: the same rows as the run trained without a stop
    name = midway[0]
    loss, seed = name.split("-seed")
    record = json.loads((out / "runs" / name / "study-run.json").read_text())
    runs.train(out=str(tmp_path / "alone"), progress=False, loss=loss, seed=int(seed), iters=ITERS, eval_every=EVERY,
               save_every=EVERY, sample_every=EVERY, eval_n=100, ngf=4, ndf=4, z_dim=8, tensorboard=False, morph=False,
               n_samples=64, threads=record["threads"])
    alone = runs.read_metrics(str(tmp_path / "alone" / "metrics.csv"))
    resumed = runs.read_metrics(str(out / "runs" / name / "metrics.csv"))
    for column in ("d_loss", "g_loss", "d_real", "d_fake", "fid", "kid"):
        np.testing.assert_array_equal(resumed[column], alone[column], err_msg=f"{name} {column}")
    with open(out / "runs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(names) * (ITERS // EVERY)
    for picture in ("fid.png", "losses.png"):
        assert (out / picture).stat().st_size > 1000
    # the same folder with another experiment is refused, before any worker starts
    changed = subprocess.run(command(out)[:-len(TINY)] + ["--ngf", "8", "--ndf", "4", "--z-dim", "8",
                                                          "--no-tensorboard", "--eval-n", "100"],
                             capture_output=True, text=True, timeout=120)
    assert changed.returncode == 2
    assert "holds a study with other settings (ngf differ)" in changed.stderr, changed.stderr


def test_a_diverged_run_is_reported_not_dropped_and_a_scheduler_address_is_used(tmp_path):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40) as cluster:
        summary = study(str(tmp_path / "s"), ["RaSGAN", "LSGAN"], seeds=1, iters=20, eval_every=10, eval_n=100,
                        scheduler=cluster.scheduler_address, progress=False, ngf=4, ndf=4, z_dim=8, tensorboard=False,
                        lr_d=1e12, lr_g=1e12)
    assert summary["losses"]["RaSGAN"]["diverged"] == 1 and summary["losses"]["LSGAN"]["diverged"] == 1
    report = (tmp_path / "s" / "study.md").read_text()
    assert "| RaSGAN-seed1 | " in report and "diverged at " in report
    record = json.loads((tmp_path / "s" / "runs" / "RaSGAN-seed1" / "study-run.json").read_text())
    assert record["diverged"]["iteration"] == record["iterations"] + 1 and "not finite" in record["diverged"]["message"]


def test_a_loss_entry_can_name_its_own_networks(tmp_path):
    summary = study(str(tmp_path / "s"), ["RaSGAN", "BEGAN@began"], seeds=1, iters=4, eval_every=2, eval_n=10,
                    workers=1, progress=False, ngf=4, ndf=4, z_dim=8, tensorboard=False)
    assert list(summary["losses"]) == ["RaSGAN", "BEGAN@began"]
    assert runs.load_run(str(tmp_path / "s" / "runs" / "BEGAN@began-seed1")).config["arch"] == "began"
    assert runs.load_run(str(tmp_path / "s" / "runs" / "RaSGAN-seed1")).config["arch"] == "dcgan"
    assert "| BEGAN@began | 1 | 0 |" in (tmp_path / "s" / "study.md").read_text()


def test_failed_runs_are_named_and_the_others_reported(tmp_path):
    data = str(tmp_path / "three.npy")  # three images: a batch of 8 fails in each run, once training starts
    np.save(data, np.zeros((3, 32, 32), np.uint8))
    with pytest.raises(StudyError, match=r"2 of 2 runs failed .*RaSGAN-seed1: ValueError: batch_size must be in "
                                         r"\[1, 3\] for a dataset of 3, got 8"):
        study(str(tmp_path / "s"), ["RaSGAN"], seeds=2, iters=4, eval_every=0, eval_n=10, workers=1, progress=False,
              dataset=data, batch_size=8, ngf=4, ndf=4, z_dim=8)
    assert "failed: ValueError" in (tmp_path / "s" / "study.md").read_text()


def test_a_missing_dataset_is_refused_before_any_run(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"dataset '.*nowhere': no such file or folder"):
        study(str(tmp_path / "s"), ["RaSGAN"], seeds=2, iters=4, workers=1, progress=False,
              dataset=str(tmp_path / "nowhere"), ngf=4, ndf=4, z_dim=8)
    assert not os.path.exists(tmp_path / "s" / "runs")


def test_bad_studies_are_refused_before_any_worker_starts(tmp_path):
    cases = [(dict(losses=["RaSGAN", "RaSGAN"]), ValueError, "a loss is given twice"),
             (dict(losses=[]), ValueError, "give at least one loss"),
             (dict(losses=["RaSGAN"], seeds=0), ValueError, "seeds must be an int ≥ 1, got 0"),
             (dict(losses=["RaSGAN"], save_every=5), ValueError, "save_every: the study sets these for each run"),
             (dict(losses=["NoSuchGAN"]), ValueError, "unknown loss .NoSuchGAN.; known losses: SGAN"),
             (dict(losses=["EBGAN"]), ValueError, r"EBGAN: loss EBGAN needs an auto-encoder critic: arch "
                                                  r"'autoencoder', 'ebgan', 'began' or 'mlp', got 'dcgan' \(in a study, "
                                                  r"give a loss its own networks as LOSS@ARCH, e.g. EBGAN@ebgan"),
             (dict(losses=["RaSGAN"], ngff=4), ValueError, "unknown option 'ngff'; did you mean ngf")]
    for given, kind, message in cases:
        given = dict(given)
        losses = given.pop("losses")
        with pytest.raises(kind, match=message):
            study(str(tmp_path / "s"), losses, progress=False, **given)
    assert not os.path.exists(tmp_path / "s" / "runs")


def test_without_dask_the_study_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` raises ImportError
    with pytest.raises(StudyError, match=r"swiftgan study runs on Dask, which is not installed: pip install "
                                         r"'swiftgan\[study\]'"):
        study(str(tmp_path / "s"), ["RaSGAN"], seeds=1, iters=2, progress=False, ngf=4, ndf=4, z_dim=8)
