"""Whole experiments in a run folder: `train(...)` and `load_run(path)`, which the `swiftgan` command uses.

A run folder holds:

    config.yaml             the resolved configuration (run options and every GAN option)
    metrics.csv             one row per iteration: losses, critic means, penalty, BEGAN's k and M_global, time
    tensorboard/            TensorBoard event files (the same scalars, and the sample grids)
    samples/iter_NNNNNN.png grids of one fixed latent batch (fixed_latents.npy), every `sample_every` iterations
    evolution.gif           those grids across training
    losses.png              the loss curves
    morph.gif               a latent morph of the final generator
    checkpoint/             weights, optimizer and trainer state, and the data sampler's state (atomic, checksummed)
    checkpoint.previous/    the checkpoint before it: --resume falls back to it when checkpoint/ is damaged
    checkpoints/iter_NNNNNN/ with keep_checkpoints: every checkpoint saved (hard links to checkpoint/'s files), which
                            `swiftgan evaluate --checkpoints all` measures
"""
from __future__ import annotations

import contextlib
import csv
import difflib
import io
import json
import math
import os
import re
import shutil
import signal
import threading
import time
import warnings
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

from .animations import evolution, morph, sample_grids
from .checkpoint import CheckpointDamagedError
from .datacache import ImageCache, plan_dataset
from .datasets import BatchSampler
from ._native import TrainingDivergedError
from .gan import GAN, _STAT_NAMES
from .options import OPTION_SHORTHANDS, config_lines, option_table
from .ownership import LOCK_NAME, FolderLock, claim_folder, is_checkpoint, owned_by
from .images import make_grid, write_png
from .plots import plot_losses

RUN_FORMAT = "swiftgan-run-1"

# Options of a run beside the GAN's own (`GAN(...)` keyword arguments, see `gan_option_names`).
RUN_DEFAULTS: "OrderedDict[str, object]" = OrderedDict([
    ("dataset", "fashion-mnist"),  # a name or a path, see `load_dataset`
    ("class_name", None),          # an image folder's class sub-folder
    ("cache_dir", None),           # where the dataset's image cache is (None: datacache.default_cache_dir())
    ("image_size", 32),
    ("channels", None),            # None: the dataset's own
    ("batch_size", 64),
    ("iters", 1000),
    ("epochs", None),              # instead of iters: passes over the dataset (iters = ⌈epochs·N / (batch·n_critic)⌉)
    ("sample_every", 100),
    ("save_every", 500),
    ("n_samples", 64),             # images in each sample grid
    ("seed", 1),                   # the GAN's weights and random stream, the data order, the fixed latents
    ("tensorboard", True),
    ("morph", True),               # write morph.gif when training ends
    ("threads", None),             # None: the cores available (also a GAN option; not part of the experiment)
    ("eval_every", 0),             # FID and KID every N iterations (0: never)
    ("eval_n", 2000),              # samples (and real images) of each evaluation
    ("feature_network", None),     # the evaluations' feature network file (None: the shipped Fashion-MNIST one)
    ("keep_checkpoints", False),   # keep every checkpoint in checkpoints/iter_NNNNNN (for evaluate --checkpoints all)
])
# What `resume` may change: how long to train and what to write, never the experiment itself.
RESUMABLE = ("iters", "epochs", "sample_every", "save_every", "tensorboard", "morph", "threads", "eval_every",
             "eval_n", "feature_network", "keep_checkpoints", "cache_dir")
EVALUATION_COLUMNS = ("fid", "kid")  # NaN in the rows of iterations not evaluated
METRIC_COLUMNS = ("iteration",) + _STAT_NAMES + EVALUATION_COLUMNS + ("time",)


def gan_option_names() -> List[str]:
    """The keyword arguments of `GAN(...)`, in order: the core's option table, the shorthands, `threads`."""
    return list(option_table()) + list(OPTION_SHORTHANDS) + ["threads"]


def option_names() -> List[str]:
    """Every option `train` accepts: the run's, then the GAN's."""
    return list(RUN_DEFAULTS) + [name for name in gan_option_names() if name not in RUN_DEFAULTS]


def normalise_options(options: Mapping[str, object], source: str) -> Dict[str, object]:
    """`options` with keys spelled as Python names (`lr-d` → `lr_d`, `class` → `class_name`).

    Raises:
        ValueError: for an unknown option, naming the closest known ones.
    """
    known = option_names()
    out = {}
    for key, value in options.items():
        name = str(key).replace("-", "_")
        name = "class_name" if name == "class" else name
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else f"; known options: {', '.join(known)}"
            raise ValueError(f"{source}: unknown option {key!r}{hint}")
        out[name] = value
    return out


def read_yaml(path: str) -> object:
    """A YAML file as plain data (safe_load: no code runs, whatever the file), with numbers such as 2e-4 read as
    floats (YAML 1.1 asks for 2.0e-4, and reads 2e-4 as a string).

    Raises:
        FileNotFoundError: for a missing file; ValueError: for a file that is not YAML."""
    import yaml

    from .untrusted import read_regular

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
                                 list("-+0123456789"))
    try:
        return yaml.load(read_regular(path, 1 << 20).decode("utf-8"), Loader=Loader)
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid YAML: {' '.join(str(error).split())}") from None


