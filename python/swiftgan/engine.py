"""What every object that owns a handle of the Swift core shares (`GAN`, `FeatureNetwork`): its lifetime, its lock,
its threads and its tensors by name. The core checks every value and words the message; this floor converts Python
objects to NumPy arrays and back."""
from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from typing import Callable, Dict, List, Mapping, Optional, TypeVar

import numpy as np


MODEL, FULL, GRADIENTS = 0, 1, 2  # the core's tensor sets (SG_TENSORS_*): the model, everything a checkpoint holds, gradients

_Method = TypeVar("_Method", bound=Callable)


def serialised(method: _Method) -> _Method:
    """Runs `method` under the object's lock: calls from several threads happen one at a time, each whole (a
    `state_dict` or `save` never mixes two iterations); the lock is not held between calls. On a closed object,
    ValueError (before any other check of the arguments)."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            if self._handle.closed and method.__name__ != "close":
                raise ValueError(f"the {self._what} is closed")
            return method(self, *args, **kwargs)

    return locked  # type: ignore[return-value]


_MAX_VALUES = 1 << 31  # values in one array given to or made by one call (8 GiB of float32)


def float32_array(value, name: str) -> np.ndarray:
    """`value` as a C-contiguous float32 array (a copy only when it is not one); TypeError for anything that is
    not float32, ValueError for more than 2^31 values (before any copy)."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of float32, got {type(value).__name__}")
    if value.dtype != np.float32:
        raise TypeError(f"{name} must have dtype float32, got {value.dtype}")
    if value.size > _MAX_VALUES:
        raise ValueError(f"{name} holds {value.size} values (shape {list(value.shape)}), more than one call takes "
                         f"(2^31): pass smaller batches")
    return np.ascontiguousarray(value)


def parse_lines(text: str, separator: str = "=") -> Dict[str, str]:
    """"key=value" lines (the core's configuration and scalar texts) as a dict."""
    return dict(line.split(separator, 1) for line in text.splitlines() if line)


class Engine:
    """An object that owns a handle of the core: closed with `close()` or a `with` block, usable from several threads
    (one call at a time), computing on `threads` threads."""

    _what = "engine"  # how messages name it

    def __init__(self, handle) -> None:
        self._lock = threading.RLock()
        self._handle = handle
        self._names: List[str] = [handle.tensor_info(FULL, i)[0] for i in range(handle.tensor_count(FULL))]
        self._model_count = handle.tensor_count(MODEL)

    # ---- lifetime ----------------------------------------------------------

    @serialised
    def close(self) -> None:
        """Frees the engine; later calls raise ValueError."""
        self._handle.close()

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- threads -------------------------------------------------------------

    @property
    def threads(self) -> int:
        """Threads this object computes on (set it to change; 0 or None: the default, OMP_NUM_THREADS if the
        environment sets it, else the cores available)."""
        return self._handle.threads()

    @threads.setter
    def threads(self, count: Optional[int]) -> None:
        count = 0 if count is None else count
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
            raise TypeError(f"threads must be an int, got {type(count).__name__}")
        with self._lock:
            if self._handle.closed:
                raise ValueError(f"the {self._what} is closed")
            self._handle.set_threads(int(np.clip(count, -(1 << 31), (1 << 31) - 1)))  # the core checks the range

    # ---- tensors by name -------------------------------------------------------

    def _config_lines(self) -> Dict[str, str]:
        return parse_lines(self._handle.config())

    def _read(self, index: int, which: int = FULL) -> np.ndarray:
        _, shape = self._handle.tensor_info(which, index)
        out = np.empty(shape, dtype=np.float32)
        self._handle.tensor_read(which, index, out)
        return out

    def _tensors(self, indices) -> "OrderedDict[str, np.ndarray]":
        return OrderedDict((self._names[i], self._read(i)) for i in indices)

    def _write(self, state: Mapping[str, np.ndarray], indices, strict: bool) -> None:
        """Writes the tensors of `state` whose names are those of `indices` (`num_batches_tracked` entries are
        ignored); with `strict`, every name must be there and no other. The core checks every shape and value and
        writes all or nothing."""
        wanted = {self._names[i]: i for i in indices}
        given = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
        if strict:
            missing, unknown = sorted(set(wanted) - set(given)), sorted(set(given) - set(wanted))
            if missing or unknown:
                raise KeyError(f"state does not match the model: missing {missing}, unknown {unknown}")
        pairs = []
        for key, value in given.items():
            if key not in wanted:
                continue
            array = np.asarray(value)
            if array.dtype.kind != "f":
                raise TypeError(f"{key}: expected floating-point values (float32), got {array.dtype}")
            with np.errstate(over="ignore"):
                converted = np.ascontiguousarray(array, dtype=np.float32)
            if array.dtype != np.float32 and np.isfinite(array).all() and not np.isfinite(converted).all():
                raise ValueError(f"{key}: holds values beyond float32's range (largest magnitude "
                                 f"{float(np.abs(array).max()):g}), which overflow to inf")
            pairs.append((wanted[key], converted))
        self._handle.tensor_write(FULL, pairs)
