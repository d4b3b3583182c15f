"""`swiftgan compare`: one configuration trained by SwiftGAN and by its PyTorch twin, side by side.

Both engines start from the same weights (SwiftGAN's initialisation, loaded into the twin) and get the same
inputs at every iteration: the real batches of a seeded `BatchSampler`, and every latent and penalty draw, made
here with a seeded NumPy generator. Each engine runs in a worker process of its own (`_compare_worker.py`), in
lock step (never both at once), so that its seconds per iteration and peak memory are its own. The twin runs in
this Python when it can import torch, or in the one `torch_python` names (a virtual environment with torch:
PyTorch is never a dependency of SwiftGAN).

An output folder holds:

    seed-S-ENGINE.safetensors  with save_weights: each engine's final weights
    seed-S.json        one seed's result: losses of every iteration of both engines, the largest parameter
                       difference at each checkpoint, FID/KID, seconds per iteration, peak memory (a rerun of the
                       same command skips the seeds done)
    compare.md         the tables; compare.csv (one row per seed and engine), checkpoints.csv
    losses.png         the two engines' loss curves overlaid
    compare.json       everything above, with how the figures were measured
"""
from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Mapping, Optional

import numpy as np

from ._compare_worker import STATS, receive, send
from .options import option_table
from .ownership import claim_folder

COMPARE_FILES = ("compare.md", "compare.csv", "compare.json", "checkpoints.csv", "losses.png", ".swiftgan-compare")

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_compare_worker.py")
ENGINES = ("swiftgan", "torch")
LABELS = {"swiftgan": "SwiftGAN", "torch": "PyTorch"}
# GAN options the twin does not implement, with the only value it runs.
TWIN_LACKS = {"lr_schedule": "constant", "ema_decay": 0.0}
INSTALL = ("install it in this environment (pip install torch), or in a virtual environment of its own and pass its "
           "Python: python3 -m venv /opt/torch && /opt/torch/bin/pip install torch numpy, then --torch-python "
           "/opt/torch/bin/python (SwiftGAN itself never needs torch)")


class PyTorchNotFoundError(RuntimeError):
    """`compare` found no Python that can import torch."""


class EngineError(RuntimeError):
    """An engine's worker process failed; the message holds its error and the end of its log."""


def torch_python(given: Optional[str] = None) -> str:
    """The Python that runs the twin: `given` (checked to import torch), else this one if it has torch.

    Raises:
        PyTorchNotFoundError: when neither can import torch (the message says what to install).
    """
    if given is None:
        if importlib.util.find_spec("torch") is None:
            raise PyTorchNotFoundError(f"swiftgan compare needs PyTorch to run the twin, and {sys.executable} cannot "
                                       f"import torch: {INSTALL}")
        return sys.executable
    probe = subprocess.run([given, "-c", "import torch, numpy; print(torch.__version__)"], capture_output=True,
                           text=True) if os.access(given, os.X_OK) and os.path.isfile(given) else None
    if probe is None:
        raise PyTorchNotFoundError(f"--torch-python {given}: no such executable file")
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise PyTorchNotFoundError(f"--torch-python {given} cannot import torch and numpy ({last}): {INSTALL}")
    return given


class _Worker:
    """One engine's process: requests in, replies out (`_compare_worker.py`), its stderr in a log file."""

    def __init__(self, engine: str, python: str):
        self.engine = engine
        self.log = tempfile.TemporaryFile(mode="w+b")
        self.process = subprocess.Popen([python, WORKER, engine], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.log)

    def ask(self, request: Mapping[str, object]) -> Dict[str, object]:
        try:
            send(self.process.stdin, request)
            reply = receive(self.process.stdout)
        except (EOFError, BrokenPipeError) as error:
            raise EngineError(f"the {LABELS[self.engine]} worker stopped ({error}); its log ends:\n{self._log_tail()}")
        if "error" in reply:
            raise EngineError(f"{LABELS[self.engine]}: {reply['error']}\n{reply.get('traceback', '')}")
        return reply

    def _log_tail(self, lines: int = 20) -> str:
        self.log.seek(0)
        return "\n".join(self.log.read().decode(errors="replace").splitlines()[-lines:])

    def stop(self) -> float:
        """Ends the worker; returns its peak resident memory in MB."""
        peak = float(self.ask({"op": "stop"})["peak_rss_mb"])
        self.process.wait(timeout=60)
        return peak

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            stream.close()
        self.log.close()


