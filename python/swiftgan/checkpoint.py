"""Checkpoints: a folder with `weights.safetensors` (the state_dict), `optimizer.safetensors` (the optimizers'
moments, G's moving average), `trainer.json` (format, configuration, iteration, the trainer's scalars by
name, and the caller's `extra` state) and `checksums.sha256` (the SHA-256 of the other three, in the format
`sha256sum -c` reads), written in a temporary sibling folder and swapped in at once; the checkpoint it replaces
is kept beside it (`<path>.previous`) until the next save."""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
from collections import OrderedDict
from typing import Dict, Mapping, NamedTuple, Optional

from .ownership import is_checkpoint, remove_stale_temporaries, temporary_sibling

FORMAT = "swiftgan-checkpoint-3"
# Format 2 is format 3 without checksums.sha256; format 1 (ABI 6 and before) stored the same scalars under fixed
# keys. Both still load (unverified: they carry no checksums).
FORMAT_2 = "swiftgan-checkpoint-2"
FORMAT_1 = "swiftgan-checkpoint-1"
CHECKSUMS = "checksums.sha256"
FILES = ("weights.safetensors", "optimizer.safetensors", "trainer.json")


class CheckpointDamagedError(ValueError):
    """A checkpoint whose files are truncated, altered or unreadable: it is refused, never loaded."""


class Saved(NamedTuple):
    """A checkpoint's contents, read and verified: its folder, the resolved configuration (option -> text), every
    tensor by name (the model's and the optimizers'), the trainer's scalars by name and the caller's `extra`."""
    path: str
    config: Dict[str, str]
    tensors: Dict[str, object]
    scalars: Dict[str, object]
    extra: Dict[str, object]


def save(path: str, *, config: Mapping[str, str], model: Mapping[str, object], optimizer: Mapping[str, object],
         scalars: Mapping[str, str], extra: Optional[Mapping[str, object]] = None) -> None:
    """Writes a checkpoint (a GAN's resolved `config`, its `model` and `optimizer` tensors by name, its trainer
    `scalars` by name and the caller's `extra`) to the folder `path` atomically: the new files are written and
    fsynced in a temporary sibling folder, then swapped in at once, so a process killed at any moment leaves a
    complete checkpoint (the previous or the new) at `path`."""
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    previous = path + ".previous"
    for existing in (path, previous):  # replaced or removed below: only ever a checkpoint
        if os.path.lexists(existing) and not is_checkpoint(existing) and not _is_empty_folder(existing):
            raise FileExistsError(f"{existing} exists and is not a SwiftGAN checkpoint: choose another path (SwiftGAN "
                                  "never replaces or removes what it did not write)")
    os.makedirs(parent, exist_ok=True)
    remove_stale_temporaries(path)  # of saves of this path killed midway
    tmp: Optional[str] = temporary_sibling(path)
    try:
        metadata = {"format": FORMAT, "iteration": scalars["iteration"]}  # ties the files to one save
        _write_tensors(model, os.path.join(tmp, "weights.safetensors"), metadata)
        _write_tensors(optimizer, os.path.join(tmp, "optimizer.safetensors"), metadata)
        state = {"format": FORMAT, "config": dict(config), "iteration": int(scalars["iteration"]),
                 "scalars": dict(scalars), "extra": dict(extra or {})}
        with open(os.path.join(tmp, "trainer.json"), "w") as f:
            json.dump(state, f, indent=2)
        with open(os.path.join(tmp, CHECKSUMS), "w") as f:
            f.writelines(f"{sha256_of_file(os.path.join(tmp, name))}  {name}\n" for name in FILES)
        for name in os.listdir(tmp):
            _fsync(os.path.join(tmp, name))
        if os.path.exists(path) and not _is_empty_folder(path):
            _replace_directory(tmp, path)  # tmp now holds the previous checkpoint: kept as <path>.previous
            if os.path.exists(tmp):
                if is_checkpoint(previous):
                    shutil.rmtree(previous)
                os.rename(tmp, previous)
        else:
            os.rename(tmp, path)  # onto nothing, or onto an empty folder
        tmp = None
        _fsync(parent)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def read(path: str) -> Saved:
    """The checkpoint saved at `path`, verified (`GAN.load` builds its GAN).

    Raises:
        FileNotFoundError: when `path` holds no checkpoint.
        CheckpointDamagedError (a ValueError): when a file is truncated or altered (its checksum differs from the
            one recorded at the save), unreadable, or missing; the message names the previous checkpoint when one
            is complete.
        ValueError: for an unknown format or files from different saves.
    """
    path = _recover_checkpoint(path)
    if not os.path.isfile(os.path.join(path, "trainer.json")) and not os.path.isfile(os.path.join(path, CHECKSUMS)):
        raise FileNotFoundError(f"no SwiftGAN checkpoint at {path!r} (missing trainer.json)")
    try:
        state, tensors = _read_verified(path)
    except CheckpointDamagedError as error:
        previous, hint = path.rstrip(os.sep) + ".previous", ""
        if os.path.isdir(previous):
            try:
                hint = f"; the previous checkpoint, {previous} (iteration {verify(previous)}), is complete: load it"
            except ValueError:  # damaged too
                pass
        raise CheckpointDamagedError(f"{error}{hint}") from None
    scalars = _scalars_of_format_1(state) if state["format"] == FORMAT_1 else dict(state["scalars"])
    return Saved(path, {k: str(v) for k, v in state["config"].items()}, tensors, scalars, state.get("extra", {}))


