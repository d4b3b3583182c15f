"""Checkpoints: a folder with `weights.safetensors` (the state_dict), `optimizer.safetensors` (the optimizers'
moments, G's moving average) and `trainer.json` (format, configuration, iteration, the trainer's scalars by
name, and the caller's `extra` state), written in a temporary sibling folder and swapped in at once."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import OrderedDict
from typing import TYPE_CHECKING, Dict, Mapping, Optional, Type

if TYPE_CHECKING:
    from .gan import GAN

FORMAT = "swiftgan-checkpoint-2"
# Format 1 (ABI 6 and before) stored the same scalars under fixed keys; it still loads (`_scalars_of_format_1`).
FORMAT_1 = "swiftgan-checkpoint-1"


def save(gan: "GAN", path: str, extra: Optional[Mapping[str, object]] = None) -> None:
    """Writes `gan`'s checkpoint to the folder `path` atomically: the new files are written and fsynced in a
    temporary sibling folder, then swapped in at once, so a process killed at any moment leaves a complete
    checkpoint (the previous or the new) at `path`."""
    from safetensors.numpy import save_file

    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp: Optional[str] = tempfile.mkdtemp(prefix=".tmp-" + os.path.basename(path) + "-", dir=parent)
    try:
        scalars = gan.scalars
        metadata = {"format": FORMAT, "iteration": scalars["iteration"]}  # ties the files to one save
        save_file(gan.state_dict(), os.path.join(tmp, "weights.safetensors"), metadata=metadata)
        save_file(gan._optimizer_state(), os.path.join(tmp, "optimizer.safetensors"), metadata=metadata)
        state = {"format": FORMAT, "config": gan._config, "iteration": int(scalars["iteration"]), "scalars": scalars,
                 "extra": dict(extra or {})}
        with open(os.path.join(tmp, "trainer.json"), "w") as f:
            json.dump(state, f, indent=2)
        for name in os.listdir(tmp):
            _fsync(os.path.join(tmp, name))
        if os.path.exists(path):
            _replace_directory(tmp, path)  # tmp now holds the previous checkpoint
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.rename(tmp, path)
        tmp = None
        _fsync(parent)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def load(path: str, cls: Optional[Type["GAN"]] = None) -> "GAN":
    """The GAN saved at `path`, ready to continue training exactly where it stopped; the `extra` state
    given to `save` is in its `checkpoint_extra`.

    Raises:
        FileNotFoundError: when `path` holds no checkpoint.
        ValueError: for an unknown format, or files from different saves.
    """
    from safetensors import safe_open
    from safetensors.numpy import load_file

    if cls is None:
        from .gan import GAN as cls
    path = _recover_checkpoint(path)
    state_path = os.path.join(path, "trainer.json")
    if not os.path.isfile(state_path):
        raise FileNotFoundError(f"no SwiftGAN checkpoint at {path!r} (missing trainer.json)")
    with open(state_path) as f:
        state = json.load(f)
    if state.get("format") == FORMAT:
        scalars = dict(state["scalars"])
    elif state.get("format") == FORMAT_1:
        scalars = _scalars_of_format_1(state)
    else:
        raise ValueError(f"{state_path}: unsupported checkpoint format {state.get('format')!r}, expected {FORMAT!r} "
                         f"(or {FORMAT_1!r})")
    for name in ("weights.safetensors", "optimizer.safetensors"):
        with safe_open(os.path.join(path, name), "np") as f:
            saved = (f.metadata() or {}).get("iteration")
        if saved is not None and int(saved) != int(state["iteration"]):
            raise ValueError(f"{path}: {name} is from iteration {saved} but trainer.json from iteration "
                             f"{state['iteration']}: the files come from different saves")
    gan = cls(_config_text="\n".join(f"{k}={v}" for k, v in state["config"].items()))
    tensors = dict(load_file(os.path.join(path, "weights.safetensors")))
    tensors.update(load_file(os.path.join(path, "optimizer.safetensors")))
    gan._write_tensors(tensors, range(len(gan._names)), strict=True)
    gan.set_scalars(scalars)
    gan.checkpoint_extra = state.get("extra", {})
    return gan


def _scalars_of_format_1(state: Mapping[str, object]) -> Dict[str, object]:
    """The trainer scalars of a format-1 `trainer.json`, by name (its floats are float32 values, exact in JSON)."""
    began, steps = state["began"], state["optimizer_steps"]
    scalars: Dict[str, object] = OrderedDict(
        [("iteration", int(state["iteration"])), ("optimizer_D.steps", int(steps["D"])), ("optimizer_G.steps", int(steps["G"]))])
    scalars.update((f"rng.{i}", int(word)) for i, word in enumerate(state["rng_state"]))
    scalars.update([("began.k", repr(float(began["k"]))), ("began.lr_factor", repr(float(began["lr_factor"]))),
                    ("began.best_m_global", repr(float(began["best_m_global"]))), ("began.since_best", int(began["since_best"]))])
    return scalars


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_directory(new: str, target: str) -> None:
    """Puts directory `new` at `target` and the old `target` at `new`, atomically where the system allows:
    Linux's renameat2(RENAME_EXCHANGE) swaps them in one step, so a process killed at any moment leaves a
    complete checkpoint at `target`. Elsewhere two renames are used, and `_recover_checkpoint` finds the
    previous checkpoint if a kill falls between them."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
        renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        at_fdcwd, rename_exchange = -100, 2
        if renameat2(at_fdcwd, os.fsencode(new), at_fdcwd, os.fsencode(target), rename_exchange) == 0:
            return
    except (AttributeError, OSError):
        pass
    aside = target + ".previous"
    shutil.rmtree(aside, ignore_errors=True)
    os.rename(target, aside)
    os.rename(new, target)
    os.rename(aside, new)


def _recover_checkpoint(path: str) -> str:
    """`path`, or, when a save was killed between the two renames of the non-Linux fallback, the
    complete previous checkpoint it set aside."""
    aside = path.rstrip(os.sep) + ".previous"
    if not os.path.isfile(os.path.join(path, "trainer.json")) and os.path.isfile(os.path.join(aside, "trainer.json")):
        return aside
    return path
