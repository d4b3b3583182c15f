"""What the core describes and measures, beside any GAN: its catalogue of losses, penalties and architectures,
the statistics a training step reports, the kernels it runs on, and the kernel-time profile."""
from __future__ import annotations

from collections import OrderedDict
from typing import Dict, Optional

from . import _native


def _catalogue(what: int) -> "OrderedDict[str, str]":
    return OrderedDict(line.split("\t", 1) for line in _native.catalogue(what).splitlines() if line)


def profile(enable: Optional[bool] = None, reset: bool = False) -> Dict[str, float]:
    """Seconds the core spent per kind of kernel since profiling started (or the last reset): convolution,
    convolution_backward_data (also the transposed convolutions' forward pass), convolution_backward_weights,
    matrix_product, batch_norm, elementwise, optimizer; other_core (the tape, allocation and copies: calls'
    time outside kernels) and core (the calls' total). The rest of a step's wall time is Python and the ABI.

    Profiling is off unless SWIFTGAN_PROFILE=1 is set in the environment or `enable=True` is passed (each
    kernel then reads a clock twice); `reset=True` zeroes the times after reading them.
    """
    if enable is not None:
        _native.profile_set_enabled(bool(enable))
    times = {name: float(seconds) for name, seconds in (line.split("\t") for line in _native.profile_read().splitlines())}
    if reset:
        _native.profile_reset()
    return times


def kernels() -> Dict[str, str]:
    """The kernels the libraries under the core run on this processor: {"openblas": the core OpenBLAS chose when
    it was loaded ("SkylakeX", "Haswell", ...; see `swiftgan.processor`), "onednn": the instruction set oneDNN's
    convolutions use ("AVX-512 with AMX", "AVX2", ...; `ONEDNN_MAX_CPU_ISA` lowers it)}."""
    return dict(line.split("\t", 1) for line in _native.kernels().splitlines() if line)


def losses() -> "OrderedDict[str, str]":
    """Every objective `GAN(loss=...)` accepts, with its formula. Any of them takes penalty
    suffixes (see `penalties()`), e.g. "RaLSGAN-GP" or "RpSGAN-avg-R1"."""
    return _catalogue(0)


def penalties() -> "OrderedDict[str, str]":
    """Every penalty suffix a loss name can carry, with its formula and weight option."""
    return _catalogue(1)


def architectures() -> "OrderedDict[str, str]":
    """Every architecture `GAN(arch=...)` accepts, with its layer sequence."""
    return _catalogue(2)


# A step's statistics, in the order the core writes them (its one list, `StepStats.fields`): name -> meaning.
STATISTICS: "OrderedDict[str, str]" = OrderedDict(line.split("\t", 1) for line in _native.stat_names().splitlines() if line)
_STAT_NAMES = tuple(STATISTICS)