def _resolved_options(gan_options: Mapping[str, object], shape: tuple) -> Dict[str, object]:
    """Every GAN option resolved by the core (the loss's presets applied), checked against the twin."""
    from .gan import GAN

    with GAN(**{**gan_options, "channels": shape[0], "image_size": shape[-1]}, threads=1) as gan:
        options, sample_shape = dict(gan.options), tuple(gan.sample_shape)
    if sample_shape != shape:
        raise ValueError(f"arch {options['arch']!r} generates samples of shape {list(sample_shape)}, the dataset holds "
                         f"images of {list(shape)}")
    for name, value in TWIN_LACKS.items():
        if options[name] != value:
            raise ValueError(f"compare: the PyTorch twin has no {name} other than {value!r}, got {options[name]!r}")
    options.pop("seed")
    return options


class _Inputs:
    """Every random input of one seed's iterations, drawn with NumPy so both engines get the same."""

    def __init__(self, images: np.ndarray, options: Mapping[str, object], batch: int, seed: int):
        from .datasets import BatchSampler

        m = int(options.get("pack") or 1)  # PacGAN: m·B samples per batch, the critic judges B packed ones
        self.sampler = BatchSampler(images, batch * m, seed=seed)
        self.rng = np.random.default_rng([seed, 7])
        self.options, self.batch, self.pack = options, batch, m
        self.shape = (images.shape[1] * m,) + tuple(images.shape[2:])  # a packed sample's shape
        loss = str(options["loss"])
        self.mixing = "-GP" in loss or "-LP" in loss
        self.dragan = "DRAGAN" in loss

    def latents(self, *shape: int) -> np.ndarray:
        from .features import draw_latents

        return draw_latents(self.rng, shape + (int(self.options["z_dim"]),), str(self.options["latent"]))

    def next(self, n: int) -> Dict[str, object]:
        """The inputs of n iterations: real [n, k, m·B, ...], z [n, k, m·B, z], z_g [n, m·B, z] (none when the G
        step reuses the fake batch), u / dragan_alpha / dragan_noise [n, k, B, ...] (per packed sample) when the
        loss uses them; m is `pack` (1 without PacGAN)."""
        k, b = int(self.options["n_critic"]), self.batch
        inputs: Dict[str, object] = {
            "real": np.stack([np.stack([self.sampler.next() for _ in range(k)]) for _ in range(n)]),
            "z": self.latents(n, k, b * self.pack)}
        if not self.options["reuse_fake"]:
            inputs["z_g"] = self.latents(n, b * self.pack)
        if self.mixing:
            inputs["u"] = self.rng.random((n, k, b), dtype=np.float32)
        if self.dragan:
            inputs["dragan_alpha"] = self.rng.uniform(-1, 1, (n, k, b)).astype(np.float32)
            inputs["dragan_noise"] = self.rng.random((n, k, b) + self.shape, dtype=np.float32)
        return inputs


