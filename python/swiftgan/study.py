"""`swiftgan study`: every loss trained with every seed into one folder, on Dask, and a report that picks nothing.

    swiftgan study --losses SGAN,LSGAN,RaSGAN --seeds 3 --iters 2000 --eval-every 250 --out study/
    swiftgan study --losses SGAN,WGAN-GP,EBGAN@ebgan,BEGAN@began --image-size 64 ...   (LOSS@ARCH: its own networks)
    swiftgan study ... --scheduler tcp://HOST:8786      (the same study, spread over a Dask cluster's machines)

A study folder holds:

    study.json                    the study: its losses, seeds, iterations and the options every run shares
    runs/<loss>-seed<S>/          one run folder per run (see run.py), with FID and KID every eval_every
                                  iterations in its metrics.csv (a checkpoint at each: save_every = eval_every)
    runs/<loss>-seed<S>/study-run.json   written when the run is over (finished or diverged): what the report reads
    grids/<loss>-seed<S>.png      each run's last sample grid: the first n_samples (64) samples of its fixed
                                  latent batch, never picked
    study.md                      the report: FID per loss (mean ± std over seeds, best and last), every run
    study.csv, runs.csv           the same tables as CSV
    fid.png                       FID (and KID) against the iteration: the mean over seeds ± one std, per loss
    losses.png                    D's and G's losses against the iteration, per loss (the mean over seeds)

Rerunning the command on the folder continues it: finished runs are skipped, unfinished ones resume from their
checkpoint exactly (run.py's resume), runs not started start. Its losses, seeds and iterations may change (a
longer study trains the finished runs on); the options every run shares may not (they are the experiment).
"""
from __future__ import annotations

import csv
import json
import math
import os
import shutil
import sys
import time
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional

import numpy as np

from . import run as runs
from .ownership import claim_folder

STUDY_FILES = ("study.json", "study.json.partial", "study.md", "study.md.partial", "study.csv", "runs.csv",
               "runs", "grids", "fid.png", "losses.png", ".swiftgan-study")

STUDY_FORMAT = "swiftgan-study-1"
RUN_RECORD = "study-run.json"
# Given by the study itself, per run: not among the options every run shares.
PER_RUN = ("loss", "seed", "iters", "epochs", "eval_every", "eval_n", "save_every", "sample_every", "threads")
# The study's choices for its runs, where the user gives none: every checkpoint evaluated, no morph.
RUN_PRESETS = {"morph": False, "n_samples": 64}


class StudyError(RuntimeError):
    """Runs of a study failed (not diverged: an error; the others were trained and reported), or Dask is missing."""


def run_name(loss: str, seed: int) -> str:
    return f"{loss}-seed{seed}"


def split_entry(entry: str) -> "tuple[str, Dict[str, object]]":
    """A study's loss entry, "LOSS" or "LOSS@ARCH" (a loss on its own network pair, as EBGAN@ebgan), as the loss
    and the options it sets."""
    loss, _, arch = entry.partition("@")
    return loss, ({"arch": arch} if arch else {})


NAME_CHARACTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@._+-")


def study_runs(losses) -> "OrderedDict[str, Dict[str, object]]":
    """The study's runs by name, each with the settings that are its own (its loss, and any run or GAN option):
    from a list of entries ("LOSS" or "LOSS@ARCH"), or a mapping of names to settings ({"DCGAN": {"loss": "SGAN",
    "lr_g": 1e-3}, ...}; a setting without "loss" trains the loss its name says).

    Raises:
        ValueError: for no runs, a name given twice or unfit for a folder, or a setting the study sets per run.
        TypeError: for settings that are not a mapping.
    """
    if isinstance(losses, str):
        raise TypeError(f"losses must be a list of losses or a mapping of runs, got the string {losses!r}")
    entries = list(losses.items()) if isinstance(losses, Mapping) else [(e, None) for e in losses]
    if not entries:
        raise ValueError("give at least one loss (--losses SGAN,RaSGAN, or runs: in a study file)")
    found: "OrderedDict[str, Dict[str, object]]" = OrderedDict()
    for name, own in entries:
        if not isinstance(name, str) or not name or not set(name) <= NAME_CHARACTERS:
            raise ValueError(f"run name {name!r}: use letters, digits and @._+- only (it names the run's folder)")
        if name in found:
            raise ValueError(f"a loss is given twice: {name}")
        if own is None:
            loss, own = split_entry(name)
            own = {"loss": loss, **own}
        elif not isinstance(own, Mapping):
            raise TypeError(f"run {name}: its settings must be a mapping of options, got {type(own).__name__} {own!r}")
        else:
            own = {"loss": split_entry(name)[0], **runs.normalise_options(own, f"run {name} of the study")}
        fixed = sorted(set(own) & set(PER_RUN) - {"loss", "threads"})
        if fixed:
            raise ValueError(f"run {name}: {', '.join(fixed)}: the study sets these for every run (seeds, iters, "
                             "eval_every, eval_n)")
        found[name] = dict(own)
    return found


