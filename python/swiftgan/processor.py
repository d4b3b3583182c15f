"""The processor's instruction sets, and the OpenBLAS kernels chosen from them before the core is loaded.

OpenBLAS (Debian's 0.3.21, which the core links) chooses its kernels once, when it is loaded: the ones
`OPENBLAS_CORETYPE` names, else those of its table's entry for the processor's model. A processor newer than the
table gets its SSE3 "Prescott" kernels whatever instructions it has: on an Intel Xeon family 6 model 207 (AVX-512,
AMX) those run a 2048² sgemm at 49 GFLOP/s against 310 for its AVX-512 "SkylakeX" ones, and an FID of two 10,000 × 2048
feature sets in 12.7 s against 3.9 s; AMD's Zen 5 is past the table as well. So the package decides from
the instruction sets, which every processor reports, not from the model: the AVX-512 kernels where the processor
has AVX-512 F, CD, BW, DQ and VL (what OpenBLAS's own check for them asks), the AVX2 ones where it has AVX2 and
FMA, and OpenBLAS's choice otherwise. A user's `OPENBLAS_CORETYPE` is always kept.

This is the one thing the package decides before the core exists: the core cannot, since OpenBLAS has chosen by
the time any of the core's code runs. A Swift program that links the core directly sets `OPENBLAS_CORETYPE` itself.
"""
from __future__ import annotations

import contextlib
import os
from typing import FrozenSet, Iterator, MutableMapping, Optional

#: OpenBLAS's kernels by the instruction sets they need (Linux's /proc/cpuinfo names), best first, with the cores
#: OpenBLAS names that run them or better (its "Zen" runs the Haswell kernels, "Cooperlake" and "SapphireRapids"
#: the SkylakeX ones with bfloat16 products added).
OPENBLAS_KERNELS = (
    ("SkylakeX", frozenset({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}),
     frozenset({"skylakex", "cooperlake", "sapphirerapids"})),
    ("Haswell", frozenset({"avx2", "fma"}),
     frozenset({"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"})),
)


def instruction_sets(cpuinfo: str = "/proc/cpuinfo") -> FrozenSet[str]:
    """The first processor's flags in `cpuinfo` (Linux lists only those its kernel lets programs use: AVX-512 only
    where it saves the AVX-512 registers), or an empty set where there is no such file."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "flags":
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def openblas_kernels(flags: FrozenSet[str]) -> Optional[str]:
    """The best of `OPENBLAS_KERNELS` that `flags` allow, or None (OpenBLAS's own choice stands)."""
    return next((name for name, needed, _ in OPENBLAS_KERNELS if needed <= flags), None)


@contextlib.contextmanager
def openblas_kernels_chosen(environ: MutableMapping[str, str] = os.environ,
                            cpuinfo: str = "/proc/cpuinfo") -> Iterator[Optional[str]]:
    """Within the block, `OPENBLAS_CORETYPE` names the kernels for this processor's instruction sets, unless the
    user set it; afterwards the environment is as it was (processes started later choose for themselves when they
    import the package). Yields the kernels chosen here, or None when the user's or OpenBLAS's choice stands."""
    chosen = None if "OPENBLAS_CORETYPE" in environ else openblas_kernels(instruction_sets(cpuinfo))
    if chosen is None:
        yield None
        return
    environ["OPENBLAS_CORETYPE"] = chosen
    try:
        yield chosen
    finally:
        environ.pop("OPENBLAS_CORETYPE", None)


def kernels_warning(chosen: Optional[str], loaded: str) -> Optional[str]:
    """What to tell the user when OpenBLAS was loaded (by another library, before the package) with other kernels
    than those chosen for this processor, or None."""
    if chosen is None or loaded.lower() in next(good for name, _, good in OPENBLAS_KERNELS if name == chosen):
        return None
    return (f"OpenBLAS was loaded before swiftgan and runs its {loaded!r} kernels, where this processor's instruction "
            f"sets allow {chosen!r}: matrix products (dense layers, FID's covariances) run slower than they could. "
            f"Set OPENBLAS_CORETYPE={chosen} before Python starts, or import swiftgan first")