def verify(path: str) -> int:
    """Checks that the checkpoint at `path` is complete and intact, without building its GAN; returns its
    iteration. Raises as `load` does."""
    return int(_read_verified(path)[0]["iteration"])


def _read_verified(path: str) -> "tuple[Dict[str, object], Dict[str, object]]":
    """trainer.json's state and the tensors of both safetensors files of the checkpoint at `path`, each file checked
    against checksums.sha256 (required from format 3) and parsed; CheckpointDamagedError for anything torn."""
    from safetensors import SafetensorError, safe_open
    from safetensors.numpy import load_file

    def damaged(what: str) -> CheckpointDamagedError:
        return CheckpointDamagedError(f"the checkpoint at {path} is damaged: {what}")

    digests = {}
    for name in FILES:
        try:
            digests[name] = sha256_of_file(os.path.join(path, name))
        except FileNotFoundError:
            raise damaged(f"{name} is missing") from None
    recorded = _read_checksums(path, damaged)
    for name, digest in digests.items():
        if recorded is not None and digest != recorded.get(name):
            size = os.path.getsize(os.path.join(path, name))
            raise damaged(f"{name} ({size} bytes) does not match the SHA-256 recorded when it was saved "
                          "(truncated or altered)")
    try:
        with open(os.path.join(path, "trainer.json"), "rb") as f:
            state = json.loads(f.read())
    except ValueError as error:
        raise damaged(f"trainer.json is not valid JSON ({error})") from None
    if not isinstance(state, dict):
        raise damaged(f"trainer.json holds a JSON {type(state).__name__}, not the object of a trainer state")
    if state.get("format") not in (FORMAT, FORMAT_2, FORMAT_1):
        raise ValueError(f"{os.path.join(path, 'trainer.json')}: unsupported checkpoint format {state.get('format')!r}, "
                         f"expected {FORMAT!r} (or {FORMAT_2!r}, {FORMAT_1!r})")
    if state["format"] == FORMAT and recorded is None:
        raise damaged(f"{CHECKSUMS} is missing (a {FORMAT} checkpoint is verified by it)")
    expected = {"config": dict, "iteration": int} if state["format"] == FORMAT_1 else {
        "config": dict, "iteration": int, "scalars": dict}
    wrong = [key for key, kind in expected.items() if not isinstance(state.get(key), kind)]
    if wrong:
        raise damaged(f"trainer.json lacks {', '.join(wrong)} (or holds the wrong type)")
    tensors: Dict[str, object] = {}
    for name in FILES[:2]:
        try:
            with safe_open(os.path.join(path, name), "np") as f:
                saved = (f.metadata() or {}).get("iteration")
            loaded = load_file(os.path.join(path, name))
        except (SafetensorError, ValueError, OSError) as error:
            raise damaged(f"{name} is not a readable safetensors file ({error})") from None
        if saved is not None and str(saved) != str(state.get("iteration")):
            raise ValueError(f"{path}: {name} is from iteration {saved} but trainer.json from iteration "
                             f"{state.get('iteration')}: the files come from different saves")
        tensors.update(loaded)
    return state, tensors


