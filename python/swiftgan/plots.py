"""Loss curves and 2-D scatter plots (matplotlib, drawn off-screen: no display, no pyplot state)."""
from __future__ import annotations

import os
from typing import Mapping, Optional

import numpy as np


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """The moving average of `values` over `window` entries (shorter at the start), same length."""
    values = np.asarray(values, dtype=np.float64)
    if window <= 1 or len(values) == 0:
        return values
    sums = np.cumsum(np.concatenate([[0.0], values]))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(0, ends - window)
    return (sums[ends] - sums[starts]) / (ends - starts)


def loss_figure(metrics: Mapping[str, np.ndarray], title: Optional[str] = None, window: Optional[int] = None):
    """A matplotlib Figure of a run's curves against the iteration: D's and G's losses (and D's terms on real and
    fake data, "D_real" and "D_gen", when its loss has them), the critic's mean
    outputs on real and fake data (reconstruction energies for EBGAN and BEGAN), and, when the run has
    them, the penalty and BEGAN's M_global and k. Each raw curve is drawn faintly beneath its moving
    average over `window` iterations (default: a hundredth of the run)."""
    iterations = np.asarray(metrics["iteration"])
    if len(iterations) == 0:
        raise ValueError("the run has no metrics yet")
    window = window or max(1, len(iterations) // 100)
    losses = [("d_loss", "D"), ("g_loss", "G")]
    if "d_loss_real" in metrics and not np.all(np.isnan(np.asarray(metrics["d_loss_real"], dtype=np.float64))):
        losses += [("d_loss_real", "D_real"), ("d_loss_fake", "D_gen")]  # the critic loss's two terms
    panels = [("losses", losses), ("critic outputs", [("d_real", "D(x_r)"), ("d_fake", "D(x_f)")])]
    if np.any(np.asarray(metrics.get("penalty", [0])) != 0):
        panels.append(("penalty", [("penalty", "penalty")]))
    if np.any(np.asarray(metrics.get("m_global", [0])) != 0):
        panels.append(("BEGAN", [("m_global", "M_global"), ("k", "k")]))
    figure = _figure(5.0 * len(panels), 3.6)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, (name, curves) in zip(axes, panels):
        for column, label in curves:
            values = np.asarray(metrics[column], dtype=np.float64)
            line, = ax.plot(iterations, smooth(values, window), label=label, linewidth=1.4)
            if window > 1:
                ax.plot(iterations, values, color=line.get_color(), alpha=0.2, linewidth=0.6)
        ax.set_title(name)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        ax.legend(loc="best")
    if title:
        figure.suptitle(title)
    return figure


def plot_losses(metrics: Mapping[str, np.ndarray], path: str, title: Optional[str] = None,
                window: Optional[int] = None) -> str:
    """Writes `loss_figure(metrics, title, window)` as a PNG to `path` and returns the path."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    loss_figure(metrics, title, window).savefig(path, format="png")
    return path


def plot_evaluations(rows, path: str, title: Optional[str] = None) -> str:
    """Writes FID and KID against the iteration (`rows`: dicts with iteration, fid, kid, precision, recall) as a
    PNG to `path` and returns the path."""
    iterations = [row["iteration"] for row in rows]
    figure = _figure(10.0, 3.6)
    axes = figure.subplots(1, 3)
    for ax, names in zip(axes, (("fid",), ("kid",), ("precision", "recall"))):
        for name in names:
            ax.plot(iterations, [row[name] for row in rows], marker="o", markersize=3, label=name)
        ax.set_title(" and ".join(n.upper() if len(n) == 3 else n for n in names))
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        if len(names) > 1:
            ax.legend(loc="best")
    if title:
        figure.suptitle(title)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, format="png")
    return path


def plot_study(losses, records, metrics: "list[Mapping[str, np.ndarray]]", folder: str) -> "list[str]":
    """Writes a study's figures into `folder` and returns their paths: fid.png, FID and KID against the iteration
    (per loss, the mean over its runs that did not diverge, ± one standard deviation shaded); losses.png, D's and
    G's losses against the iteration (every run, a moving average over a hundredth of it, coloured by loss).
    `records` are the runs' study records, `metrics` their metrics.csv columns, in the same order."""
    colours = {loss: f"C{i % 10}" for i, loss in enumerate(losses)}
    figure = _figure(10.0, 3.8)
    for ax, key in zip(figure.subplots(1, 2), ("fid", "kid")):
        for loss in losses:
            by_iteration: dict = {}
            for record in records:
                if record["loss"] == loss and not record["diverged"]:
                    for e in record["evaluations"]:
                        by_iteration.setdefault(e["iteration"], []).append(e[key])
            if not by_iteration:
                continue
            iterations = sorted(by_iteration)
            mean = np.array([np.mean(by_iteration[i]) for i in iterations])
            std = np.array([np.std(by_iteration[i]) for i in iterations])
            ax.plot(iterations, mean, marker="o", markersize=3, color=colours[loss], label=loss)
            ax.fill_between(iterations, mean - std, mean + std, color=colours[loss], alpha=0.15)
        ax.set_title(f"{key.upper()} (mean ± std over seeds)")
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # none when every run diverged before its first evaluation
            ax.legend(loc="best", fontsize="small")
    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, "fid.png"), os.path.join(folder, "losses.png")]
    figure.savefig(paths[0], format="png")
    figure = _figure(10.0, 3.8)
    for ax, key in zip(figure.subplots(1, 2), ("d_loss", "g_loss")):
        labelled = set()
        for record, columns in zip(records, metrics):
            if len(columns["iteration"]) == 0:
                continue
            values = smooth(columns[key], max(1, len(columns[key]) // 100))
            ax.plot(columns["iteration"], values, color=colours[record["loss"]], linewidth=0.9, alpha=0.8,
                    label=None if record["loss"] in labelled else record["loss"])
            labelled.add(record["loss"])
        ax.set_title(f"{'D' if key == 'd_loss' else 'G'}'s loss (each run)")
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # none when every run diverged before its first evaluation
            ax.legend(loc="best", fontsize="small")
    figure.savefig(paths[1], format="png")
    return paths


def scatter_figure(samples: np.ndarray, real: Optional[np.ndarray] = None, title: Optional[str] = None):
    """A matplotlib Figure of 2-D samples [N, 2] (and real data beneath them, when given)."""
    samples = np.asarray(samples)
    if samples.ndim != 2 or samples.shape[1] != 2:
        raise ValueError(f"samples must have shape [N, 2], got {list(samples.shape)}")
    figure = _figure(4.0, 4.0)
    ax = figure.subplots()
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=2, color="0.7", label="real")
    ax.scatter(samples[:, 0], samples[:, 1], s=2, label="generated")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=4)
    if title:
        ax.set_title(title)
    return figure