def _largest_difference(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> Dict[str, object]:
    """The largest absolute difference between two state dicts' entries, where, and relative to that entry's
    largest magnitude."""
    worst = {"difference": 0.0, "tensor": None, "relative": 0.0}
    for name in a:
        if name not in b:
            continue
        x, y = np.asarray(a[name], dtype=np.float64), np.asarray(b[name], dtype=np.float64).reshape(np.shape(a[name]))
        difference = float(np.abs(x - y).max()) if x.size else 0.0
        if difference > worst["difference"] or worst["tensor"] is None:
            worst = {"difference": difference, "tensor": name,
                     "relative": difference / max(float(np.abs(y).max()), 1e-30)}
    return worst


def _run_seed(seed: int, options: Mapping[str, object], images: np.ndarray, batch: int, iters: int, every: int,
              evaluation, python: str, threads: int, bar, save_weights: Optional[str]) -> Dict[str, object]:
    """Trains one seed in both engines and measures them; with `save_weights` (a folder), writes each engine's
    final weights there."""
    workers = {engine: _Worker(engine, sys.executable if engine == "swiftgan" else python) for engine in ENGINES}
    try:
        started = workers["swiftgan"].ask({"op": "start", "options": {**options, "seed": seed}, "threads": threads})
        twin = workers["torch"].ask({"op": "start", "options": {**options, "seed": seed}, "threads": threads,
                                     "state": started["state"]})
        versions = {"swiftgan": started["version"], "torch": twin["version"]}
        used_threads = {"swiftgan": started["threads"], "torch": twin["threads"]}
        inputs = _Inputs(images, options, batch, seed)
        losses = {engine: {name: [] for name in STATS} for engine in ENGINES}
        seconds: Dict[str, List[float]] = {engine: [] for engine in ENGINES}
        checkpoints = []
        diverged: Dict[str, Dict[str, object]] = {}  # engine -> the iteration it diverged at, and how
        done = 0
        while done < iters and len(diverged) < len(ENGINES):
            n = min(25, every - done % every, iters - done)
            request = {"op": "train", **inputs.next(n)}
            checkpoint = (done + n) % every == 0 or done + n == iters
            states = {}
            for engine in (e for e in ENGINES if e not in diverged):
                reply = workers[engine].ask({**request, "state": checkpoint})
                for name in STATS:
                    losses[engine][name] += [float(v) for v in reply["stats"][name]]
                seconds[engine] += [float(s) for s in reply["seconds"]]
                states[engine] = reply.get("state")
                if "diverged" in reply:
                    diverged[engine] = {"iteration": done + len(reply["seconds"]) + 1, "message": reply["diverged"]}
            done += n
            if done == iters and save_weights:
                from safetensors.numpy import save_file

                for engine, state in states.items():
                    save_file({k: np.ascontiguousarray(v) for k, v in state.items()},
                              os.path.join(save_weights, f"seed-{seed}-{engine}.safetensors"))
            if checkpoint and not diverged:
                checkpoints.append({"iteration": done, **_largest_difference(states["swiftgan"], states["torch"]),
                                    **{f"{engine}_{name}": losses[engine][name][-1] for engine in ENGINES
                                       for name in ("d_loss", "g_loss")}})
            bar.update(n)
            bar.set_postfix_str(f"seed {seed}: d_loss " + " / ".join(
                "diverged" if e in diverged else f"{losses[e]['d_loss'][-1]:.3f}" for e in ENGINES))
        bar.update(iters - done)
        figures = {engine: {} for engine in ENGINES}
        if evaluation is not None:
            for engine in ENGINES:
                if engine in diverged:
                    figures[engine] = {"fid": float("nan"), "kid": float("nan")}
                    continue
                samples = workers[engine].ask({"op": "generate", "z": evaluation.latents(seed)})["samples"]
                figures[engine] = evaluation.measure(samples, seed)
        peaks = {engine: workers[engine].stop() for engine in ENGINES}
    finally:
        for worker in workers.values():
            worker.close()
    engines = {engine: {"version": versions[engine], "threads": used_threads[engine], **figures[engine],
                        "seconds_per_iteration": statistics.median(seconds[engine]) if seconds[engine] else None,
                        "peak_rss_mb": peaks[engine], "losses": losses[engine],
                        "diverged": diverged.get(engine)} for engine in ENGINES}
    return {"seed": seed, "engines": engines, "checkpoints": checkpoints}


class _Evaluation:
    """FID and KID of `n` samples against `n` dataset images (a fixed seeded subset, the same for every seed) in a
    feature network's space; each seed's latents are drawn from its own seed."""

    def __init__(self, images: np.ndarray, n: int, network_path: Optional[str], z_dim: int, latent: str):
        from .features import Reference

        self.reference = Reference(images, n, tuple(images.shape[1:]), network_path, seed=0,
                                   remedy="train one for it (swiftgan features train) and give it with "
                                          "--feature-network, or pass --eval-n 0")
        self.n, self.z_dim, self.latent = n, z_dim, latent
        self.measured = self.reference.measured(
            n, real="the dataset's images (a seeded subset, seed 0)", generator_mode="eval", kid_subsets=20,
            kid_subset_size=min(1000, n, len(self.reference.real)))

    def latents(self, seed: int) -> np.ndarray:
        from .features import draw_latents

        return draw_latents(np.random.default_rng([seed, 11]), (self.n, self.z_dim), self.latent)

    def measure(self, samples: np.ndarray, seed: int) -> Dict[str, float]:
        from .metrics import fid, kernel_distance

        if not np.isfinite(samples).all():
            return {"fid": float("nan"), "kid": float("nan")}
        fake = self.reference.fake_features(samples)
        real = self.reference.real
        kid = kernel_distance(real, fake, subsets=20, subset_size=min(1000, self.n), seed=seed)[0]
        return {"fid": fid(real, fake), "kid": kid}

    def close(self) -> None:
        self.reference.close()


def compare(out: Optional[str] = None, *, seeds: int = 1, seed: int = 1, iters: int = 1000,
            every: Optional[int] = None, eval_n: int = 10_000, feature_network: Optional[str] = None,
            torch_python_path: Optional[str] = None, threads: Optional[int] = None, dataset: str = "fashion-mnist",
            class_name: Optional[str] = None, image_size: int = 32, channels: Optional[int] = None,
            batch_size: int = 64, save_weights: bool = False, progress: bool = True,
            **gan_options) -> Dict[str, object]:
    """Trains one configuration with `seeds` seeds (seed, seed + 1, ...) in SwiftGAN and in the PyTorch twin, and
    writes the comparison into `out` (see the module's docstring); returns what compare.json holds.

    Args:
        out: the output folder (default compare/<loss>-<dataset>-<time>); seeds already in it are not run again.
        iters: iterations of each run; every: iterations between parameter comparisons (default iters / 10).
        eval_n: samples (and dataset images) for FID and KID at the end (0: none).
        feature_network: the feature network file (default: the shipped Fashion-MNIST one).
        torch_python_path: a Python that has torch (default: this one, when it has).
        threads: threads of each engine (default: the cores available).
        save_weights: also write each engine's final weights (G.* and D.*, the twin's names) to
            seed-S-swiftgan.safetensors and seed-S-torch.safetensors.
        gan_options: `GAN(...)` options (loss, arch, ngf, ndf, z_dim, lr_d, betas, ...).

    Raises:
        PyTorchNotFoundError: when no Python at hand can import torch.
        ValueError: for invalid options, or options the twin does not implement.
        EngineError: when an engine's worker fails.
    """
    from tqdm.auto import tqdm

    from .datacache import open_dataset

    for name, value in (("seeds", seeds), ("iters", iters), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    every = every or max(1, iters // 10)
    if every < 1:
        raise ValueError(f"every must be positive, got {every}")
    if eval_n and eval_n < 2:
        raise ValueError(f"eval_n must be 0 or at least 2, got {eval_n}")
    images = open_dataset(dataset, image_size=image_size, channels=channels, class_name=class_name, progress=progress)
    options = _resolved_options(gan_options, tuple(images.shape[1:]))
    python = torch_python(torch_python_path)
    threads = threads or len(os.sched_getaffinity(0))
    out = out or os.path.join("compare", f"{options['loss']}-{os.path.basename(str(dataset).rstrip('/'))}-"
                                         f"{time.strftime('%Y%m%d-%H%M%S')}")
    claim_folder(out, ".swiftgan-compare", "comparison", COMPARE_FILES,
                 legacy=lambda p: any(re.fullmatch(r"seed-\d+\.json|compare\.json", n) for n in os.listdir(p)))
    setup = {"dataset": dataset, "class_name": class_name, "image_size": int(images.shape[-1]),
             "channels": int(images.shape[1]), "batch_size": batch_size, "iters": iters, "every": every,
             "eval_n": eval_n, "feature_network": feature_network, "options": options}
    evaluation = _Evaluation(images, eval_n, feature_network, int(options["z_dim"]), str(options["latent"])) \
        if eval_n else None
    results, wall = [], 0.0
    try:
        todo = []
        for s in range(seed, seed + seeds):
            done = _read_seed(out, s, setup)
            if done is not None:
                results.append(done)
                wall += done["wall_seconds"]
            else:
                todo.append(s)
        with tqdm(total=len(todo) * iters, unit="it", desc=f"compare {options['loss']}", disable=not progress) as bar:
            for s in todo:
                start = time.perf_counter()
                result = _run_seed(s, options, images, batch_size, iters, every, evaluation, python, threads, bar,
                                   out if save_weights else None)
                result.update(setup=setup, wall_seconds=time.perf_counter() - start,
                              measured=evaluation.measured if evaluation else None)
                _write_json(result, os.path.join(out, f"seed-{s}.json"))
                results.append(result)
                wall += result["wall_seconds"]
    finally:
        if evaluation is not None:
            evaluation.close()
    results.sort(key=lambda r: r["seed"])
    summary = {"out": out, "setup": setup, "seeds": [r["seed"] for r in results], "wall_seconds": wall,
               "measured": evaluation.measured if evaluation else None, "summary": _summary(results),
               "results": results}
    _write_reports(out, summary)
    return summary


def _read_seed(out: str, seed: int, setup: Mapping[str, object]) -> Optional[Dict[str, object]]:
    """A seed's finished result in `out`, if it was run with the same setup (else it is run again)."""
    path = os.path.join(out, f"seed-{seed}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        result = json.load(f)
    stored = result.get("setup") or {}
    if isinstance(stored.get("options"), dict):  # an option newer than the result: it ran with the default
        defaults = {name: option.default for name, option in option_table().items()}
        missing = {name: defaults[name] for name in setup["options"]
                   if name not in stored["options"] and name in defaults}
        stored = {**stored, "options": {**missing, **stored["options"]}}
    return result if json.loads(json.dumps(setup)) == json.loads(json.dumps(stored)) else None


def _write_json(data, path: str) -> None:
    with open(path + ".partial", "w") as f:
        json.dump(data, f, indent=1, default=float)
    os.replace(path + ".partial", path)


FIGURES = (("fid", "FID", "{:.2f}"), ("kid", "KID", "{:.4f}"), ("seconds_per_iteration", "seconds per iteration",
           "{:.3f}"), ("peak_rss_mb", "peak memory (MB)", "{:.0f}"))


def _summary(results: List[Mapping[str, object]]) -> Dict[str, Dict[str, object]]:
    """Mean, min and max over seeds of each engine's final figures (diverged runs left out) and of the largest
    parameter difference; the number of diverged runs of each engine."""
    table: Dict[str, Dict[str, object]] = {}
    for key, _, _ in FIGURES:
        for engine in ENGINES:
            values = [r["engines"][engine].get(key) for r in results if not r["engines"][engine].get("diverged")]
            if values and all(v is not None for v in values):
                table.setdefault(key, {})[engine] = {"mean": float(np.mean(values)), "min": float(np.min(values)),
                                                     "max": float(np.max(values))}
    table["diverged"] = {engine: sum(bool(r["engines"][engine].get("diverged")) for r in results)  # runs
                         for engine in ENGINES}
    fids = [[r["engines"][engine]["fid"] for r in results
             if not r["engines"][engine].get("diverged") and r["engines"][engine].get("fid") is not None]
            for engine in ENGINES]
    if min(len(f) for f in fids) >= 2:
        table["fid_difference"] = {"difference": float(np.mean(fids[0]) - np.mean(fids[1])),
                                   "p": permutation_p(fids[0], fids[1]), "seeds": [len(f) for f in fids]}
    differences = [max(c["difference"] for c in r["checkpoints"]) for r in results if r["checkpoints"]]
    if differences:
        table["largest_parameter_difference"] = {"both": {"mean": float(np.mean(differences)),
                                                          "min": float(np.min(differences)),
                                                          "max": float(np.max(differences))}}
    return table


def permutation_p(a, b, exact_up_to: int = 200_000, draws: int = 100_000) -> float:
    """Two-sided p-value of a permutation test of "the two engines' figures come from one distribution" (the
    seeds' FIDs of each engine as samples): the share of the ways to split the pooled values into groups of len(a)
    and len(b) whose difference of means is at least as far from zero as the observed one. Exact (every split)
    when there are at most `exact_up_to` splits (6 seeds each: 924), else `draws` random splits (seeded, so a
    report is reproducible) with the observed split counted once."""
    import itertools
    import math

    pooled = np.asarray(list(a) + list(b), dtype=np.float64)
    n, total = len(a), float(np.sum(pooled))
    observed = abs(np.mean(a) - np.mean(b))
    tolerance = 1e-12 * max(1.0, float(np.abs(pooled).max()))  # ties in floating point count as ties

    def far(sums: np.ndarray) -> np.ndarray:
        return np.abs(sums / n - (total - sums) / (len(pooled) - n)) >= observed - tolerance

    if math.comb(len(pooled), n) <= exact_up_to:
        sums = np.array([pooled[list(group)].sum() for group in itertools.combinations(range(len(pooled)), n)])
        return float(np.mean(far(sums)))
    rng = np.random.default_rng(0)
    sums = np.array([pooled[rng.permutation(len(pooled))[:n]].sum() for _ in range(draws)])
    return float((np.sum(far(sums)) + 1) / (draws + 1))


def _write_reports(out: str, summary: Mapping[str, object]) -> None:
    setup, results = summary["setup"], summary["results"]
    options = setup["options"]
    title = (f"{options['loss']}, {options['arch']} {setup['channels']}×{setup['image_size']}×{setup['image_size']} "
             f"(ngf {options['ngf']}, ndf {options['ndf']}, z {options['z_dim']}), {setup['dataset']}, "
             f"{setup['iters']} iterations, batch {setup['batch_size']}, {len(results)} seed(s)")
    lines = [f"# SwiftGAN against PyTorch: {title}", ""]
    lines += ["| | SwiftGAN | PyTorch |", "|---|---|---|"]
    for key, label, form in FIGURES:
        if key in summary["summary"]:
            cells = [_cell(summary["summary"][key][engine], form) for engine in ENGINES]
            lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    if any(r["engines"][e].get("diverged") for r in results for e in ENGINES):
        lines.append("| runs diverged (left out above) | " + " | ".join(
            str(summary["summary"]["diverged"][e]) for e in ENGINES) + " |")
    if "largest_parameter_difference" in summary["summary"]:
        lines.append(f"| largest parameter difference | "
                     f"{_cell(summary['summary']['largest_parameter_difference']['both'], '{:.3g}')} | |")
    lines += ["", "Mean over seeds [min, max]." if len(results) > 1 else ""]
    if "fid_difference" in summary["summary"]:
        t = summary["summary"]["fid_difference"]
        lines += ["", f"FID, SwiftGAN − PyTorch: {t['difference']:+.3f} over {t['seeds'][0]} and {t['seeds'][1]} "
                      f"seeds; permutation test of the seeds' FIDs (are both engines' FIDs one distribution?): "
                      f"p = {t['p']:.3g}."]
    lines += ["", "## Per seed", "",
              "| seed | FID SwiftGAN | FID PyTorch | KID SwiftGAN | KID PyTorch | s/it SwiftGAN | s/it PyTorch |"
              " peak MB SwiftGAN | peak MB PyTorch |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        e = r["engines"]
        cells = [f"diverged at {e[engine]['diverged']['iteration']}" if e[engine].get("diverged") and key == "fid"
                 else _number(e[engine].get(key), form) for key, _, form in FIGURES for engine in ENGINES]
        lines.append(f"| {r['seed']} | " + " | ".join(cells) + " |")
    lines += ["", "## Checkpoints", "",
              "| seed | iteration | d_loss SwiftGAN | d_loss PyTorch | g_loss SwiftGAN | g_loss PyTorch | "
              "largest parameter difference (tensor, relative) |", "|---|---|---|---|---|---|---|"]
    for r in results:
        for engine in ENGINES:
            if r["engines"][engine].get("diverged"):
                d = r["engines"][engine]["diverged"]
                lines.append(f"| {r['seed']} | {d['iteration']} | {LABELS[engine]} diverged: {d['message']} ||||")
        for c in r["checkpoints"]:
            lines.append(f"| {r['seed']} | {c['iteration']} | {c['swiftgan_d_loss']:.4f} | {c['torch_d_loss']:.4f} | "
                         f"{c['swiftgan_g_loss']:.4f} | {c['torch_g_loss']:.4f} | {c['difference']:.3g} "
                         f"({c['tensor']}, {c['relative']:.2g}) |")
    if summary["measured"]:
        m = summary["measured"]
        lines += ["", f"FID and KID: {m['fake_samples']} samples of each generator (evaluation mode, the same latents "
                      f"for both) against {m['real_samples']} {m['real']}, in the {m['features']} features of "
                      f"{m['network']} (SHA-256 {str(m['network_sha256'])[:12]}…)."]
    lines += [f"Engines: SwiftGAN {results[0]['engines']['swiftgan']['version']}, PyTorch "
              f"{results[0]['engines']['torch']['version']}, {results[0]['engines']['swiftgan']['threads']} thread(s) "
              f"each; wall time {summary['wall_seconds']:.0f} s." if results else ""]
    with open(os.path.join(out, "compare.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "compare.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["seed", "engine"] + [key for key, _, _ in FIGURES] + ["final_d_loss", "final_g_loss",
                                                                               "diverged_at"])
        for r in results:
            for engine in ENGINES:
                e = r["engines"][engine]
                last = [e["losses"][name][-1] if e["losses"][name] else "" for name in ("d_loss", "g_loss")]
                writer.writerow([r["seed"], engine] + [e.get(key, "") for key, _, _ in FIGURES] + last
                                + [(e.get("diverged") or {}).get("iteration", "")])
    with open(os.path.join(out, "checkpoints.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        columns = ["iteration", "swiftgan_d_loss", "torch_d_loss", "swiftgan_g_loss", "torch_g_loss", "difference",
                   "tensor", "relative"]
        writer.writerow(["seed"] + columns)
        for r in results:
            for c in r["checkpoints"]:
                writer.writerow([r["seed"]] + [c[k] for k in columns])
    _plot(os.path.join(out, "losses.png"), results, title)
    _write_json(summary, os.path.join(out, "compare.json"))


def _number(value, form: str) -> str:
    return "" if value is None else form.format(value)


def _cell(stats: Mapping[str, float], form: str) -> str:
    if stats["min"] == stats["max"]:
        return form.format(stats["mean"])
    return f"{form.format(stats['mean'])} [{form.format(stats['min'])}, {form.format(stats['max'])}]"


def _plot(path: str, results: List[Mapping[str, object]], title: str) -> None:
    """D's and G's losses of both engines (moving averages over 1% of the run), one line per seed and engine."""
    from .plots import _figure, smooth

    figure = _figure(10.0, 3.8)
    axes = figure.subplots(1, 2)
    colours = {"swiftgan": "tab:orange", "torch": "tab:blue"}
    for ax, name in zip(axes, ("d_loss", "g_loss")):
        for r in results:
            for engine in ENGINES:
                values = np.asarray(r["engines"][engine]["losses"][name], dtype=np.float64)
                ax.plot(np.arange(1, len(values) + 1), smooth(values, max(1, len(values) // 100)),
                        color=colours[engine], linewidth=1.1, alpha=0.9 if len(results) == 1 else 0.6,
                        linestyle="-" if engine == "swiftgan" else "--",
                        label=LABELS[engine] if r is results[0] else None)
        ax.set_title(name)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        ax.legend(loc="best")
    figure.suptitle(title, fontsize=9)
    figure.savefig(path, format="png")