_CHECKSUM_LINE = re.compile(rb"([0-9a-f]{64})  ([A-Za-z0-9._-]+)\n")
_CHECKSUM_LINES = re.compile(rb"(?:[0-9a-f]{64}  [A-Za-z0-9._-]+\n)+")


def _read_checksums(path: str, damaged) -> Optional[Dict[str, str]]:
    """checksums.sha256 as {file: hex digest}, None when absent (checkpoints before format 3)."""
    try:
        with open(os.path.join(path, CHECKSUMS), "rb") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    # sha256sum's text form, exactly: every line "<64 lowercase hex>  <name>\n", the last one ending in \n too, so
    # a lost final byte or a newline turned into \r or \f (which str.splitlines would accept) is damage.
    if not _CHECKSUM_LINES.fullmatch(text):
        raise damaged(f"{CHECKSUMS} is unreadable (not lines of '<sha256>  <file name>')")
    lines = _CHECKSUM_LINE.findall(text)
    recorded = {name.decode(): digest.decode() for digest, name in lines}
    if len(recorded) != len(lines):
        raise damaged(f"{CHECKSUMS} lists a file twice")
    if sorted(recorded) != sorted(FILES):
        raise damaged(f"{CHECKSUMS} lists {sorted(recorded)}, expected {sorted(FILES)}")
    return recorded


def sha256_of_file(path: str) -> str:
    """The SHA-256 of the file at `path`, as hex, read 1 MiB at a time."""
    import hashlib  # here, not at import: it loads OpenSSL (3.6 MB resident) into every process

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _scalars_of_format_1(state: Mapping[str, object]) -> Dict[str, object]:
    """The trainer scalars of a format-1 `trainer.json`, by name (its floats are float32 values, exact in JSON)."""
    began, steps = state["began"], state["optimizer_steps"]
    scalars: Dict[str, object] = OrderedDict(
        [("iteration", int(state["iteration"])), ("optimizer_D.steps", int(steps["D"])), ("optimizer_G.steps", int(steps["G"]))])
    scalars.update((f"rng.{i}", int(word)) for i, word in enumerate(state["rng_state"]))
    scalars.update([("began.k", repr(float(began["k"]))), ("began.lr_factor", repr(float(began["lr_factor"]))),
                    ("began.best_m_global", repr(float(began["best_m_global"]))), ("began.since_best", int(began["since_best"]))])
    return scalars


def _write_tensors(tensors: Mapping[str, object], path: str, metadata: Dict[str, str]) -> None:
    """safetensors' save_file, its I/O failures (a full disk) as the OSError they are, naming the file."""
    from safetensors import SafetensorError
    from safetensors.numpy import save_file

    try:
        save_file(tensors, path, metadata=metadata)
    except SafetensorError as error:
        raise OSError(errno.EIO, f"could not write ({' '.join(str(error).split())})", path) from None


def _is_empty_folder(path: str) -> bool:
    return os.path.isdir(path) and not os.path.islink(path) and not os.listdir(path)


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
    if is_checkpoint(aside):
        shutil.rmtree(aside)
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