STUDY_FILE_KEYS = ("runs", "losses", "seeds", "seed", "iters", "eval_every", "eval_n", "options")


def read_study_file(path: str) -> Dict[str, object]:
    """A study file (YAML): `runs` (a mapping of run names to their own settings, or a list of losses; `losses`
    is another name for it), `seeds`, `seed`, `iters`, `eval_every`, `eval_n`, and `options` shared by every run;
    as `study()` keyword arguments. Read as plain data (yaml.safe_load: no code runs, whatever the file).

    Raises:
        FileNotFoundError: for a missing file.
        ValueError: for a file that is not a YAML mapping of those keys.
    """
    data = runs.read_yaml(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a study file is a mapping of {', '.join(STUDY_FILE_KEYS)}, got "
                         f"{type(data).__name__}")
    unknown = sorted(set(map(str, data)) - set(STUDY_FILE_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown key{'s' * (len(unknown) > 1)} {', '.join(unknown)}; a study file holds "
                         f"{', '.join(STUDY_FILE_KEYS)}")
    if "runs" in data and "losses" in data:
        raise ValueError(f"{path}: give runs or losses, not both")
    study_args = {k: v for k, v in data.items() if k not in ("runs", "losses", "options")}
    study_args["losses"] = data.get("runs", data.get("losses"))
    if study_args["losses"] is None:
        raise ValueError(f"{path}: no runs: give runs: (a mapping of run names to their settings) or losses:")
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise ValueError(f"{path}: options must be a mapping of run and GAN options, got {type(options).__name__}")
    study_args["options"] = options
    return study_args


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# ---- one run, in a Dask worker -------------------------------------------------------------------------


def train_run(path: str, entry: str, seed: int, iters: int, eval_every: int, eval_n: int,
              options: Mapping[str, object], threads: Optional[Mapping[str, int]] = None,
              own: Optional[Mapping[str, object]] = None, cadence: Optional[int] = None,
              not_evaluated: Optional[str] = None) -> Dict[str, object]:
    """Trains (or continues) the run at `path` named `entry`, with its `own` settings (default: the loss and
    architecture its name says, "LOSS" or "LOSS@ARCH") over the shared `options`, to `iters` iterations, with a
    checkpoint and a grid every `cadence` iterations (default `eval_every`), and returns its record (also written to path/study-run.json): the evaluations over iterations, the training
    time, and where it diverged if it did. A run whose record says it is over (at `iters` or later, or diverged)
    returns that record untouched.

    `threads`: the compute threads of a run, by Dask worker address ("*": any other worker), so that the runs
    a machine holds at once share its cores (see `_threads_per_worker`)."""
    from ._native import TrainingDivergedError

    record_path = os.path.join(path, RUN_RECORD)
    record = _finished_record(path, iters)
    if record is not None:
        return record
    if os.path.isfile(record_path):
        os.remove(record_path)  # a longer study than the one that finished this run: train on
    own = dict(own) if own is not None else study_runs([entry])[entry]
    cadence = cadence or eval_every
    given = {**RUN_PRESETS, **options, **own, "seed": seed, "iters": iters, "eval_every": eval_every,
             "eval_n": eval_n, "save_every": cadence, "sample_every": cadence, "threads": _threads_here(threads)}
    diverged = None
    try:
        if os.path.isfile(os.path.join(path, "config.yaml")):  # started before: continue it exactly
            runs.train(resume=path, progress=False, **{k: v for k, v in given.items() if k in runs.RESUMABLE})
        else:
            runs.train(out=path, progress=False, **given)
    except TrainingDivergedError as error:
        diverged = str(error).split("\n")[0]
    run = runs.load_run(path)
    metrics = run.metrics
    evaluated = ~np.isnan(metrics["fid"])
    record = {
        "loss": entry, "seed": seed, "iterations": int(run.iteration), "threads": given["threads"],
        "seconds": float(metrics["time"][-1]) if len(metrics["time"]) else 0.0,
        "evaluations": [{"iteration": int(i), "fid": float(f), "kid": float(k)}
                        for i, f, k in zip(metrics["iteration"][evaluated], metrics["fid"][evaluated],
                                           metrics["kid"][evaluated])],
        # the checkpoint holds the last good iteration; the next one's update was not finite
        "diverged": None if diverged is None else {"iteration": int(run.iteration) + 1, "message": diverged},
        "not_evaluated": not_evaluated,
    }
    grids = run.sample_grids
    if grids:
        study_folder = os.path.dirname(os.path.dirname(os.path.abspath(path)))
        os.makedirs(os.path.join(study_folder, "grids"), exist_ok=True)
        shutil.copyfile(grids[-1][1], os.path.join(study_folder, "grids", os.path.basename(path) + ".png"))
        record["grid_iteration"] = int(grids[-1][0])
    _write_json(record, record_path)
    return record


def _finished_record(path: str, iters: int) -> Optional[Dict[str, object]]:
    """The run's record when it is over at `iters` iterations (trained that far, or diverged), else None."""
    try:
        with open(os.path.join(path, RUN_RECORD)) as f:
            record = json.load(f)
    except (FileNotFoundError, ValueError):
        return None
    return record if record["iterations"] >= iters or record.get("diverged") else None


def _threads_here(threads: Optional[Mapping[str, int]]) -> int:
    """The compute threads of a run in this process: the client's figure for this Dask worker, else this
    machine's cores shared by the tasks this worker runs at once."""
    threads = threads or {}
    try:
        from distributed import get_worker

        worker = get_worker()
        address, concurrent = worker.address, max(1, worker.state.nthreads)
    except (ImportError, ValueError):  # not in a Dask worker
        address, concurrent = "", 1
    return int(threads.get(address) or threads.get("*") or max(1, available_cores() // concurrent))


def _threads_per_worker(client, override: Optional[int]) -> Dict[str, int]:
    """Compute threads per run for each worker of `client`'s cluster: its machine's cores over the tasks the
    workers on that machine run at once (so that they do not oversubscribe it), or `override` everywhere."""
    if override:
        return {"*": int(override)}
    cores = client.run(available_cores)  # {worker address: the cores its process may use}
    workers = client.scheduler_info(n_workers=-1)["workers"]
    concurrent: Dict[str, int] = {}
    for address, worker in workers.items():
        concurrent[worker["host"]] = concurrent.get(worker["host"], 0) + int(worker["nthreads"])
    return {address: max(1, cores.get(address, 1) // concurrent[worker["host"]]) for address, worker in workers.items()}


# ---- the study -------------------------------------------------------------------------------------------


def _write_json(data: object, path: str) -> None:
    with open(path + ".partial", "w") as f:
        json.dump(data, f, indent=2)
    os.replace(path + ".partial", path)


def _study_settings(out: str, losses, seeds: int, seed: int, iters: int, eval_every: Optional[int],
                    eval_n: int, options: Mapping[str, object], progress: bool) -> "tuple[Dict[str, object], Dict[str, str]]":
    """The study's settings, checked (the datasets cached, the feature network checked against their images), and
    written to out/study.json (or checked against the one there); also the runs that will not be evaluated."""
    entries = study_runs(losses)
    for name, value, least in (("seeds", seeds, 1), ("iters", iters, 1), ("eval_n", eval_n, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an int ≥ {least}, got {value!r}")
    if eval_every is not None and (isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every < 0):
        raise ValueError(f"eval_every must be an int ≥ 0 (0: never), got {eval_every!r}")
    eval_every = max(1, iters // 10) if eval_every is None else eval_every
    shared = runs.normalise_options(options, "study()")
    per_run = sorted(set(shared) & set(PER_RUN) - {"threads"})
    if per_run:
        raise ValueError(f"{', '.join(per_run)}: the study sets these for each run (--losses, --seeds, --seed, "
                         "--iters, --eval-every, --eval-n)")
    _check_losses(entries, shared)
    settings = {"format": STUDY_FORMAT, "eval_every": eval_every, "eval_n": eval_n,
                "options": {k: v for k, v in shared.items() if k != "threads"}}
    path = os.path.join(out, "study.json")
    claim_folder(out, ".swiftgan-study", "study", STUDY_FILES, legacy=lambda p: os.path.isfile(os.path.join(p, "study.json")))
    unevaluated = _prepare_data({**settings, "runs": entries}, progress)
    if os.path.isfile(path):
        with open(path) as f:
            before = json.load(f)
        recorded = {k: before.get(k) for k in ("format", "eval_every", "eval_n", "options")}
        if json.loads(json.dumps(settings)) != recorded:
            changed = sorted(k for k in set(settings["options"]) | set(recorded["options"] or {})
                             if settings["options"].get(k) != (recorded["options"] or {}).get(k))
            changed += [k for k in ("eval_every", "eval_n") if settings[k] != recorded[k]]
            raise ValueError(f"{out} holds a study with other settings ({', '.join(changed) or 'format'} differ): a "
                             "study continues with the options it started with; give them again, or another --out")
        before_runs = before.get("runs") or {n: study_runs([n])[n] for n in before.get("losses", [])}
        changed = [n for n in entries if n in before_runs and json.loads(json.dumps(entries[n])) != before_runs[n]]
        if changed:
            raise ValueError(f"{out} holds a study whose run {changed[0]} had other settings "
                             f"({before_runs[changed[0]]}, now {entries[changed[0]]}): a run continues with the "
                             "settings it started with; give them again, another name, or another --out")
    settings.update(losses=list(entries), runs=entries, seeds=list(range(seed, seed + seeds)), iters=iters)
    _write_json(settings, path)
    return settings, unevaluated


def _check_losses(entries: Mapping[str, Mapping[str, object]], shared: Mapping[str, object]) -> None:
    """Builds each run's GAN once (no data needed), so that a misspelt loss or an option a loss refuses is
    reported before any worker starts."""
    from .gan import GAN

    for entry, own in entries.items():
        settings = {**runs.RUN_DEFAULTS, **shared, **own}
        gan_options = runs._gan_options(settings)
        gan_options.update(image_size=settings["image_size"], channels=settings.get("channels") or 1)
        try:
            GAN(**gan_options).close()
        except ValueError as error:
            hint = (" (in a study, give a loss its own networks as LOSS@ARCH, e.g. EBGAN@ebgan, BEGAN@began)"
                    if "auto-encoder critic" in str(error) or "energy-based" in str(error) else "")
            raise ValueError(f"{entry}: {error}{hint}") from None


def _client(scheduler: Optional[str], workers: Optional[int], runs_count: int):
    """A Dask client (and the local cluster it owns, or None): of the scheduler at `scheduler`, or of a local
    cluster of `workers` worker processes (default one per core, at most one per run), one task at a time each."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise StudyError("swiftgan study runs on Dask, which is not installed: pip install 'swiftgan[study]' (dask "
                         "and distributed)") from None
    if scheduler:
        return Client(scheduler, timeout="30s"), None
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    count = workers or max(1, min(runs_count, available_cores()))
    cluster = LocalCluster(n_workers=count, threads_per_worker=1, processes=True, dashboard_address=None,
                           memory_limit=0, silence_logs=40)
    return Client(cluster), cluster


def study(out: str, losses, *, seeds: int = 3, seed: int = 1, iters: int = 2000,
          eval_every: Optional[int] = None, eval_n: int = 2000, scheduler: Optional[str] = None,
          workers: Optional[int] = None, progress: bool = True, **options) -> Dict[str, object]:
    """Trains every run of `losses` with each of `seeds` seeds (from `seed` on) for `iters` iterations into
    `out/runs/`, on Dask, evaluating FID and KID every `eval_every` iterations (default a tenth of `iters`; 0:
    never) with `eval_n` samples; writes the report (study.md, study.csv, runs.csv, fid.png, losses.png, grids/)
    and returns its summary. `losses`: a list of losses ("LOSS" or "LOSS@ARCH"), or a mapping of run names to
    their own settings (see `study_runs`; a study file gives it, see `read_study_file`). `options` are the run
    options every run shares (dataset, arch, ngf, batch_size, lr_d, ...).

    The dataset is cached once, before any run starts. A run whose images no feature network takes (the shipped
    one takes Fashion-MNIST's 1×32×32) is trained and reported as not evaluated, said once; when the network was
    given (feature_network), the study refuses instead, before anything trains.

    Runs on the local machine's cores (`workers` processes, default one per core up to the runs there are, each
    computing on cores/workers threads), or on the Dask cluster whose scheduler is at `scheduler`
    ("tcp://host:8786"), whose workers must import swiftgan and see `out` at the same path (a shared file
    system). A rerun continues the study (see the module's description).

    Raises:
        ValueError: for an invalid option, loss or seed count, or settings that differ from the study in `out`.
        StudyError: when runs failed (other than by diverging, which is reported as a result); the others are
            trained and reported first.
    """
    out = os.path.abspath(out)
    remote = _client(scheduler, workers, 0)[0] if scheduler else None  # reached before any data is read
    try:
        return _study(out, losses, seeds, seed, iters, eval_every, eval_n, workers, remote, progress, options)
    finally:
        if remote is not None:
            remote.close()


def _study(out, losses, seeds, seed, iters, eval_every, eval_n, workers, remote, progress, options) -> Dict[str, object]:
    settings, unevaluated = _study_settings(out, losses, seeds, seed, iters, eval_every, eval_n, options, progress)
    plan = [(loss, s) for s in settings["seeds"] for loss in settings["losses"]]
    folder = os.path.join(out, "runs")
    os.makedirs(folder, exist_ok=True)
    records: Dict[tuple, Dict[str, object]] = {}
    failures: Dict[tuple, str] = {}
    pending = []
    for loss, s in plan:
        record = _finished_record(os.path.join(folder, run_name(loss, s)), iters)
        if record is not None:
            records[(loss, s)] = record
        else:
            pending.append((loss, s))
    started = time.monotonic()
    if pending:
        _train_on_dask(pending, settings, folder, remote, workers, options.get("threads"), progress, records,
                       failures, unevaluated)
    summary = write_report(out, settings, [records[key] for key in plan if key in records], failures,
                           wall_seconds=time.monotonic() - started, skipped=len(plan) - len(pending))
    if failures:
        raise StudyError(f"{len(failures)} of {len(plan)} runs failed (the others are reported in "
                         f"{os.path.join(out, 'study.md')}): " + "; ".join(
                             f"{run_name(*key)}: {message}" for key, message in failures.items()))
    return summary


def _prepare_data(settings: Mapping[str, object], progress: bool) -> Dict[str, str]:
    """Caches each run's dataset (once per dataset and conversion) and checks that its images fit the feature
    network: the runs that will not be evaluated, with why (said once, on stderr).

    Raises:
        ValueError: when a feature network was given that does not take a run's images."""
    from .datacache import plan_dataset
    from .features import network_fit

    plans, fits, unevaluated = {}, {}, {}
    for name, own in settings["runs"].items():
        run = {**runs.RUN_DEFAULTS, **settings["options"], **own}
        key = tuple(run.get(k) for k in ("dataset", "image_size", "channels", "class_name", "cache_dir"))
        if key not in plans:
            plans[key] = plan_dataset(str(run["dataset"]), image_size=run["image_size"], channels=run["channels"],
                                      class_name=run["class_name"], cache_dir=run.get("cache_dir"))
            if progress:
                print(f"swiftgan: {plans[key].describe()}", flush=True)
            plans[key].open(progress=progress)
        if not settings["eval_every"]:
            continue
        shape, network = plans[key].shape[1:], run.get("feature_network")
        if (network, shape) not in fits:
            fits[(network, shape)] = network_fit(network, shape)
        if fits[(network, shape)] is not None:
            if network:
                raise ValueError(f"run {name}: {fits[(network, shape)]}: give a feature network that takes its "
                                 "images, or --eval-every 0")
            unevaluated[name] = fits[(network, shape)]
    if unevaluated:  # said even without progress bars: the report would otherwise be the first to say it
        print(f"swiftgan: not evaluated (FID, KID): {', '.join(unevaluated)}: {next(iter(unevaluated.values()))}; "
              "give --feature-network (a network trained on this data with `swiftgan features train`, or Inception's "
              "weights) to evaluate them", file=sys.stderr)
    return unevaluated


def _train_on_dask(pending, settings, folder, remote, workers, threads_override, progress, records, failures,
                   unevaluated) -> None:
    """Trains the `pending` runs through `remote` (a client of a scheduler), or on a local cluster of `workers`
    processes made (and closed) here."""
    from tqdm.auto import tqdm

    owned = remote is None
    client, cluster = _client(None, workers, len(pending)) if owned else (remote, None)
    from distributed import as_completed

    try:
        threads = _threads_per_worker(client, threads_override)
        futures = {}
        for loss, s in pending:  # priority: the order of the plan (seed by seed), so a study stopped early is even
            evaluated = loss not in unevaluated
            future = client.submit(train_run, os.path.join(folder, run_name(loss, s)), loss, s, settings["iters"],
                                   settings["eval_every"] if evaluated else 0, settings["eval_n"], settings["options"],
                                   threads, own=settings["runs"][loss],
                                   cadence=settings["eval_every"] or max(1, settings["iters"] // 10),
                                   not_evaluated=unevaluated.get(loss), priority=-len(futures), pure=False)
            futures[future] = (loss, s)
        with tqdm(total=len(futures), unit="run", disable=not progress, desc="study") as bar:
            for future in as_completed(futures):
                key = futures[future]
                try:
                    record = future.result()
                except Exception as error:  # a run's error: the others go on; reported at the end
                    failures[key] = f"{type(error).__name__}: {error}"
                    bar.write(f"{run_name(*key)} failed: {failures[key]}")
                else:
                    records[key] = record
                    last = record["evaluations"][-1] if record["evaluations"] else None
                    state = (f"diverged at iteration {record['diverged']['iteration']}" if record["diverged"]
                             else f"FID {last['fid']:.2f} at iteration {last['iteration']}" if last
                             else "done, not evaluated")
                    bar.write(f"{run_name(*key)}: {state} ({record['seconds']:.0f} s of training)")
                bar.update(1)
    finally:
        if owned:
            client.close()
            if cluster is not None:
                cluster.close()


# ---- the report ------------------------------------------------------------------------------------------


def _mean_std(values: List[float]) -> "tuple[float, float]":
    if not values:
        return math.nan, math.nan
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def summarise(settings: Mapping[str, object], records: List[Mapping[str, object]]) -> "OrderedDict[str, dict]":
    """Per loss: runs, diverged runs, the last and the best FID (mean and std over the runs that did not diverge;
    the best is each run's lowest FID at any evaluation, so it is the optimistic figure), the last KID,
    seconds per iteration."""
    table: "OrderedDict[str, dict]" = OrderedDict()
    for loss in settings["losses"]:
        mine = [r for r in records if r["loss"] == loss]
        good = [r for r in mine if not r["diverged"] and r["evaluations"]]
        last = [r["evaluations"][-1]["fid"] for r in good]
        best = [min(e["fid"] for e in r["evaluations"]) for r in good]
        kid = [r["evaluations"][-1]["kid"] for r in good]
        per_it = [r["seconds"] / r["iterations"] for r in mine if r["iterations"]]
        table[loss] = {"runs": len(mine), "diverged": sum(bool(r["diverged"]) for r in mine),
                       "fid_last": _mean_std(last), "fid_best": _mean_std(best), "kid_last": _mean_std(kid),
                       "seconds_per_iteration": float(np.mean(per_it)) if per_it else math.nan}
    return table


def _cell(pair: "tuple[float, float]", digits: int) -> str:
    mean, std = pair
    return "–" if math.isnan(mean) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def write_report(out: str, settings: Mapping[str, object], records: List[Mapping[str, object]],
                 failures: Mapping[tuple, str], wall_seconds: float, skipped: int) -> Dict[str, object]:
    """study.md, study.csv, runs.csv, fid.png and losses.png from the runs' records; returns the summary."""
    table = summarise(settings, records)
    options = settings["options"]
    lines = [f"# Study: {len(settings['losses'])} losses × {len(settings['seeds'])} seeds, {settings['iters']} "
             f"iterations, {options.get('dataset', runs.RUN_DEFAULTS['dataset'])}",
             "",
             "Every run is reported; none is picked. "
             + (f"FID and KID of {settings['eval_n']} samples against as many dataset images, every "
                f"{settings['eval_every']} iterations. Mean ± std over the runs that did not diverge; \"best\" is "
                "each run's lowest FID at any evaluation (optimistic: it picks an iteration), \"last\" its FID at "
                "the end." if settings["eval_every"] else "Not evaluated (eval_every 0)."),
             "",
             "Options every run shares: " + (", ".join(f"{k}={v}" for k, v in sorted(options.items())) or "defaults"),
             ""]
    own = {name: {k: v for k, v in settings.get("runs", {}).get(name, {}).items() if k != "loss" or v != name}
           for name in settings["losses"]}
    if any(own.values()):
        lines += ["Each run's own settings: " + "; ".join(
            f"{name}: " + ", ".join(f"{k}={v}" for k, v in sorted(values.items())) for name, values in own.items()
            if values), ""]
    reasons = sorted({r["not_evaluated"] for r in records if r.get("not_evaluated")})
    if reasons:
        lines += [f"Not evaluated: {'; '.join(reasons)} (give feature_network to evaluate them).", ""]
    lines += [
             "| loss | runs | diverged | FID last | FID best | KID last | s/it |",
             "|---|---|---|---|---|---|---|"]
    for loss, row in table.items():
        lines.append(f"| {loss} | {row['runs']} | {row['diverged']} | {_cell(row['fid_last'], 2)} | "
                     f"{_cell(row['fid_best'], 2)} | {_cell(row['kid_last'], 4)} | {row['seconds_per_iteration']:.3f} |")
    lines += ["", "## Every run", "", "| run | iterations | FID last | FID best (iteration) | KID last | training s |",
              "|---|---|---|---|---|---|"]
    for r in records:
        name = run_name(r["loss"], r["seed"])
        if r["evaluations"]:
            best = min(r["evaluations"], key=lambda e: e["fid"])
            last = r["evaluations"][-1]
            fids = (f"{last['fid']:.2f}", f"{best['fid']:.2f} ({best['iteration']})", f"{last['kid']:.4f}")
        else:
            fids = ("not evaluated" if r.get("not_evaluated") or not settings["eval_every"] else "–", "–", "–")
        if r["diverged"]:
            fids = (f"diverged at {r['diverged']['iteration']}",) + fids[1:]
        lines.append(f"| {name} | {r['iterations']} | {' | '.join(fids)} | {r['seconds']:.0f} |")
    for key, message in failures.items():
        lines.append(f"| {run_name(*key)} | failed: {message} ||||| ")
    lines += ["", "## Samples", "", "Each run's last grid: the first samples of its fixed latent batch (seeded by "
              "its seed), not chosen.", "", "| loss | " + " | ".join(f"seed {s}" for s in settings["seeds"]) + " |",
              "|---|" + "---|" * len(settings["seeds"])]
    for loss in settings["losses"]:
        cells = [f"![{run_name(loss, s)}](grids/{run_name(loss, s)}.png)"
                 if os.path.isfile(os.path.join(out, "grids", run_name(loss, s) + ".png")) else "–"
                 for s in settings["seeds"]]
        lines.append(f"| {loss} | " + " | ".join(cells) + " |")
    lines += ["", "![FID over iterations](fid.png)", "", "![losses](losses.png)", "",
              f"Wall time of this command: {wall_seconds:.0f} s ({skipped} runs were already finished)."]
    with open(os.path.join(out, "study.md.partial"), "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(os.path.join(out, "study.md.partial"), os.path.join(out, "study.md"))
    with open(os.path.join(out, "study.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["loss", "runs", "diverged", "fid_last_mean", "fid_last_std", "fid_best_mean", "fid_best_std",
                         "kid_last_mean", "kid_last_std", "seconds_per_iteration"])
        for loss, row in table.items():
            writer.writerow([loss, row["runs"], row["diverged"], *row["fid_last"], *row["fid_best"], *row["kid_last"],
                             row["seconds_per_iteration"]])
    with open(os.path.join(out, "runs.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["loss", "seed", "iteration", "fid", "kid", "diverged_at"])
        for r in records:
            diverged = r["diverged"]["iteration"] if r["diverged"] else ""
            for e in r["evaluations"]:
                writer.writerow([r["loss"], r["seed"], e["iteration"], e["fid"], e["kid"], diverged])
    from .plots import plot_study

    curves = [runs.read_metrics(os.path.join(out, "runs", run_name(r["loss"], r["seed"]), "metrics.csv")) for r in records]
    plot_study(settings["losses"], records, curves, out)
    return {"out": out, "losses": table, "runs": len(records), "failed": len(failures), "wall_seconds": wall_seconds}