def read_config(path: str) -> Dict[str, object]:
    """A YAML file of options (a mapping; keys as on the command line or in Python)."""
    data = read_yaml(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a config file must be a YAML mapping of options, got {type(data).__name__}")
    return normalise_options(data, path)


def _write_yaml(data: Mapping[str, object], path: str) -> None:
    import yaml

    plain = {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}
    tmp = path + ".partial"
    with open(tmp, "w") as f:
        f.write("# SwiftGAN run configuration: `swiftgan train --config` this file to repeat the run\n")
        yaml.safe_dump(plain, f, sort_keys=False)
    os.replace(tmp, path)


def _check_positive(settings: Mapping[str, object], names) -> None:
    for name in names:
        value = settings[name]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def _samples_per_batch(settings: Mapping[str, object]) -> int:
    """Images drawn per batch: batch_size, times `pack` with PacGAN (the critic still judges batch_size)."""
    return int(settings["batch_size"]) * int(settings.get("pack") or 1)


class _Epochs:
    """Epochs over a dataset of `images` samples when each iteration draws `per_iteration` of them."""

    def __init__(self, images: int, per_iteration: int):
        self.images, self.per_iteration = images, per_iteration

    def completed(self, it: int) -> int:
        """Epochs completed after `it` iterations."""
        return it * self.per_iteration // self.images

    def ends_at(self, epoch: int) -> int:
        """The iteration at which `epoch` epochs are completed."""
        return -(-epoch * self.images // self.per_iteration)


EPOCH_GRID = re.compile(r"^epoch_(\d{3,})\.png$")


def _iterations_for(settings: Mapping[str, object], images: int, n_critic: int) -> int:
    """The iterations of `epochs` passes over `images` samples: each iteration draws n_critic batches."""
    per_iteration = _samples_per_batch(settings) * n_critic
    return -(-int(settings["epochs"]) * images // per_iteration)


RUN_MARKER = ".swiftgan-run"
# every name a run writes in its folder (with --force, none may be taken by a file of the user's)
RUN_FILES = ("config.yaml", "config.yaml.partial", "metrics.csv", "metrics.csv.partial", "fixed_latents.npy",
             "samples", "checkpoint", "checkpoint.previous", "checkpoint.damaged", "checkpoints", "tensorboard",
             "losses.png", "fid.png", "evolution.gif", "morph.gif", "dataset.json", "dataset.json.partial", RUN_MARKER)


def _is_legacy_run(path: str) -> bool:
    """A run folder written before run folders were marked: its config.yaml is the one `train` writes."""
    try:
        with open(os.path.join(path, "config.yaml")) as f:
            return f.readline().startswith("# SwiftGAN run configuration")
    except (OSError, UnicodeDecodeError):
        return False


def _default_out(settings: Mapping[str, object]) -> str:
    dataset = re.sub(r"[^A-Za-z0-9_-]+", "-", os.path.basename(str(settings["dataset"]).rstrip("/")) or "data")
    return os.path.join("runs", f"{settings.get('loss') or 'RaSGAN'}-{dataset}-{time.strftime('%Y%m%d-%H%M%S')}")


class Run:
    """A run folder written by `train`: its configuration, metrics, grids and checkpoint."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        config_path = os.path.join(self.path, "config.yaml")
        if not os.path.isfile(config_path):
            raise FileNotFoundError(f"no SwiftGAN run at {path!r} (missing config.yaml)")
        if not owned_by(self.path, RUN_MARKER, "run", legacy=_is_legacy_run):
            raise FileNotFoundError(f"no SwiftGAN run at {path!r}: its config.yaml was not written by swiftgan train")
        self.config: Dict[str, object] = read_config(config_path)

    def __repr__(self) -> str:
        return f"Run({self.path!r}, loss={self.config.get('loss')!r}, iteration={self.iteration})"

    @property
    def checkpoint(self) -> str:
        return os.path.join(self.path, "checkpoint")

    @property
    def iteration(self) -> int:
        """The iteration of the last checkpoint (0 before the first)."""
        try:
            with open(os.path.join(self.checkpoint, "trainer.json")) as f:
                return int(json.load(f)["iteration"])
        except FileNotFoundError:
            return 0

    @property
    def metrics(self) -> Dict[str, np.ndarray]:
        """metrics.csv as NumPy arrays by column: iteration, the step statistics (`swiftgan.gan.STATISTICS`:
        d_loss, g_loss, d_real, d_fake, penalty, k, m_global, d_loss_real, d_loss_fake), time (seconds since the
        run started)."""
        return read_metrics(os.path.join(self.path, "metrics.csv"))

    def gan(self) -> GAN:
        """The GAN of the last checkpoint (a new object; close it when done)."""
        return GAN.load(self.checkpoint)

    @property
    def kept_checkpoints(self) -> List[tuple]:
        """(iteration, folder) of each checkpoint kept in checkpoints/ (with keep_checkpoints), by iteration."""
        folder = os.path.join(self.path, "checkpoints")
        names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
        return [(int(name[5:]), os.path.join(folder, name)) for name in names if re.fullmatch(r"iter_\d+", name)]

    @property
    def fixed_latents(self) -> np.ndarray:
        return np.load(os.path.join(self.path, "fixed_latents.npy"))

    @property
    def sample_grids(self) -> List[tuple]:
        """(iteration, path) of each sample grid, by iteration."""
        return sample_grids(os.path.join(self.path, "samples"))

    def plot(self, path: Optional[str] = None, window: Optional[int] = None) -> str:
        """Writes the loss curves (default `losses.png` in the run folder); returns the path."""
        title = f"{self.config.get('loss')} on {os.path.basename(str(self.config.get('dataset')).rstrip('/'))}"
        return plot_losses(self.metrics, path or os.path.join(self.path, "losses.png"), title, window)

    def morph(self, path: Optional[str] = None, **options) -> str:
        """Writes a latent morph of the checkpoint's generator (default `morph.gif` in the run folder; see
        `animations.morph` for the options); returns the path."""
        with self.gan() as gan:
            return morph(gan, path or os.path.join(self.path, "morph.gif"), **options)

    def _repr_png_(self) -> Optional[bytes]:
        grids = self.sample_grids
        if not grids:
            return None
        with open(grids[-1][1], "rb") as f:
            return f.read()


def load_run(path: str) -> Run:
    """The run in folder `path` (written by `train` or `swiftgan train`)."""
    return Run(path)


def read_metrics(path: str) -> Dict[str, np.ndarray]:
    """A metrics.csv as NumPy arrays by column (empty arrays when it has no rows yet)."""
    columns: Dict[str, list] = OrderedDict((c, []) for c in METRIC_COLUMNS)
    if os.path.isfile(path):
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                for c in columns:
                    columns[c].append(row.get(c) or "nan")  # a column an older version did not write: NaN
    return OrderedDict((c, np.asarray(v, dtype=np.int64 if c == "iteration" else np.float64)) for c, v in columns.items())


def _truncate_metrics(path: str, last: int) -> None:
    """Drops the rows after iteration `last` (written after the checkpoint a resumed run starts from), and
    brings the file to today's columns (a statistic an older version did not write is NaN in its rows)."""
    if not os.path.isfile(path):
        return
    with open(path, newline="") as f:
        text = f.read()
    if not text.endswith("\n"):  # a row torn by a process killed while writing it: after the checkpoint
        text = text[:text.rfind("\n") + 1]
    rows = list(csv.DictReader(io.StringIO(text)))
    kept = [list(METRIC_COLUMNS)] + [[row.get(c) or "nan" for c in METRIC_COLUMNS] for row in rows
                                     if row.get("iteration") and int(row["iteration"]) <= last]
    tmp = path + ".partial"
    with open(tmp, "w", newline="") as f:
        csv.writer(f).writerows(kept)
    os.replace(tmp, path)


# ---- the pieces of a run the training loop calls ----------------------------------------------------------
#
# Each concern of a run is one small object with `step(it, stats)` (after every iteration) and `close()`: the
# metrics file, TensorBoard, the sample grids, the checkpoints and the progress bar. Adding a concern (such
# as evaluation) adds one such object to the list `train` builds.


class _Clock:
    """Seconds of training, across resumes: `elapsed` is what the run's checkpoint records."""

    def __init__(self, elapsed: float):
        self.started = time.perf_counter() - elapsed

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


class _Metrics:
    """metrics.csv: one row per iteration (METRIC_COLUMNS), flushed before every checkpoint."""

    def __init__(self, path: str, clock: _Clock):
        self.clock = clock
        self.file = open(path, "a", newline="")
        self.writer = csv.writer(self.file)

    def step(self, it: int, stats: Mapping[str, float]) -> None:
        self.writer.writerow([it] + [repr(float(stats.get(name, math.nan))) for name in _STAT_NAMES + EVALUATION_COLUMNS]
                             + [f"{self.clock.elapsed:.3f}"])

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class _TensorBoard:
    """Scalars and sample grids into `folder` with tensorboardX (a no-op when disabled)."""

    def __init__(self, folder: str, enabled: bool, purge_step: Optional[int], loss: str):
        self.writer = None
        if enabled:
            from tensorboardX import SummaryWriter

            self.writer = SummaryWriter(logdir=folder, purge_step=purge_step, flush_secs=30)
        self.began = loss.upper() == "BEGAN"

    def step(self, it: int, stats: Mapping[str, float]) -> None:
        if self.writer is None:
            return
        w = self.writer
        w.add_scalar("loss/D", stats["d_loss"], it)
        w.add_scalar("loss/G", stats["g_loss"], it)
        w.add_scalar("critic/real", stats["d_real"], it)
        w.add_scalar("critic/fake", stats["d_fake"], it)
        w.add_scalar("loss/penalty", stats["penalty"], it)
        if not math.isnan(stats["d_loss_real"]):  # the loss has a term on real and one on fake data
            w.add_scalar("loss/D_real", stats["d_loss_real"], it)
            w.add_scalar("loss/D_fake", stats["d_loss_fake"], it)
        if self.began:
            w.add_scalar("began/k", stats["k"], it)
            w.add_scalar("began/M_global", stats["m_global"], it)
        if stats["skipped_steps"] > 0:  # non_finite=skip has skipped an iteration's update
            w.add_scalar("train/skipped_steps", stats["skipped_steps"], it)
        for name in EVALUATION_COLUMNS:
            if not math.isnan(stats.get(name, math.nan)):
                w.add_scalar(f"metrics/{name}", stats[name], it)

    def image(self, it: int, grid: np.ndarray) -> None:
        if self.writer is not None:
            self.writer.add_image("samples", grid, it, dataformats="HWC")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class _Evaluations:
    """FID and KID of `n` samples (fixed latents) against `n` images of the dataset (a seeded subset), in a feature
    network's space, every `every` iterations and at the last (0: never); they enter the step's statistics for the
    pieces after it (metrics.csv, TensorBoard, the progress bar). Generating from fixed latents in evaluation mode
    touches neither the GAN's random stream nor its state, so a run with evaluations trains exactly as one without.
    They compute on the run's threads, so a run's figures are the same wherever it trains (a Dask worker's
    default is one thread). Over several ranks, each measures its share of the real and generated images and the
    features are gathered; every rank calls `step` (rank 0 computes the figures)."""

    def __init__(self, gan: GAN, images: np.ndarray, every: int, last: int, n: int, network: Optional[str], seed: int,
                 communicator: object = None):
        from .features import Reference

        self.gan, self.every, self.last, self.n, self.seed = gan, every, last, n, seed
        self.reference = None
        self.leader = communicator is None or communicator.rank == 0
        if every:
            self.reference = Reference(images, n, gan.sample_shape, network, seed, threads=gan.threads,
                                       remedy="train one for this data (swiftgan features train) and give it with "
                                              "--feature-network", communicator=communicator)
            self.latents = gan.latents(n, seed=seed + 1)

    def step(self, it: int, stats: Dict[str, float]) -> None:
        if not self.every or (it % self.every and it != self.last):
            return
        from .metrics import fid, kernel_distance

        fake = self.reference.fake_features(gan=self.gan, latents=self.latents)
        if not self.leader:
            return
        real = self.reference.real
        stats["fid"] = fid(real, fake)
        stats["kid"] = kernel_distance(real, fake, subsets=20, subset_size=min(1000, self.n), seed=self.seed)[0]

    def close(self) -> None:
        if self.reference is not None:
            self.reference.close()
            self.reference = None


class _SampleGrids:
    """samples/iter_NNNNNN.png (and TensorBoard's image) of the fixed latent batch, every `every` iterations
    and at the last; in a run given in epochs, also samples/epoch_EEE.png at the end of each epoch (EEE: the
    epochs completed, from 001), as the projects that count in epochs name theirs."""

    def __init__(self, gan: GAN, latents: np.ndarray, folder: str, every: int, last: int, board: _TensorBoard,
                 epochs: Optional["_Epochs"] = None):
        self.gan, self.latents, self.folder, self.every, self.last, self.board = gan, latents, folder, every, last, board
        self.epochs = epochs

    def write(self, it: int, iteration_grid: bool = True, epoch: Optional[int] = None) -> None:
        grid = make_grid(self.gan.generate(self.latents))
        if iteration_grid:
            write_png(grid, os.path.join(self.folder, f"iter_{it:06d}.png"))
            self.board.image(it, grid)
        if epoch is not None:
            write_png(grid, os.path.join(self.folder, f"epoch_{epoch:03d}.png"))

    def step(self, it: int, stats: Mapping[str, float]) -> None:
        epoch = self.epochs.completed(it) if self.epochs else 0
        ended = epoch if self.epochs and epoch > self.epochs.completed(it - 1) else None
        if it % self.every == 0 or it == self.last or ended is not None:
            self.write(it, iteration_grid=it % self.every == 0 or it == self.last, epoch=ended)

    def close(self) -> None:
        pass


class _Checkpoints:
    """checkpoint/ every `every` iterations and at the last, with the sampler's state and the training time;
    `save()` also when the run stops early. The metrics file is flushed first, so that it holds every row of
    the iterations a checkpoint covers."""

    def __init__(self, gan: GAN, folder: str, sampler: BatchSampler, clock: _Clock, metrics: _Metrics,
                 every: int, last: int, keep: bool):
        self.gan, self.folder, self.sampler, self.clock, self.metrics = gan, folder, sampler, clock, metrics
        self.every, self.last, self.keep = every, last, keep
        self.saved_iteration = gan.iteration  # the iteration of the checkpoint on disk
        if keep and os.path.isdir(folder):
            self._keep()  # a run killed between a save and its copy

    def save(self) -> None:
        self.metrics.flush()
        self.gan.save(self.folder, extra={"format": RUN_FORMAT, "sampler": self.sampler.state_dict(),
                                          "elapsed": self.clock.elapsed})
        self.saved_iteration = self.gan.iteration
        if self.keep:
            self._keep()

    def _keep(self) -> None:
        """checkpoints/iter_NNNNNN: hard links to checkpoint/'s files (a save writes new files, never changes
        one), made in a temporary folder and renamed, so a kept checkpoint is complete or absent."""
        with open(os.path.join(self.folder, "trainer.json")) as f:
            iteration = int(json.load(f)["iteration"])
        kept = os.path.join(os.path.dirname(self.folder), "checkpoints", f"iter_{iteration:06d}")
        if os.path.isdir(kept):
            return
        partial = kept + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        os.makedirs(partial)
        for name in os.listdir(self.folder):
            try:
                os.link(os.path.join(self.folder, name), os.path.join(partial, name))
            except OSError:  # a file system without hard links
                shutil.copy2(os.path.join(self.folder, name), os.path.join(partial, name))
        os.rename(partial, kept)

    def save_if_behind(self) -> None:
        if self.gan.iteration != self.saved_iteration:
            self.save()

    def step(self, it: int, stats: Mapping[str, float]) -> None:
        if it % self.every == 0 or it == self.last:
            self.save()

    def close(self) -> None:
        pass


class _Progress:
    """A tqdm progress bar (a widget in Jupyter) with the latest losses every 10 iterations."""

    def __init__(self, enabled: bool, start: int, last: int, title: str):
        from tqdm.auto import tqdm

        self.last, self.fid = last, None
        self.bar = tqdm(total=last, initial=start, disable=not enabled, unit="it", dynamic_ncols=True, desc=title)

    def step(self, it: int, stats: Mapping[str, float]) -> None:
        self.bar.update(1)
        if it % 10 == 0 or it == self.last:
            if not math.isnan(stats.get("fid", math.nan)):
                self.fid = stats["fid"]
            skipped = {"skipped": int(stats["skipped_steps"])} if stats["skipped_steps"] > 0 else {}
            if self.fid is not None:
                skipped["fid"] = f"{self.fid:.3g}"
            self.bar.set_postfix(d_loss=f"{stats['d_loss']:.3f}", g_loss=f"{stats['g_loss']:.3f}",
                                 real=f"{stats['d_real']:+.2f}", fake=f"{stats['d_fake']:+.2f}", **skipped, refresh=False)

    def write(self, text: str) -> None:
        self.bar.write(text)

    def close(self) -> None:
        self.bar.close()


@contextlib.contextmanager
def _deferred_interrupt():
    """Within it, a first Ctrl-C (SIGINT) only sets `["requested"]`, so that the training step running and its
    metrics row complete together before the loop stops; a second Ctrl-C raises at once. Outside the main
    thread (where signal handlers cannot be set) interrupts are not deferred."""
    state = {"requested": False}
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    previous = signal.getsignal(signal.SIGINT)

    def request_stop(signum, frame):
        if state["requested"]:
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        state["requested"] = True

    signal.signal(signal.SIGINT, request_stop)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


# ---- train: settings, the GAN to start from, the loop ---------------------------------------------------


def _settings(out: Optional[str], resume: Optional[str], config: Optional[str],
              given: Dict[str, object], force: bool = False) -> "tuple[Dict[str, object], str]":
    """The run's settings (defaults, then the config file or the resumed run's config.yaml, then `given`) and
    its folder, checked."""
    if resume is not None:
        if out is not None and os.path.abspath(out) != os.path.abspath(resume):
            raise ValueError(f"out ({out}) and resume ({resume}) differ: a resumed run continues in its own folder")
        run = Run(resume)
        changed = {k: v for k, v in given.items() if k not in RESUMABLE and v != run.config.get(k)}
        if changed:
            raise ValueError(f"cannot change {', '.join(sorted(changed))} when resuming {resume}: only "
                             f"{', '.join(RESUMABLE)} may be given (start a new run to change the experiment)")
        if config is not None:
            raise ValueError("config cannot be given when resuming: the run's own config.yaml is used")
        settings, path = {**RUN_DEFAULTS, **run.config, **given}, run.path  # options newer than the run: defaults
    else:
        settings = {**RUN_DEFAULTS, **(read_config(config) if config else {}), **given}
        path = os.path.abspath(out or _default_out(settings))
        held = claim_folder(path, RUN_MARKER, "run", RUN_FILES, force, legacy=_is_legacy_run, create=False)
        if held and os.path.isfile(os.path.join(path, "config.yaml")):  # (a run killed before it: started again)
            raise FileExistsError(f"{path} already holds a run: resume it (--resume {path}) or choose another folder")
    if "epochs" in given and "iters" in given:
        raise ValueError("give iters or epochs, not both: epochs sets the iterations from the dataset's size")
    if "iters" in given:  # a later iters replaces the epochs of the run's config (when resuming)
        settings["epochs"] = None
    if settings.get("epochs") is not None:
        _check_positive(settings, ("epochs",))
    _check_positive(settings, ("batch_size", "iters", "sample_every", "save_every", "n_samples", "eval_n"))
    every = settings.get("eval_every", 0)
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 0:
        raise ValueError(f"eval_every must be an int ≥ 0 (0: never), got {every!r}")
    for name in ("tensorboard", "morph", "keep_checkpoints"):
        if not isinstance(settings.get(name), (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool (true or false), got {type(settings.get(name)).__name__} "
                            f"{settings.get(name)!r}")
    if settings["batch_size"] < 2:
        raise ValueError(f"batch_size must be at least 2, got {settings['batch_size']}")
    config_lines(_gan_options(settings))  # the GAN options' types, before a dataset is loaded
    return settings, path


def _newest_complete_checkpoint(path: str) -> Optional[GAN]:
    """The GAN of the run's newest complete checkpoint: checkpoint/, or, when it is damaged (a file truncated or
    altered since its save), the one it replaced, checkpoint.previous, which takes its place (the damaged one is
    kept as checkpoint.damaged, with a warning). None when the run stopped before its first checkpoint.

    Raises:
        CheckpointDamagedError: when both are damaged."""
    folder = os.path.join(path, "checkpoint")
    previous = folder + ".previous"
    try:
        return GAN.load(folder)
    except FileNotFoundError:
        return None
    except CheckpointDamagedError as error:
        if not os.path.isdir(previous):
            raise
        damage = error
    gan = GAN.load(previous)
    damaged = folder + ".damaged"
    if is_checkpoint(damaged):  # the one an earlier fall back kept
        shutil.rmtree(damaged)
    if os.path.exists(folder):
        os.rename(folder, damaged)
    os.rename(previous, folder)
    warnings.warn(f"{str(damage).split('; the previous')[0]}; resuming from the checkpoint before it (iteration "
                  f"{gan.iteration}); the damaged one is kept in {damaged}", RuntimeWarning, stacklevel=3)
    return gan


def _continue(gan: GAN, path: str, settings: Dict[str, object], sampler: BatchSampler,
              images: int) -> "tuple[GAN, float, np.ndarray]":
    """`gan`, of a run's checkpoint, with the sampler restored and what was written after it removed; also the
    training time so far and the fixed latents."""
    gan.threads = settings.get("threads")
    extra = gan.checkpoint_extra
    if extra.get("format") != RUN_FORMAT:
        gan.close()
        raise ValueError(f"{path}/checkpoint was not written by a run (no sampler state); load it with GAN.load")
    recorded = Run(path).config
    for name, value in gan.options.items():  # config.yaml and the checkpoint: one experiment
        written = recorded.get(name)
        written = tuple(written) if isinstance(written, list) else written
        if name != "threads" and written is not None and written != value:
            gan.close()
            raise ValueError(f"{path}: config.yaml says {name} = {written!r}, its checkpoint holds a GAN with {name} = "
                             f"{value!r}: the run's records disagree (was config.yaml edited?); restore it, or start a "
                             "new run")
    sampler.load_state_dict(extra["sampler"])
    if settings.get("epochs") is not None:
        settings["iters"] = _iterations_for(settings, images, gan.n_critic)
    _truncate_metrics(os.path.join(path, "metrics.csv"), gan.iteration)
    for it, grid in sample_grids(os.path.join(path, "samples")):  # written after the checkpoint by the run that stopped
        if it > gan.iteration:
            os.remove(grid)
    epochs = _Epochs(images, _samples_per_batch(settings) * gan.n_critic)
    for name in os.listdir(os.path.join(path, "samples")):
        found = EPOCH_GRID.match(name)
        if found and epochs.ends_at(int(found.group(1))) > gan.iteration:
            os.remove(os.path.join(path, "samples", name))
    for it, kept in Run(path).kept_checkpoints:  # after a fall back to checkpoint.previous
        if it > gan.iteration:
            shutil.rmtree(kept)
    return gan, float(extra["elapsed"]), np.load(os.path.join(path, "fixed_latents.npy"))


DATASET_RECORD = "dataset.json"


def _legacy_fingerprint(images) -> Dict[str, object]:
    """The record of runs written before the image cache: the shape and the SHA-256 of the float32 values."""
    import hashlib

    digest = hashlib.sha256()
    for start in range(0, len(images), 4096):
        digest.update(np.ascontiguousarray(images[np.arange(start, min(start + 4096, len(images)))]).tobytes())
    return {"shape": [int(s) for s in images.shape], "sha256": digest.hexdigest()}


def _write_dataset_record(path: str, images: ImageCache) -> None:
    """dataset.json: the shape and the SHA-256 of the uint8 images the run trains on (the cache's)."""
    tmp = os.path.join(path, DATASET_RECORD + ".partial")
    with open(tmp, "w") as f:
        json.dump({"format": 2, "shape": [int(s) for s in images.shape], "sha256_uint8": images.sha256}, f, indent=2)
    os.replace(tmp, os.path.join(path, DATASET_RECORD))


def _legacy_record(path: str) -> bool:
    """Whether the run's dataset.json was written before the image cache (a run that trains on float32 images held
    in memory, as it started: resized arrays were not rounded to 8 bits then)."""
    try:
        with open(os.path.join(path, DATASET_RECORD)) as f:
            return json.load(f).get("format") != 2
    except (FileNotFoundError, ValueError, AttributeError):
        return False


def _check_dataset_record(path: str, dataset: str, images) -> None:
    """Refuses a resume whose dataset is not the one the run started on (runs written before the record: unchecked)."""
    try:
        with open(os.path.join(path, DATASET_RECORD)) as f:
            recorded = json.load(f)
    except FileNotFoundError:
        return
    shape = [int(s) for s in images.shape]
    if recorded.get("format") == 2:
        same = recorded["shape"] == shape and recorded["sha256_uint8"] == images.sha256
    else:  # written before the cache: the float32 values' digest
        same = recorded == _legacy_fingerprint(images)
    if not same:
        what = (f"{recorded['shape'][0]} images of {recorded['shape'][1:]}, now {shape[0]} of {shape[1:]}"
                if shape != recorded["shape"] else "the same number of images, with other values")
        raise ValueError(f"{path}: the dataset {dataset} changed since the run started ({what}): resuming would not "
                         "continue the same experiment; restore the data, or start a new run")


def _gan_options(settings: Mapping[str, object]) -> Dict[str, object]:
    """The `GAN(...)` keyword arguments among the run's settings (pairs from YAML lists made tuples)."""
    gan_options = {k: settings[k] for k in gan_option_names() if settings.get(k) is not None and k != "threads"}
    for pair in ("betas", "betas_d", "betas_g", "lsgan_targets"):
        if isinstance(gan_options.get(pair), list):
            gan_options[pair] = tuple(gan_options[pair])
    return gan_options


def _new_gan(settings: Mapping[str, object], shape: Sequence[int]) -> GAN:
    """The GAN the settings describe for images of `shape` [N, C, S, S], checked to generate that shape."""
    gan_options = _gan_options(settings)
    gan_options.update(channels=int(shape[1]), image_size=int(shape[-1]), threads=settings.get("threads"))
    gan = GAN(**gan_options)
    if gan.sample_shape != tuple(shape[1:]):
        gan.close()
        raise ValueError(f"arch {gan_options.get('arch')!r} generates samples of shape {list(gan.sample_shape)}, "
                         f"the dataset holds images of {list(shape[1:])}: train the MLP on points from "
                         "Python (swiftgan.toy), or choose an image architecture")
    return gan


def _start(path: str, settings: Dict[str, object], images: ImageCache) -> "tuple[GAN, np.ndarray]":
    """A new GAN for the run, with config.yaml, the fixed latents and an empty metrics.csv written."""
    gan = _new_gan(settings, images.shape)
    samples_dir = os.path.join(path, "samples")
    os.makedirs(samples_dir, exist_ok=True)
    for _, grid in sample_grids(samples_dir):
        os.remove(grid)
    for name in os.listdir(samples_dir):  # only the run's own names: iter_NNNNNN.png, epoch_EEE.png
        if EPOCH_GRID.match(name):
            os.remove(os.path.join(samples_dir, name))
    if settings.get("epochs") is not None:
        settings["iters"] = _iterations_for(settings, len(images), gan.n_critic)
    resolved = {k: v for k, v in settings.items() if k in RUN_DEFAULTS}
    resolved.update(channels=int(images.shape[1]), image_size=int(images.shape[-1]))
    resolved.update(gan.options)
    if os.path.exists(str(resolved["dataset"])):  # a path: recorded absolute, so a resume from elsewhere reads it
        resolved["dataset"] = os.path.abspath(str(resolved["dataset"]))
    _write_yaml(resolved, os.path.join(path, "config.yaml"))
    _write_dataset_record(path, images)
    latents = gan.latents(int(settings["n_samples"]), seed=int(settings["seed"]))
    np.save(os.path.join(path, "fixed_latents.npy"), latents)
    with open(os.path.join(path, "metrics.csv"), "w", newline="") as f:
        csv.writer(f).writerow(METRIC_COLUMNS)
    return gan, latents


def train(out: Optional[str] = None, *, resume: Optional[str] = None, config: Optional[str] = None,
          progress: bool = True, force: bool = False, communicator: object = None, **options) -> Run:
    """Runs a whole experiment into a run folder and returns the `Run`.

    Args:
        out: the run folder (default `runs/<loss>-<dataset>-<time>`); it must not hold a run already.
        resume: a run folder to continue from its last checkpoint, exactly as if it had not stopped; only
            `iters` (or `epochs`), `sample_every`, `save_every`, `tensorboard`, `morph` and `threads` may be given
            again (to train longer).
        config: a YAML file of options; keyword arguments override it.
        progress: show a progress bar (tqdm; a notebook widget in Jupyter).
        force: write a new run into a folder that holds other files (beside them: none of the names the run
            writes may be taken; nothing of theirs is changed or removed).
        communicator: with several ranks (`swiftgan.distributed.world()` under `mpirun`), one training spread over
            them: every rank calls `train` with the same arguments; rank 0 writes the run folder and is the one that
            reads `out`, `resume` and `config`; the others follow its settings and state, train on their slices of
            each batch, and return None. A failure on any rank ends every rank (MPI_Abort) after its message.
        options: the run's options (`RUN_DEFAULTS`: dataset, class_name, image_size, channels, batch_size,
            iters or epochs, sample_every, save_every, n_samples, seed, tensorboard, morph, threads) and any
            `GAN(...)` option
            (loss, arch, lr_d, lr_g, betas, n_critic, z_dim, ...).

    Interrupted (Ctrl-C), it completes the iteration under way, saves a checkpoint and raises
    KeyboardInterrupt, so `resume` continues from there (a second Ctrl-C stops at once).

    Raises:
        ValueError: for an unknown or invalid option, or an option `resume` cannot change.
        FileExistsError: when `out` already holds a run, is a file, or holds files SwiftGAN did not write (without
            `force`).
        swiftgan.ownership.FolderInUseError: when another process is training in the run folder (named in the message).
        FileNotFoundError: for a missing dataset, config file or run to resume.
    """
    if communicator is not None and communicator.size > 1:
        return _on_every_rank(communicator, lambda: _train_rank0(out, resume, config, progress, force, communicator,
                                                                 options)
                              if communicator.rank == 0 else _follow(communicator))
    return _train_rank0(out, resume, config, progress, force, None, options)


def _on_every_rank(communicator, body):
    """`body()`; an error on this rank that its peers cannot know of ends every rank, after its message (a
    divergence and an interrupt are collective: every rank raises them at the same iteration)."""
    try:
        return body()
    except (KeyboardInterrupt, TrainingDivergedError):
        raise
    except BaseException as error:
        communicator.abandon(f"swiftgan train: error: {type(error).__name__}: {' '.join(str(error).split())}")
        raise


def _train_rank0(out, resume, config, progress, force, communicator, options) -> Run:
    settings, path = _settings(out, resume, config, normalise_options(options, "train()"), force)
    plan = plan_dataset(str(settings["dataset"]), image_size=settings["image_size"], channels=settings["channels"],
                        class_name=settings["class_name"], cache_dir=settings.get("cache_dir"))
    if progress:
        print(f"swiftgan: {plan.describe()}", flush=True)
    if resume is None:  # the options and the data agree, before anything is decoded
        _new_gan(settings, plan.shape).close()
    if settings.get("eval_every"):  # FID asked for: a network that takes these images, before anything is decoded
        from .features import network_fit

        unfit = network_fit(settings.get("feature_network"), plan.shape[1:])
        if unfit:
            raise ValueError(f"eval_every {settings['eval_every']} asks for FID and KID, and {unfit}: give "
                             "--feature-network (a network trained on this data with `swiftgan features train`, or "
                             "Inception's weights), or --eval-every 0")
    if resume is not None and _legacy_record(path):  # started before the cache: on the float32 images it trained on
        from .datasets import load_dataset

        images = load_dataset(str(settings["dataset"]), image_size=settings["image_size"],
                              channels=settings["channels"], class_name=settings["class_name"])
    else:
        images = plan.open(progress=progress)  # the disk checked first
    sampler = BatchSampler(images, _samples_per_batch(settings), seed=int(settings["seed"]), prefetch=1)
    try:
        run = _train_in(path, settings, images, sampler, resume, force, progress, communicator)
        if progress and sampler.batches:
            print(f"swiftgan: waited {1000 * sampler.waited / sampler.batches:.2f} ms per batch for data "
                  f"({sampler.batches:,} batches read from {getattr(images, 'folder', 'memory')})")
        return run
    except OSError as error:
        if error.filename is None:  # a write that failed without naming its file (NumPy's): say where
            raise OSError(error.errno, f"{error.strerror or error} while writing the run (a full disk, or a file size "
                                       "limit?)", path) from error
        raise
    finally:
        sampler.close()
        if isinstance(images, ImageCache):
            images.close()


def _train_in(path: str, settings: Dict[str, object], images: ImageCache, sampler: BatchSampler,
              resume: Optional[str], force: bool, progress: bool, communicator: object = None) -> Run:
    created = resume is None and not os.path.lexists(path)
    if resume is None:
        claim_folder(path, RUN_MARKER, "run", RUN_FILES, force, legacy=_is_legacy_run)
    else:
        _check_dataset_record(path, str(settings["dataset"]), images)
    with FolderLock(path, "run"):  # a second process on this run is refused, naming this one
        resumed = _newest_complete_checkpoint(path) if resume is not None else None
        if resumed is not None:
            last = (_iterations_for(settings, len(images), resumed.n_critic) if settings.get("epochs") is not None
                    else int(settings["iters"]))
            if resumed.iteration >= last:  # said; only the products a run killed at its end missed are written
                at = resumed.iteration
                if communicator is not None:  # the other ranks have nothing to train either
                    communicator.broadcast_object(json.dumps({"settings": None, "run": None}))
                try:
                    written = _finish(path, resumed, settings, missing_only=True)
                finally:
                    resumed.close()
                if progress:
                    given = (f"{settings['epochs']} epochs ({last} iterations)" if settings.get("epochs") is not None
                             else f"iters {last}")
                    print(f"swiftgan: nothing to train: {path} is at iteration {at}, and {given} ends there or "
                          f"before; give --iters (or --epochs) beyond {at} to train on"
                          + (f" (wrote {', '.join(written)}, missing since the run stopped)" if written else ""))
                return Run(path)
            gan, elapsed, latents = _continue(resumed, path, settings, sampler, len(images))
        else:  # a new run, or one stopped before its first checkpoint: (re)start from iteration 0
            try:
                (gan, latents), elapsed = _start(path, settings, images), 0.0
            except BaseException:
                if created:  # refused before its first file: the folder made for it goes
                    for name in (RUN_MARKER, LOCK_NAME, "samples"):
                        with contextlib.suppress(OSError):
                            (os.rmdir if name == "samples" else os.remove)(os.path.join(path, name))
                    with contextlib.suppress(OSError):
                        os.rmdir(path)
                raise
        try:
            if communicator is not None:
                _lead(communicator, gan, sampler, settings, path if resumed is not None else None)
            _loop(gan, sampler, latents, path, settings, elapsed, resumed=resume is not None, progress=progress,
                  communicator=communicator)
            if communicator is not None:
                _check_same_state(communicator, gan, sampler, "at the end")
            _finish(path, gan, settings)
        finally:
            gan.close()
    return Run(path)


# ---- one run over several ranks (MPI) -------------------------------------------------------------------------

def _state_digest(gan: GAN, sampler: BatchSampler) -> str:
    """SHA-256 of everything a rank's training depends on: weights, optimizer state, trainer scalars (the random
    stream), the sampler's position."""
    import hashlib

    digest = hashlib.sha256()
    for name, value in {**gan.state_dict(), **gan.optimizer_state()}.items():
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    digest.update(json.dumps(gan.scalars, sort_keys=True).encode())
    digest.update(json.dumps(sampler.state_dict(), sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _check_same_state(communicator, gan: GAN, sampler: BatchSampler, when: str) -> None:
    """Raises unless every rank holds rank 0's state (a collective)."""
    mine = _state_digest(gan, sampler)
    theirs = communicator.broadcast_object(mine)
    if not communicator.agree(mine == theirs):
        raise RuntimeError(f"the ranks' training states differ {when} (rank {communicator.rank}: "
                           f"{'same as' if mine == theirs else 'not'} rank 0's): the ranks must run the same "
                           "SwiftGAN on the same data")


def _lead(communicator, gan: GAN, sampler: BatchSampler, settings: Mapping[str, object],
          resumed_from: Optional[str]) -> None:
    """Rank 0: tells the other ranks the run's settings and where its state comes from, then trains with them."""
    gan.distribute(communicator)
    plain = json.loads(json.dumps(dict(settings), default=lambda v: v.item() if hasattr(v, "item") else str(v)))
    communicator.broadcast_object(json.dumps({"settings": plain, "run": resumed_from}))
    _check_same_state(communicator, gan, sampler, "at the start")


def _follow(communicator) -> None:
    """A rank other than 0: the run rank 0 describes, trained on this rank's slices; writes nothing."""
    start = json.loads(communicator.broadcast_object(None))
    settings = start["settings"]
    if settings is None:  # rank 0 found the run finished
        return None
    plan = plan_dataset(str(settings["dataset"]), image_size=settings["image_size"], channels=settings["channels"],
                        class_name=settings["class_name"], cache_dir=settings.get("cache_dir"))
    images = plan.open(progress=False)
    sampler = BatchSampler(images, _samples_per_batch(settings), seed=int(settings["seed"]), prefetch=1)
    try:
        if start["run"] is not None:
            gan = GAN.load(os.path.join(start["run"], "checkpoint"))
            gan.threads = settings.get("threads")
            sampler.load_state_dict(gan.checkpoint_extra["sampler"])
        else:
            gan = _new_gan(settings, images.shape)
        try:
            gan.distribute(communicator)
            _check_same_state(communicator, gan, sampler, "at the start")
            last, k = int(settings["iters"]), gan.n_critic
            if sampler.prefetch:
                sampler.prefetch = k
            evaluations = _Evaluations(gan, images, int(settings.get("eval_every") or 0), last,
                                       int(settings.get("eval_n") or 2000), settings.get("feature_network"),
                                       int(settings["seed"]), communicator)  # its share of each FID's features
            try:
                with _deferred_interrupt() as interrupt:
                    it = gan.iteration
                    while it < last and communicator.agree(not interrupt["requested"]):
                        real = sampler.next() if k == 1 else np.stack([sampler.next() for _ in range(k)])
                        gan.train_step(real)
                        it += 1
                        evaluations.step(it, {})
                    if it < last:
                        raise KeyboardInterrupt
            finally:
                evaluations.close()
            _check_same_state(communicator, gan, sampler, "at the end")
        finally:
            gan.close()
    finally:
        sampler.close()
        if isinstance(images, ImageCache):
            images.close()
    return None


def _finish(path: str, gan: GAN, settings: Mapping[str, object], missing_only: bool = False) -> List[str]:
    """The products of a finished run: losses.png, evolution.gif and (with morph) morph.gif; with `missing_only`,
    only those that are not there. Returns the names written."""
    products = [("losses.png", lambda target: Run(path).plot(target)),
                ("evolution.gif", lambda target: evolution(os.path.join(path, "samples"), target))]
    if settings["morph"] and len(gan.sample_shape) == 3:
        products.append(("morph.gif", lambda target: morph(gan, target, seed=int(settings["seed"]))))
    written = []
    for name, write in products:
        if not (missing_only and os.path.exists(os.path.join(path, name))):
            write(os.path.join(path, name))
            written.append(name)
    return written


def _loop(gan: GAN, sampler: BatchSampler, latents: np.ndarray, path: str, settings: Mapping[str, object],
          elapsed: float, resumed: bool, progress: bool, communicator: object = None) -> None:
    """Trains from `gan.iteration` to `settings["iters"]`, calling each piece of the run after every step."""
    start, last, k = gan.iteration, int(settings["iters"]), gan.n_critic
    if sampler.prefetch:  # an iteration's batches read while the one before trains
        sampler.prefetch = k
    evaluations = _Evaluations(gan, sampler.images, int(settings.get("eval_every") or 0), last,
                               int(settings.get("eval_n") or 2000), settings.get("feature_network"), int(settings["seed"]),
                               communicator)
    clock = _Clock(elapsed)
    metrics = _Metrics(os.path.join(path, "metrics.csv"), clock)
    board = _TensorBoard(os.path.join(path, "tensorboard"), bool(settings["tensorboard"]),
                         start + 1 if resumed else None, gan.loss)
    epochs = (_Epochs(len(sampler.images), sampler.batch_size * k) if settings.get("epochs") is not None else None)
    grids = _SampleGrids(gan, latents, os.path.join(path, "samples"), int(settings["sample_every"]), last, board,
                         epochs)
    checkpoints = _Checkpoints(gan, os.path.join(path, "checkpoint"), sampler, clock, metrics,
                               int(settings["save_every"]), last, bool(settings.get("keep_checkpoints")))
    bar = _Progress(progress, start, last, f"{gan.loss} {os.path.basename(path)}")
    pieces = [evaluations, metrics, board, grids, checkpoints, bar]  # called in this order after every step
    try:
        if start == 0:
            grids.write(0)
        it = start
        try:
            with _deferred_interrupt() as interrupt:
                def go_on() -> bool:  # with several ranks, they stop together (an interrupt reaches each alone)
                    if communicator is None:
                        return not interrupt["requested"]
                    return communicator.agree(not interrupt["requested"])

                while it < last and go_on():
                    drawn_from = sampler.state_dict()
                    real = sampler.next() if k == 1 else np.stack([sampler.next() for _ in range(k)])
                    try:
                        stats = gan.train_step(real)
                    except TrainingDivergedError as error:
                        sampler.load_state_dict(drawn_from)  # the checkpoint resumes with this iteration's batch
                        state = {**gan.state_dict(), **gan.optimizer_state()}
                        bad = next((name for name, value in state.items() if not np.isfinite(value).all()), None)
                        if bad is not None:  # never saved as "the last good state" (the refusal restores it)
                            raise TrainingDivergedError(f"{error}\n{bad} is not finite: nothing was saved; the last good "
                                                        f"state is the checkpoint in {checkpoints.folder}") from error
                        checkpoints.save()
                        raise TrainingDivergedError(
                            f"{error}\nThe last good state (iteration {gan.iteration}) is saved in {checkpoints.folder}. "
                            f"To continue with other options, start a new run from {path}/config.yaml with them changed "
                            "(e.g. swiftgan train --config RUN/config.yaml --lr-d 1e-4 --lr-g 1e-4 --out NEW), or pass "
                            "--non-finite skip to skip such iterations.") from error
                    it += 1
                    for piece in pieces:
                        piece.step(it, stats)
                if it < last:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            checkpoints.save_if_behind()
            bar.write(f"interrupted at iteration {it}: checkpoint saved; continue with --resume {path}")
            raise
    finally:
        for piece in reversed(pieces):
            piece.close()
